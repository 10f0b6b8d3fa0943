"""From when an endpoint's requests history is complete: the unbroken run of time its listings covered.

Each successful first page of GET requests in a crawl covers the day before that crawl (from a server that
ignores the date filter, what its answer covered: its target), each whole backfill window its dates
(records.coverage.read_whole). The run that ends with the latest such listing, followed back while each older
listing reaches the start of the newer one, is what has been seen whole: requests_since is its start, through
its end. A day without a crawl breaks the run, so it is never counted as a day without requests; a figure over a window uses only its covered part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from records import iso
from records.coverage import REQUESTS_WINDOW, covered_since, covered_through


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

    def window(self, now: datetime, span: timedelta) -> dict[str, str | float] | None:
        """The covered part of the span before now as a page says it: {since, until, days, span_days}; None
        when none of it is covered. A figure over the span counts only this part, and divides by its days."""
        part = self.part_of(now, span)
        if part is None:
            return None
        return {"since": iso(part[0]), "until": iso(part[1]), "days": round((part[1] - part[0]) / pd.Timedelta(days=1), 2),
                "span_days": round(span / timedelta(days=1), 2)}


def requests_coverage(calls: pd.DataFrame, now: datetime) -> Coverage:
    """The run of covered time of one endpoint's calls up to now: its crawls' full listings and its backfill's whole
    windows. The calls that read whole are those of records.coverage.read_whole (tests hold the two to the same
    answer); here they are picked out column by column, for a year's build reads a month of every endpoint's calls."""
    ok = calls[(calls["outcome"] == "ok") & calls["error"].isna() & (calls["crawl"] <= pd.Timestamp(now))]
    first = ok["page"].isna() | (ok["page"] == 1)
    windowed = ok["target"].str.contains("/", na=False)  # a backfill window, or what a listing that ignored its dates covered
    listings = ok[(ok["method"] == "requests") & first & ~windowed]
    ends = _ns(listings["crawl"].drop_duplicates())
    targets = ok.loc[ok["method"].isin(["backfill", "requests"]) & first & windowed, "target"].str.split("/", n=1, expand=True)
    intervals = list(zip((ends - REQUESTS_WINDOW // timedelta(microseconds=1) * 1000).tolist(), ends.tolist()))
    if len(targets):
        bounds = [_ns(pd.to_datetime(targets[n], utc=True)) for n in (0, 1)]
        intervals += list(zip(bounds[0].tolist(), bounds[1].tolist()))
    since, through = covered_since(intervals), covered_through(intervals)
    return Coverage(pd.Timestamp(since, tz="UTC") if since is not None else None,
                    pd.Timestamp(through, tz="UTC") if through is not None else None)


def _ns(times: pd.Series) -> np.ndarray:
    """UTC times as nanoseconds, whatever resolution the column has."""
    out: np.ndarray = times.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype("int64")
    return out
