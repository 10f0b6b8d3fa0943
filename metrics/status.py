"""Endpoint status per crawl, and the windows computed from it.

The statuses come with the history (history/: the rule is records/status.py's); these are the
figures of them: uptime, crawl counts, the status bar, outages, and the crawl schedule.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from records import iso
from vocabulary import CADENCE, STATUSES, moment

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90),
           "365d": timedelta(days=365)}




def schedule(crawls: list[dict[str, Any]], now: datetime, span: timedelta) -> dict[str, Any]:
    """The cron slots in (now - span, now]: how many had a crawl, and how late crawls started.

    A slot without a crawl is a gap: the endpoints' status for it is unknown, never down.
    """
    start = now - span
    slots = int(span / CADENCE)
    made = {c["scheduled"] for c in crawls if iso(start) < c["scheduled"] <= iso(now)}
    late = sorted(
        (moment(c["crawl"]) - moment(c["scheduled"])).total_seconds()
        for c in crawls if iso(start) < c["scheduled"] <= iso(now)
    )
    median = None
    if late:
        middle = len(late) // 2
        median = late[middle] if len(late) % 2 else (late[middle - 1] + late[middle]) / 2
    return {"slots": slots, "crawled": min(len(made), slots), "skipped": max(0, slots - len(made)), "late_median_s": median}


STATUS_CODES = {s: i for i, s in enumerate(STATUSES)}  # a status as a number, for numpy
STATUS_BAR_DAYS = 90


def status_figures(statuses: pd.DataFrame, now: datetime, days: int = STATUS_BAR_DAYS, ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every figure of the crawl statuses, for every endpoint at once (a year of a hundred endpoints
    is 1.75 million crawls): {endpoint: {"status", "last_checked", "uptime", "crawl_counts",
    "status_days", "outages"}}. statuses: endpoint, crawl, status, failure, each endpoint's crawls in
    time order; ids: the endpoints to give figures for (default: those with crawls). The windows are
    (now - span, now]; unknown and maintenance crawls are counted apart, never as down or up."""
    statuses = statuses[statuses["crawl"] <= pd.Timestamp(now)]
    names = sorted(set(statuses["endpoint"].unique()) if ids is None else ids)
    codes = pd.Categorical(statuses["endpoint"], categories=names).codes.astype("int64")
    order = np.argsort(codes, kind="stable")  # by endpoint, each endpoint's crawls still in time order
    ep = codes[order]
    status = pd.Categorical(statuses["status"], categories=list(STATUS_CODES)).codes.astype("int64")[order]
    failure = statuses["failure"].to_numpy(dtype=object)[order]
    n, k = len(names), len(STATUS_CODES)
    planned = status == STATUS_CODES["maintenance"]  # down inside a declared window (metrics/maintenance.py)
    known = (status != STATUS_CODES["unknown"]) & ~planned
    now_ns = np.datetime64(pd.Timestamp(now).tz_convert(None), "ns")
    crawl_ns = statuses["crawl"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")[order]
    out: dict[str, dict[str, Any]] = {name: {"status": "unknown", "last_checked": None, "uptime": {}, "crawl_counts": {}, "watched": {}}
                                      for name in names}
    first = np.r_[True, ep[1:] != ep[:-1]] if n else np.zeros(0, bool)
    watched_since = {names[ep[i]]: crawl_ns[i] for i in np.flatnonzero(first)}  # each endpoint's first crawl, whatever it found
    for window, span in WINDOWS.items():
        inside = crawl_ns > now_ns - np.timedelta64(int(span.total_seconds()), "s")
        counts = np.bincount(ep[inside] * k + status[inside], minlength=k * n).reshape(n, k)
        for i, name in enumerate(names):
            known_n = counts[i, :3].sum()
            out[name]["uptime"][window] = round(float((counts[i, 0] + counts[i, 1]) / known_n), 4) if known_n else None
            out[name]["crawl_counts"][window] = {s: int(counts[i, c]) for s, c in STATUS_CODES.items()}
            out[name]["watched"][window] = _watched(watched_since.get(name), now_ns, span)
    last = np.r_[ep[1:] != ep[:-1], True] if n else np.zeros(0, bool)
    for at in np.flatnonzero(last):
        out[names[ep[at]]]["status"] = list(STATUS_CODES)[status[at]]
        out[names[ep[at]]]["last_checked"] = iso(pd.Timestamp(crawl_ns[at], tz="UTC"))
    # The status bar: one entry per UTC day ending with now's day, oldest first.
    first_day = np.datetime64(pd.Timestamp(now).tz_convert(None).normalize(), "D") - np.timedelta64(days - 1, "D")
    day = (crawl_ns.astype("datetime64[D]") - first_day).astype("int64")
    bar = known & (day >= 0)
    cell = ep[bar] * days + day[bar]
    crawls = np.bincount(cell, minlength=n * days).reshape(n, days)
    down = np.bincount(cell, weights=(status[bar] == STATUS_CODES["down"]), minlength=n * days).reshape(n, days).astype("int64")
    degraded = np.bincount(cell, weights=(status[bar] == STATUS_CODES["degraded"]), minlength=n * days).reshape(n, days).astype("int64")
    in_bar = planned & (day >= 0)
    kept = np.bincount(ep[in_bar] * days + day[in_bar], minlength=n * days).reshape(n, days)  # maintenance crawls
    labels = [(first_day + np.timedelta64(d, "D")).item().isoformat() for d in range(days)]
    for i, name in enumerate(names):
        out[name]["status_days"] = [
            {"day": labels[d], "uptime": round(float((crawls[i, d] - down[i, d]) / crawls[i, d]), 4) if crawls[i, d] else None,
             "crawls": int(crawls[i, d]), "down": int(down[i, d]), "degraded": int(degraded[i, d]), "maintenance": int(kept[i, d])}
            for d in range(days)]
        out[name]["outages"] = []
    # Outages are runs of down crawls; a maintenance crawl ends one (it is not down), and runs of them are listed too,
    # as maintenance. Unknown crawls neither start nor end either.
    seen = known | planned
    _outages(out, names, ep[seen], crawl_ns[seen], status[seen] == STATUS_CODES["down"], failure[seen], now)
    _outages(out, names, ep[seen], crawl_ns[seen], planned[seen], failure[seen], now, maintenance=True)
    for name in names:
        out[name]["outages"].sort(key=lambda o: o["start"], reverse=True)
    return out


def _watched(since: np.datetime64 | None, end: np.datetime64, span: timedelta) -> dict[str, Any] | None:
    """The part of a window (end - span, end] the endpoint was watched in, from its first crawl, as a page says it:
    {since, until, days, span_days}, the shape of metrics.coverage.Coverage.window; None when it was not watched yet.
    A window longer than the history is a figure over the history, and says so."""
    start = end - np.timedelta64(int(span.total_seconds()), "s")
    if since is None or since > end:
        return None
    begin = max(since, start)
    return {"since": iso(pd.Timestamp(begin, tz="UTC")), "until": iso(pd.Timestamp(end, tz="UTC")),
            "days": round(float((end - begin) / np.timedelta64(1, "s")) / 86400, 2), "span_days": round(span / timedelta(days=1), 2)}


def _outages(out: dict[str, dict[str, Any]], names: Any, ep: np.ndarray, crawl: np.ndarray, down: np.ndarray, failure: np.ndarray,
             now: datetime, maintenance: bool = False) -> None:
    """Runs of down crawls of one endpoint (or, with maintenance, of its maintenance crawls): from the first to the next
    known crawl that was not one (end None while it lasts; its duration then runs to now), with the most frequent
    failure class of the run. Unknown crawls neither start nor end an outage."""
    same_as_next = np.r_[ep[1:] == ep[:-1], False]
    starts = np.flatnonzero(down & ~np.r_[False, down[:-1] & same_as_next[:-1]])
    for start in starts[::-1]:
        stop = start
        while stop + 1 < len(down) and same_as_next[stop] and down[stop + 1]:
            stop += 1
        end = pd.Timestamp(crawl[stop + 1], tz="UTC") if same_as_next[stop] else None
        failures = [f if isinstance(f, str) else "unknown" for f in failure[start:stop + 1]]
        out[names[ep[start]]]["outages"].append(_outage(pd.Timestamp(crawl[start], tz="UTC"), end, failures, now, maintenance))


def outages(statuses: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """The outages of one endpoint's statuses (status_figures)."""
    found: list[dict[str, Any]] = _of_one_endpoint(statuses, now, "outages")
    return found


def _of_one_endpoint(statuses: pd.DataFrame, now: datetime, name: str, days: int = STATUS_BAR_DAYS) -> Any:
    """A figure of one endpoint's statuses (status_figures)."""
    ids = [str(e) for e in statuses["endpoint"].unique()] or ["-"]
    assert len(ids) == 1, "the statuses of one endpoint"
    return status_figures(statuses, now, days, ids)[ids[0]][name]


def _outage(start: pd.Timestamp, end: pd.Timestamp | None, failures: list[str], now: datetime, maintenance: bool) -> dict[str, Any]:
    counts = Counter(failures)  # not pandas: a year of a hundred endpoints has some 15,000 outages
    most = max(counts.values())
    top = min(f for f, n in counts.items() if n == most)  # ties: alphabetical, so the output is reproducible
    until = end if end is not None else pd.Timestamp(now)
    return {"start": iso(start), "end": iso(end) if end is not None else None,
            "duration_s": int((until - start).total_seconds()), "failure": top, "crawls": len(failures), "maintenance": maintenance}




def in_window(times: pd.Series, now: datetime, span: timedelta) -> pd.Series:
    """(now - span, now]: a crawl at exactly now counts, one at exactly now - span does not."""
    return (times > pd.Timestamp(now - span)) & (times <= pd.Timestamp(now))


def uptime(statuses: pd.DataFrame, now: datetime, span: timedelta) -> float | None:
    """Share of one endpoint's known crawls in (now - span, now] that were not down; None without any."""
    window = next(name for name, s in WINDOWS.items() if s == span)
    share: float | None = _of_one_endpoint(statuses, now, "uptime")[window]
    return share


def window_counts(statuses: pd.DataFrame, now: datetime) -> dict[str, dict[str, int]]:
    """One endpoint's crawls per status in each window (status_figures)."""
    counts: dict[str, dict[str, int]] = _of_one_endpoint(statuses, now, "crawl_counts")
    return counts
