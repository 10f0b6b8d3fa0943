"""What a look at one endpoint may do, as plain values: the plan of a crawl and the plan of a contributor's check are
two values of one Plan (crawler/probe.py follows it), and the pure arithmetic the plan's steps share: pages, windows,
turns and draws.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawler import parse
from registry import Endpoint
from vocabulary import CRAWLS_PER_DAY

PAGE_SIZES = {10, 20, 25, 50, 100, 200, 250, 500, 1000}  # without a registry limit: a page of exactly this many is probably cut
MAX_PAGES = 3
# A listed request asked for alone each crawl (two until crawler 0.6.0: one is enough to time the method, and the history
# grows a fifth slower).
LOOKUPS = 1
MAX_DEFINITIONS = 3
FOLLOW_PER_CRAWL = 50  # panel tickets asked for in the one call that follows them
RECHECKS_PER_CRAWL = 20  # of which at most this many rechecks of closed tickets
CONFIRMS = 3  # panel tickets missing from that call, asked for alone
LATER_CALLS = MAX_DEFINITIONS + 2  # calls the confirmations leave for definitions, discovery and the other format
BACKFILL_SPAN = timedelta(days=90)  # the spec's default window of GET requests: the history a city keeps to hand
BACKFILL_WINDOW = timedelta(days=1)  # a call's window; halved while answers reach the cap
BACKFILL_CALLS = 4  # windows at most, per crawl: the ordinary calls come first, and the rest of the history waits a crawl
BACKFILL_PAGES = 5  # a window's pages at most (where the endpoint pages); a window fuller than that is halved
SPEC_CAP = 1000  # the spec's cap on one answer
BACKFILL_MIN = timedelta(minutes=15)  # a window that fails even this short is stepped over (bad data on the server)
WINDOW_FAILED = {"http_5xx", "timeout", "too_large", "parse", "schema", "not_open311"}  # a shorter window may do
UPDATED_WINDOW = timedelta(hours=6)  # updated_after reaches back this far: late or skipped crawls lose nothing
RETRIED = {"dns", "connect", "tls", "timeout", "http_5xx", "not_open311", "parse", "schema", "too_large"}  # not 4xx: a refusal
FORMAT_TROUBLE = {"http_4xx", "not_open311", "parse", "schema"}  # the other format may still work
OTHER = {"json": "xml", "xml": "json"}


@dataclass(frozen=True)
class Plan:
    """What a look at an endpoint does beyond its service list, listing and lookups (crawler/probe.py has the order)."""

    follow: bool = True  # the accuracy panel's tickets followed; without it, whether the endpoint could have a panel
    backfill: bool = True  # the history before the covered run read, with the budget left
    definitions_now: bool = False  # the first MAX_DEFINITIONS service definitions now, not the day's turn of them
    other_format_always: bool = False  # the other format every time, not once a day
    discovery_guessed: bool = False  # where discovery usually is, when the registry names none
    without_key: bool = False  # with a key: GET services once more without it, to say whether it is required


CRAWL = Plan()  # a scheduled crawl's: the panel, the backfill, definitions and the other format in their turn


@dataclass
class Panel:
    """What the accuracy panel asks an endpoint for in one crawl (crawler/memory.py PanelTracks makes it)."""

    open: list[str] = field(default_factory=list)  # tickets last seen open, oldest first
    due: list[str] = field(default_factory=list)  # closed or gone tickets due a recheck, the most overdue first


def backfill_span(endpoint: Endpoint) -> timedelta:
    """How far back the backfill reads: the spec's 90 days, or a day short of the endpoint's documented shorter history
    (a server may count its limit in whole days, or by a clock a little ahead of ours)."""
    if not endpoint.history_days:
        return BACKFILL_SPAN
    return min(BACKFILL_SPAN, timedelta(days=endpoint.history_days - 1))


@dataclass(frozen=True)
class BackfillState:
    """Where an endpoint's backfill stands after its latest call (crawler/memory.py BackfillCursors reads it from the probe lines)."""

    length: timedelta = BACKFILL_WINDOW  # its latest window ...
    items: int = 0  # ... the requests it held ...
    capped: bool = False  # ... and whether it reached the cap
    floor: str | None = None  # the end of the latest window the server refused (a 4xx): its history stops there
    ignored: bool = False  # the latest window was answered with requests outside it: the server ignores the date filter
    failed: bool = False  # the latest window failed (a 5xx, a timeout...): halved like a capped one
    skipped: tuple[tuple[str, str], ...] = ()  # windows that failed at BACKFILL_MIN: stepped over, never read


def next_window(endpoint: Endpoint, length: timedelta, items: int, capped: bool, failed: bool = False) -> timedelta:
    """The window the backfill goes on with after reading `items` requests over `length`: half when they reached the
    cap, or when the window failed (down to BACKFILL_MIN: a server may choke on a long window, or on one bad ticket in
    it); twice (up to BACKFILL_WINDOW) when they were less than half of what a window's pages can hold, so that one
    busy day does not slow the rest of the history; else the same."""
    if failed:
        return max(length / 2, BACKFILL_MIN)
    if capped:
        return length / 2
    room = (endpoint.limit or min(PAGE_SIZES)) * (BACKFILL_PAGES if endpoint.pages else 1)
    return min(length * 2, BACKFILL_WINDOW) if items * 2 < room else min(length, BACKFILL_WINDOW)


def full_page(endpoint: Endpoint, count: int) -> bool:
    """Whether an answer of count requests may have been cut: it holds the endpoint's limit (the registry's,
    or without one a common page size). Fewer than the limit is the whole answer."""
    if endpoint.limit is not None:
        return count >= endpoint.limit
    return count in PAGE_SIZES


def slot_of(moment: datetime) -> int:
    """Which of the day's crawls this is: 0 .. CRAWLS_PER_DAY - 1."""
    return (moment.hour * 60 + moment.minute) * CRAWLS_PER_DAY // (24 * 60)


def definition_codes(services: list[dict[str, Any]]) -> list[str]:
    """The service codes whose service has a definition (metadata=true), sorted."""
    return sorted({str(s["service_code"]) for s in services if parse.is_true(s.get("metadata")) and not parse.blank(s.get("service_code"))})


def due_definitions(codes: list[str], turn: int) -> list[str]:
    """The definitions this crawl asks for: each once a day, a few per crawl (at most
    MAX_DEFINITIONS); a city with more than 144 takes more days to go round."""
    if not codes:
        return []
    per_crawl = min(MAX_DEFINITIONS, math.ceil(len(codes) / CRAWLS_PER_DAY))
    groups = math.ceil(len(codes) / per_crawl)
    group = turn % max(groups, CRAWLS_PER_DAY)
    return codes[group * per_crawl:(group + 1) * per_crawl] if group < groups else []


def spread(endpoint_id: str) -> int:
    """A fixed offset per endpoint, so that daily calls do not all fall in one crawl."""
    return int.from_bytes(hashlib.sha256(endpoint_id.encode()).digest()[:4], "big") % CRAWLS_PER_DAY


def rotating(items: list[str], count: int, turn: int) -> list[str]:
    """count items starting at turn * count, wrapping: consecutive turns cover every item."""
    if not items:
        return []
    start = (turn * count) % len(items)
    picked = [items[(start + i) % len(items)] for i in range(min(count, len(items)))]
    return list(dict.fromkeys(picked))


def drawn(items: list[str], count: int, seed: str) -> list[str]:
    """count of the items, a deterministic draw for this seed, in the items' order."""
    if len(items) <= count:
        return items
    keep = set(sorted(items, key=lambda i: hashlib.sha256(f"{seed}|{i}".encode()).digest())[:count])
    return [i for i in items if i in keep]
