"""The unbroken run of time whose requests were all read: shared by the crawler (where its backfill goes
on from) and the site (from when a figure may count), so both agree on what has been seen whole.

Each interval is [start, end) as ISO times: a crawl's listing covers the 24 hours before it, a
backfill window the dates it asked for. The run ends with the latest end and goes back while the
intervals touch or overlap; a gap ends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache

from vocabulary import iso, parse_moment

REQUESTS_WINDOW = timedelta(hours=24)  # what each crawl's listing asks for: the day before it


def read_whole(crawl: str, method: str, page: int | None, outcome: str, error: str | None, target: str | None
               ) -> tuple[str, str] | None:
    """The interval one call read whole, or None: a crawl's first page of GET requests covers the day before the
    crawl (or, from a server that ignores the date filter, what its target says its answer covered), a backfill call
    (its first page) the window in its target; not when it failed, or was cut at the server's cap (error, on the
    first page)."""
    if outcome != "ok" or error is not None:
        return None
    if method == "requests" and page in (1, None):
        if target and "/" in target:
            start, end = target.split("/", 1)
            return start, end
        return _listed_since(crawl), crawl
    if method == "backfill" and page in (1, None) and target and "/" in target:  # its first page says for its window
        start, end = target.split("/", 1)
        return start, end
    return None


@lru_cache(maxsize=1 << 12)
def _listed_since(crawl: str) -> str:
    """Where a crawl's listing begins: the same for every endpoint of a crawl, so worked out once."""
    return iso(parse_moment(crawl) - REQUESTS_WINDOW)


def covered_since(intervals: Iterable[tuple[str, str]]) -> str | None:
    """The start of the run of covered time that ends with the latest end; None without any interval."""
    ordered = sorted(intervals, key=lambda i: i[1], reverse=True)
    if not ordered:
        return None
    since = ordered[0][0]
    for start, end in ordered[1:]:
        if end < since:
            break  # a gap: nothing before it is known to be whole
        since = min(since, start)
    return since


def covered_through(intervals: Iterable[tuple[str, str]]) -> str | None:
    """The end of that run: the latest end."""
    return max((end for _, end in intervals), default=None)


def merged(intervals: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same covered time as fewer intervals: those that touch or overlap made one. covered_since and covered_through
    answer the same of both; a crawler that notes an interval every crawl keeps its list short this way."""
    out: list[tuple[str, str]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
