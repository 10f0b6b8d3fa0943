"""The history, as the site is computed from it: one immutable History, read once.

    from history import load
    history = load("data", now, cache_dir=".build-cache")

Each kind of record is read only as far back as a figure can depend on it (LOOKBACK), and only up
to now: the build's cost follows the windows, not the length of the history. The probes are read a
day at a time (history/days.py): every crawl's status for the whole year, and the calls of the last
31 days; with a cache directory each day is kept between builds (history/cache.py), and without
one the days are shared among the cores. A corrupt line is said in problems (FILE:LINE) and
skipped; it never stops a build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from history import cache
from history.days import archived_month, first_raw_day, key_of, no_day, on_the_cores, read_archived, read_day
from history.frames import CATEGORIES, crawl_statuses, probes_frame
from records import iso
from records.layout import KINDS, day_path
from records.read import read_data
from vocabulary import STATUSES

# How far back each kind of record can change a figure (the longest window is 365 days; tickets feed
# 7-, 28- and 30-day figures and freshness; the accuracy panel's events 90 days; the twins 30 days,
# their panel rows 30 days after a ticket was requested; registry entries and audits are needed whole).
PROBE_SPAN = timedelta(days=366)  # every crawl's status for a year (each figure's longest window, and a day)
LOOKBACK: dict[str, timedelta | None] = {"probes": PROBE_SPAN, "tickets": timedelta(days=92), "crawls": timedelta(days=8), "endpoints": None,
            "services": None, "events": timedelta(days=92), "twins": timedelta(days=32), "twin_rows": timedelta(days=62),
            "audits": None, "incidents": timedelta(days=366)}


@dataclass(frozen=True)
class History:
    """Everything the figures are computed from, cut to what they can depend on at now."""

    now: datetime
    calls: pd.DataFrame  # every call of the crawls of the last 31 days (history.frames)
    statuses: pd.DataFrame  # endpoint, crawl, status, failure: every crawl of the last 366 days, by endpoint and time
    service_counts: Mapping[str, tuple[str, int]]  # endpoint -> (probed_at, items): its last service list before those 31 days
    records: Mapping[str, tuple[dict[str, Any], ...]]  # every other kind, read as far back as LOOKBACK says
    problems: tuple[str, ...] = ()  # the lines that were not sound records, as FILE:LINE: why

    @classmethod
    def of(cls, records: Mapping[str, list[dict[str, Any]]], now: datetime) -> History:
        """A history made of records already read, probes included (as records.read gives them), cut to the same
        windows as load() cuts the files: for tests and researchers, the same figures come of it."""
        stamp, raw_from = iso(now), first_raw_day(now).isoformat()
        probes = [p for p in records.get("probes", []) if (now - PROBE_SPAN).date().isoformat() <= p["crawl"] <= stamp]
        counts: dict[str, tuple[str, int]] = {}
        for p in sorted((p for p in probes if p["crawl"] < raw_from), key=lambda p: p["probed_at"]):
            if p["method"] == "services" and p["outcome"] == "ok" and p["items"] is not None:
                counts[p["endpoint"]] = (p["probed_at"], p["items"])
        calls = probes_frame([p for p in probes if p["crawl"] >= raw_from])
        return cls(now, calls, crawl_statuses(probes_frame(probes)), MappingProxyType(counts),
                   _cut({k: v for k, v in records.items() if k != "probes"}, now))


def load(data_dir: str | Path, now: datetime, cache_dir: str | Path | None = None, probe_span: timedelta = PROBE_SPAN,
         kinds: tuple[str, ...] | None = None) -> History:
    """The history in data_dir as of now: the probes a day at a time (from the cache where still good),
    every other kind as far back as LOOKBACK says. probe_span: how far back the statuses go; kinds: the other
    kinds to read (default all; the incidents, which look at a month of statuses and tickets, read less)."""
    data_dir = Path(data_dir)
    problems: list[str] = []
    calls, statuses, counts = _probes(data_dir, now, Path(cache_dir) if cache_dir else None, problems, probe_span)
    records: dict[str, list[dict[str, Any]]] = {}
    for kind, span in LOOKBACK.items():
        if kind != "probes" and (kinds is None or kind in kinds):
            part = read_data(data_dir, since=(now - span).date() if span else None, until=now.date(), kinds=(kind,))
            records[kind] = part.records[kind]
            problems += part.problems
    stamp = pd.Timestamp(now)
    return History(now, calls[calls["crawl"] <= stamp].reset_index(drop=True),
                   statuses[statuses["crawl"] <= stamp].reset_index(drop=True), MappingProxyType(counts), _cut(records, now),
                   tuple(problems))


def _cut(records: Mapping[str, list[dict[str, Any]]], now: datetime) -> Mapping[str, tuple[dict[str, Any], ...]]:
    """Each kind up to now (audits by when they were imported, the rest by their crawl), as tuples."""
    stamp = iso(now)
    out = {kind: tuple(r for r in records.get(kind, []) if r["imported" if kind == "audits" else "crawl"] <= stamp)
           for kind in KINDS if kind != "probes"}
    return MappingProxyType(out)


def _probes(data_dir: Path, now: datetime, cache_dir: Path | None, problems: list[str], span: timedelta
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[str, int]]]:
    """The days from now - 366 days to now's day, each from the cache when it is still good: the last raw
    days' calls, every crawl's status, and the last service counts before the raw days."""
    raw_from = first_raw_day(now)
    first = (now - span).date()
    days = [first + timedelta(days=n) for n in range((now.date() - first).days + 1)]
    keys = {day: key_of(data_dir, day) for day in days}
    found: dict[date, dict[str, Any] | None] = {day: no_day() for day in days if keys[day][1] == 0}  # no crawl was stored that day
    if cache_dir:
        found |= {day: cache.cached(cache_dir, keys[day], day, day >= raw_from) for day in days if day not in found}
    missing = [day for day in days if found.get(day) is None]  # each has a day file, or is in an archived month
    from_files = [(data_dir, day, day >= raw_from) for day in missing if day_path(data_dir, "probes", day).exists()]
    by_month: dict[Path, list[tuple[date, bool]]] = {}
    for day in sorted(set(missing) - {day for _, day, _ in from_files}):
        by_month.setdefault(archived_month(data_dir, day), []).append((day, day >= raw_from))  # type: ignore[arg-type]  # its key was not 0
    read = on_the_cores(read_day, from_files) + [d for part in on_the_cores(read_archived, list(by_month.items())) for d in part]
    for day, got in zip([d for _, d, _ in from_files] + [d for part in by_month.values() for d, _ in part], read):
        found[day] = got
        if cache_dir and got["key"][1]:
            cache.store(cache_dir, day, got)
    if cache_dir:
        cache.prune(cache_dir, days[0], raw_from)
    every = {day: got for day, got in found.items() if got is not None}  # every day, now: from the cache or read
    counts: dict[str, tuple[str, int]] = {}
    for day in days:
        if day < raw_from:
            for endpoint, (stamp, items) in every[day]["services"].items():
                if endpoint not in counts or counts[endpoint][0] <= stamp:
                    counts[endpoint] = (stamp, items)
        problems += every[day]["problems"]
    calls = pd.concat([every[day]["calls"] for day in days if day >= raw_from], ignore_index=True)
    for column in CATEGORIES:  # each day has its own categories
        calls[column] = calls[column].astype("category")
    return calls, _statuses([every[day]["statuses"] for day in days]), counts


def _statuses(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The days' statuses as one table, by endpoint, each endpoint's crawls in time order."""
    endpoint = pd.Categorical(np.concatenate([part["endpoint"].to_numpy(dtype=object) for part in parts]))
    order = np.argsort(endpoint.codes, kind="stable")  # each endpoint's crawls are already in time order
    return pd.DataFrame({
        "endpoint": endpoint.take(order),
        "crawl": pd.DatetimeIndex(np.concatenate([cache.seconds(part["crawl"]) for part in parts])[order], tz="UTC"),
        "status": pd.Categorical(np.concatenate([part["status"].to_numpy(dtype=object) for part in parts])[order], categories=STATUSES),
        "failure": np.concatenate([part["failure"].to_numpy(dtype=object) for part in parts])[order]})
