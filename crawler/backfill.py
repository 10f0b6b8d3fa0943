"""The backfill in one look at an endpoint (crawler/probe.py, step 8): the history before its covered run, a window at a
time, with what budget the rest of the plan left. A function of the Probe that makes the calls."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from crawler.plan import BACKFILL_CALLS, BACKFILL_MIN, BACKFILL_PAGES, WINDOW_FAILED, backfill_span, next_window, slot_of, spread
from records import iso
from records import parse_moment as parse_stamp
from records.coverage import covered_since, read_whole

if TYPE_CHECKING:
    from crawler.probe import Probe


def read_history(probe: Probe, fmt: str) -> None:
    """Read the history before the covered run, a window at a time (its pages where the endpoint pages), with the
    budget the plan left. A window that fails is halved and asked for again, and stepped over once it fails at
    BACKFILL_MIN; a server that ignores the date filter is left alone, but for one window a day (fixed yet?)."""
    if not any(p.method == "requests" and p.outcome == "ok" for p in probe.result.probes):
        return  # GET requests fails as a whole now: a failing window would say nothing of the window
    if probe.filter_ignored:
        listing_says_so = any(p.method == "requests" and "date_filter_ignored" in p.findings for p in probe.result.probes)
        if listing_says_so or slot_of(probe.crawl_time) != spread(probe.endpoint.id):
            return
        probe.filter_ignored = False  # the day's one window: does the server honour the filter now?
    probe.covered += [i for p in probe.result.probes if p.method == "requests"
                     and (i := read_whole(p.crawl, p.method, p.page, p.outcome, p.error, p.target))]
    # Nothing read whole yet (a listing cut at the server's cap): the backfill reads from now, in smaller windows.
    since = covered_since(probe.covered + probe.skipped) or iso(probe.crawl_time)
    target, window, end = probe.crawl_time - backfill_span(probe.endpoint), probe.window, parse_stamp(since)
    if probe.floor is not None:
        target = max(target, probe.floor)  # a window ending there was refused: the server keeps nothing older
    for _ in range(BACKFILL_CALLS):
        if end <= target or probe.stopped or not probe.budget.allows() or window < timedelta(minutes=1):
            return
        start = max(target, end - window)
        params = {**probe.base, **probe.extensions, "start_date": iso(start), "end_date": iso(end)}
        listed = probe.pages("backfill", fmt, params, "backfill", BACKFILL_PAGES, target=f"{iso(start)}/{iso(end)}")
        if listed is None:
            if probe.stopped or probe.result.probes[-1].outcome not in WINDOW_FAILED:
                return  # out of budget, rate limited, or refused (a 4xx: where its history ends, crawler/memory.py)
            if end - start <= BACKFILL_MIN:
                probe.skipped.append((iso(start), iso(end)))  # never readable: the covered run stays broken here
                end = start
            window = next_window(probe.endpoint, window, 0, False, failed=True)
            continue
        if probe.filter_ignored:
            return
        window = next_window(probe.endpoint, window, len(listed), probe.cut)
        if probe.cut:
            continue
        probe.covered.append((iso(start), iso(end)))
        end = start
