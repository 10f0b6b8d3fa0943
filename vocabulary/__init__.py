"""The project's shared words, each defined once and imported by every layer (this package imports nothing of the
project): the crawl's cadence, the outcome and status words, and how a time is stored and read back. The workflow's
time budget, built on the cadence, is vocabulary/timing.py.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

CADENCE = timedelta(minutes=30)  # the crawl workflow's cron: two runs an hour (tests/test_workflows.py holds it to this)
# GitHub's docs: scheduled runs at the top of the hour are delayed or dropped under load. So the cron is "7,37 * * * *",
# and a crawl's slot is :07 or :37 (crawler.crawl.scheduled_slot).
CRON_OFFSET = timedelta(minutes=7)
CRAWLS_PER_DAY = timedelta(days=1) // CADENCE

# What became of one call (crawler/client.py says when each is given).
OUTCOMES = (
    "ok", "dns", "connect", "tls", "timeout", "http_4xx", "http_5xx", "rate_limited",
    "not_open311", "parse", "schema", "too_large", "refused", "no_key",
)
NOT_SENT = ("refused", "no_key")  # outcomes of calls that were never made: the endpoint's status is unknown
# An endpoint's status for one crawl (records/status.py gives the rule).
STATUSES = ("up", "degraded", "down", "unknown", "maintenance")

STAMP = "%Y-%m-%dT%H:%M:%SZ"  # the one timestamp format of data/: UTC, to the second, with Z


def iso(moment: datetime) -> str:
    """A moment as data/ stores it (also a pandas Timestamp)."""
    return moment.astimezone(timezone.utc).strftime(STAMP)


@lru_cache(maxsize=1 << 14)
def moment(stamp: str) -> datetime:
    """A time as data/ stores it (iso's format) back as a datetime; cached, for the same stamps are read again and again
    (a crawl's panel tickets were seen in a few thousand crawls, and the panel is asked every crawl)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def moment_or_none(stamp: str | None) -> datetime | None:
    """A stored time that may be missing (a ticket without requested_datetime)."""
    return moment(stamp) if stamp else None


def day_of(stamp: str) -> date:
    """The UTC day of a stored time: the day file its record goes to."""
    return date.fromisoformat(stamp[:10])


def parse_moment(text: str) -> datetime:
    """A --now value: ISO 8601, taken as UTC when it has no offset. Raises ValueError."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def parse_now(text: str) -> datetime:
    """--now (or --scheduled) as a moment for argparse, or argparse's own error naming the bad value."""
    try:
        return parse_moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
