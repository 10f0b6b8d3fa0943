"""What each host taught the crawl of its pace, kept from one crawl to the next.

A host that answers 429 allows fewer calls a minute than it was given; within a crawl the client's pacer slows to
the calls a minute it took before refusing (client.Pacer.refused). Forgotten with the client, the lesson was taught
again by every crawl: a refusal a crawl, 48 a day. So it is kept for a day, read back from the probe records (data/
is the crawl's memory from one run to the next): each crawl of that day starts at the pace taught, and a steady host
refuses at most once a day, when the lesson has lapsed and is taught afresh (its limit may have been raised since).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from crawler.client import RATE_WINDOW_S, taught_interval
from records import iso

KEPT = timedelta(days=1)


class Paces:
    """Per endpoint, the slowest pace a refusal of the last day taught (seconds between calls), and when."""

    def __init__(self) -> None:
        self.taught: dict[str, tuple[str, float]] = {}  # endpoint -> (crawl of the refusal, interval)

    def learn(self, endpoint: str, crawl: str, calls: Sequence[tuple[int, str]]) -> None:
        """One endpoint's calls of one crawl, in order, as (seconds after the crawl's start, outcome)."""
        for n, (at, outcome) in enumerate(calls):
            if outcome != "rate_limited":
                continue
            interval = taught_interval([s for s, _ in calls[:n] if s > at - RATE_WINDOW_S])
            if interval is None:
                continue
            was = self.taught.get(endpoint)
            if was is None or was[0] < crawl or (was[0] == crawl and was[1] < interval):
                self.taught[endpoint] = (crawl, interval)

    def at(self, now: datetime) -> dict[str, float]:
        """The paces still kept at now: taught by a refusal less than KEPT before."""
        since = iso(now - KEPT)
        return {endpoint: interval for endpoint, (crawl, interval) in self.taught.items() if since < crawl <= iso(now)}
