"""The probe history as the build reads it: a day at a time, each day kept between builds.

The figures that need single calls (latency, conformance, comprehensiveness, failures, charts)
look back at most 30 days; older days only feed the long windows (uptime over 90 and 365 days,
the status bar, outages) and the last known service count. So each day of crawls gives:

- the status of each of its crawls (metrics/rules.py), and each endpoint's last service count;
- for the last RAW_DAYS days, every call too, column by column.

A day is read from its day file and the next one (a v1 crawl that starts before midnight ends
after it), and with --cache kept in the cache directory, reused while both files keep their size:
day files only ever grow, so a changed file is a longer one. The days to read are shared among
the machine's cores. A cached build and a fresh one give the same site.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from metrics.status import calls_frame, crawl_statuses
from records.layout import day_path
from records.read import probe_columns
from records.terse import COLUMNS

VERSION = 2  # bump when what a day holds changes
RAW_DAYS = 31
EPOCH = pd.Timestamp(0, tz="UTC")


@dataclass
class History:
    """The probe history of the lookback before now."""

    probes: pd.DataFrame  # every call of the crawls of the last RAW_DAYS days (metrics.status.calls_frame)
    statuses: pd.DataFrame  # endpoint, crawl, status, failure: every crawl of the lookback, sorted
    service_counts: dict[str, tuple[str, int]]  # endpoint -> (probed_at, items) of its last service list before the raw days
    problems: list[str] = field(default_factory=list)


def first_raw_day(now: datetime) -> date:
    return now.date() - timedelta(days=RAW_DAYS - 1)


def load(data_dir: str | Path, now: datetime, lookback: timedelta, cache_dir: str | Path | None = None) -> History:
    """The days from now - lookback to now's day, each from the cache when it is still good."""
    data_dir = Path(data_dir)
    cache = Path(cache_dir) if cache_dir else None
    raw_from = first_raw_day(now)
    days = [(now - lookback).date() + timedelta(days=n) for n in range((now.date() - (now - lookback).date()).days + 1)]
    wanted = [(data_dir, day, day >= raw_from) for day in days]
    found = {day: _cached(cache, data_dir, day, raw) for _, day, raw in wanted} if cache else {}
    missing = [w for w in wanted if found.get(w[1]) is None]
    for (_, day, _), aggregate in zip(missing, _map(_aggregate, missing)):
        found[day] = aggregate
        if cache and aggregate["key"][1]:
            _store(cache, day, aggregate)
    if cache:
        _prune(cache, days[0], raw_from)

    statuses: dict[str, list[Any]] = {"endpoint": [], "crawl": [], "status": [], "failure": []}
    calls: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    counts: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    for day in days:
        aggregate = found[day]
        for name, values in aggregate["statuses"].items():
            statuses[name] += values
        if day >= raw_from:
            for name, values in aggregate["calls"].items():
                calls[name] += values
        else:
            for endpoint, (stamp, items) in aggregate["services"].items():
                if endpoint not in counts or counts[endpoint][0] <= stamp:
                    counts[endpoint] = (stamp, items)
        problems += aggregate["problems"]
    frame = pd.DataFrame({"endpoint": statuses["endpoint"], "crawl": pd.to_datetime(statuses["crawl"], unit="s", utc=True),
                          "status": statuses["status"], "failure": pd.Series(statuses["failure"], dtype=object)})
    frame = frame.sort_values(["endpoint", "crawl"], kind="stable").reset_index(drop=True)
    return History(calls_frame(calls), frame, counts, problems)


def _map(function: Any, items: list[Any]) -> list[Any]:
    """Each item in turn, or shared among the cores when there are many (a build without its cache)."""
    workers = min(os.cpu_count() or 1, 4)
    if len(items) < 8 or workers < 2:
        return [function(item) for item in items]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(function, items, chunksize=4)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _key(data_dir: Path, day: date) -> list[int]:
    return [VERSION, _size(day_path(data_dir, "probes", day)), _size(day_path(data_dir, "probes", day + timedelta(days=1)))]


def _aggregate(item: tuple[Path, date, bool]) -> dict[str, Any]:
    """One day of crawls read from its day files: statuses, last service counts, and its calls when raw."""
    data_dir, day, raw = item
    key = _key(data_dir, day)
    problems: list[str] = []
    calls: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for n, path in enumerate([day_path(data_dir, "probes", day), day_path(data_dir, "probes", day + timedelta(days=1))]):
        if path.exists():
            seen: list[str] = []
            part = probe_columns(path, seen, crawl_day=day.isoformat())
            problems += seen if n == 0 else []  # the next day's problems are reported with it
            for name, values in part.items():
                calls[name] += values
    frame = calls_frame(calls)
    statuses = crawl_statuses(frame)
    services = {}
    ok = frame[(frame["method"] == "services") & (frame["outcome"] == "ok") & frame["items"].notna()]
    for endpoint, stamp, items in zip(ok["endpoint"], ok["probed_at"], ok["items"]):
        if endpoint not in services or services[endpoint][0] <= stamp:
            services[endpoint] = (stamp, int(items))
    return {
        "key": key, "problems": problems,
        "statuses": {"endpoint": statuses["endpoint"].astype(str).tolist(),
                     "crawl": ((statuses["crawl"] - EPOCH) // pd.Timedelta(seconds=1)).tolist(),
                     "status": statuses["status"].tolist(),
                     "failure": [f if isinstance(f, str) else None for f in statuses["failure"]]},
        "services": {e: [s.strftime("%Y-%m-%dT%H:%M:%SZ"), n] for e, (s, n) in services.items()},
        "calls": calls if raw else None,
    }


def _path(cache: Path, day: date) -> Path:
    return cache / "days" / f"{day.isoformat()}.json"


def _cached(cache: Path, data_dir: Path, day: date, raw: bool) -> dict[str, Any] | None:
    key = _key(data_dir, day)
    if key[1] == 0:
        return {"key": key, "problems": [], "statuses": {}, "services": {}, "calls": {}}  # no crawl was stored that day
    try:
        aggregate = json.loads(_path(cache, day).read_text())
    except (OSError, ValueError):
        return None  # missing or broken: only a miss
    if not isinstance(aggregate, dict) or aggregate.get("key") != key or (raw and aggregate.get("calls") is None):
        return None
    return aggregate


def _store(cache: Path, day: date, aggregate: dict[str, Any]) -> None:
    path = _path(cache, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(aggregate, separators=(",", ":"), ensure_ascii=False))
    tmp.replace(path)


def _prune(cache: Path, first: date, raw_from: date) -> None:
    """Days before the lookback go; days before the raw ones drop their calls (only their statuses are read again)."""
    for path in sorted((cache / "days").glob("*.json")):
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        if day < first:
            path.unlink()
        elif day < raw_from and path.stat().st_size > 1 << 16:
            try:
                aggregate = json.loads(path.read_text())
            except ValueError:
                continue
            if aggregate.get("calls") is not None:
                _store(cache, day, {**aggregate, "calls": None})
