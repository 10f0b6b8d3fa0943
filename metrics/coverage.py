"""From when an endpoint's requests history is complete: the unbroken run of time its listings covered.

Each successful first page of GET requests in a crawl covers the REQUESTS_WINDOW before that crawl
(the crawler asks for the 24 hours before it). The run that ends with the latest such listing,
followed back while each older listing reaches the start of the newer one, is what has been seen
whole: requests_since is its start, through its end. A day without a crawl breaks the run, so it
is never counted as a day without requests; a figure over a window uses only its covered part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from records import iso
from records.coverage import covered_since, covered_through

REQUESTS_WINDOW = timedelta(hours=24)  # what each crawl's listing asks for (crawler/probe.py)


@dataclass(frozen=True)
class Coverage:
    """The unbroken run of time whose requests were all listed: [since, through]; both None when none was."""

    since: pd.Timestamp | None
    through: pd.Timestamp | None

    def part_of(self, now: datetime, span: timedelta) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The covered part of the window (now - span, now], or None when none of it is covered."""
        if self.since is None or self.through is None:
            return None
        start, end = max(self.since, pd.Timestamp(now - span)), min(self.through, pd.Timestamp(now))
        return (start, end) if end > start else None


def requests_coverage(calls: pd.DataFrame, now: datetime) -> Coverage:
    """The run of covered time of one endpoint's calls (records/coverage.py) up to now: its crawls' full listings
    and its backfill's whole windows."""
    calls = calls[(calls["outcome"] == "ok") & (calls["crawl"] <= pd.Timestamp(now))]
    listed = calls[(calls["method"] == "requests") & (calls["page"].isna() | (calls["page"] == 1)) & calls["error"].isna()]
    intervals = [(iso(c - REQUESTS_WINDOW), iso(c)) for c in set(listed["crawl"])]
    windows = calls[(calls["method"] == "backfill") & calls["error"].isna()]
    intervals += [tuple(str(t).split("/", 1)) for t in windows["target"] if "/" in str(t)]
    since = covered_since(intervals)
    through = covered_through(intervals)
    return Coverage(pd.Timestamp(since) if since else None, pd.Timestamp(through) if through else None)
