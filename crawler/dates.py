"""Whether a server honours the date filter of GET requests: checked from its answers, never trusted.

Some servers answer start_date and end_date with whatever they like: FixMyStreet once ORed the two, which
returned "the same result as if they were not present" (mysociety/fixmystreet#310). Taken at its word, such
an answer looks like a window read whole (a short one), or like a window cut at the cap again and again (a
full one), and the request rate comes out wrong or not at all. So each listing of a crawl is checked:

- a request outside the dates asked for (neither requested nor updated within them, give or take
  FILTER_SLACK: a date read in the wrong time zone is no further off), or
- a request listed by two windows of the crawl that do not overlap (off their shared edge)

means the filter is ignored. What a listing covers is then what its answer says of itself (covered_by).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from records import TicketRecord, iso, parse_moment

FILTER_SLACK = timedelta(hours=14)  # the widest time zone


@dataclass(frozen=True)
class Window:
    """One listing of a crawl (all its pages): the dates it asked for, and what it answered."""

    start: str
    end: str
    tickets: tuple[TicketRecord, ...]
    cut: bool  # it may hold more than it gave (its pages reached the limit)


def ignored(window: Window, earlier: list[Window]) -> str | None:
    """What shows that the server ignored the dates this window asked for (a finding's example), or None."""
    low, high = iso(parse_moment(window.start) - FILTER_SLACK), iso(parse_moment(window.end) + FILTER_SLACK)
    outside = sorted(t.requested for t in window.tickets if t.requested and not low <= t.requested <= high
                     and not (t.updated and low <= t.updated <= high))  # some servers filter on updated_datetime
    if outside:
        return f"asked {window.start} to {window.end}; got requests from {outside[0]} to {outside[-1]}"
    mine = {t.id: t for t in window.tickets}
    for other in earlier:
        if other.start < window.end and window.start < other.end:
            continue  # overlapping windows may list the same requests
        edge = (max(window.start, other.start), min(window.end, other.end))  # the instant both include, if they touch
        both = [i for i in (t.id for t in other.tickets) if i in mine
                and not ((at := mine[i].requested) and edge[0] <= at <= edge[1])]
        if both:
            return f"{window.start} to {window.end} and {other.start} to {other.end} both listed {both[0]}"
    return None


def covered_by(window: Window, now: datetime, default_span: timedelta) -> tuple[str, str]:
    """What a listing from a server that ignores the date filter covers: short of the limit, it is the server's whole
    default answer (the spec's 90 days, or the registry's shorter history); at the limit, everything from its oldest
    request to now (nothing newer was left out)."""
    stamp = iso(now)
    oldest = min((t.requested for t in window.tickets if t.requested), default=stamp)
    since = oldest if window.cut else iso(now - default_span)
    return min(since, stamp), stamp
