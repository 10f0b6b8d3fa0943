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
    """The run of covered time of one endpoint's calls that ends with its latest full listing up to now."""
    listed = calls[(calls["method"] == "requests") & (calls["outcome"] == "ok") & (calls["page"].isna() | (calls["page"] == 1))
                   & (calls["crawl"] <= pd.Timestamp(now))]
    crawls = sorted(set(listed["crawl"]), reverse=True)
    if not crawls:
        return Coverage(None, None)
    since = crawls[0] - REQUESTS_WINDOW
    for crawl in crawls[1:]:
        if crawl < since:
            break  # a gap: nothing before it is known to be whole
        since = min(since, crawl - REQUESTS_WINDOW)
    return Coverage(since, crawls[0])
