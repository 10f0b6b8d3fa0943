"""The probe history as the build reads it: a day at a time, each day kept between builds.

The figures that need single calls (latency, conformance, comprehensiveness, failures, charts)
look back at most 30 days; older days only feed the long windows (uptime over 90 and 365 days,
the status bar, outages) and the last known service count. So each day of crawls gives:

- the status of each of its crawls (records/status.py), and each endpoint's last service count;
- for the last RAW_DAYS days, every call too, column by column.

A day is read from its day file (a crawl's lines are all in the file of the day it began), and
with --cache kept in the cache directory, reused while the file keeps its size: day files only
ever grow, so a changed file is a longer one. The days to read are shared among
the machine's cores. A cached build and a fresh one give the same site.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics.status import calls_frame
from records.layout import day_path
from records.read import probe_lines
from records.status import STATUSES, statuses
from records.terse import Line, columns, probed_at

CATEGORIES = ("endpoint", "method", "outcome", "format")

VERSION = 4  # bump when what a day holds changes
RAW_DAYS = 31


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
    found = {day: _empty() for day in days if _key(data_dir, day)[1] == 0}  # no crawl was stored that day
    if cache:
        found |= {day: _cached(cache, data_dir, day, raw) for _, day, raw in wanted if day not in found}
    missing = [w for w in wanted if found.get(w[1]) is None]
    for (_, day, _), aggregate in zip(missing, _map(_aggregate, missing)):
        found[day] = aggregate
        if cache and aggregate["key"][1]:
            _store(cache, day, aggregate)
    if cache:
        _prune(cache, days[0], raw_from)

    counts: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    for day in days:
        if day < raw_from:
            for endpoint, (stamp, items) in found[day]["services"].items():
                if endpoint not in counts or counts[endpoint][0] <= stamp:
                    counts[endpoint] = (stamp, items)
        problems += found[day]["problems"]
    parts = [found[day]["statuses"] for day in days]
    endpoint = pd.Categorical(np.concatenate([part["endpoint"].to_numpy(dtype=object) for part in parts]))
    order = np.argsort(endpoint.codes, kind="stable")  # by endpoint; each endpoint's crawls are already in time order
    statuses = pd.DataFrame({
        "endpoint": endpoint.take(order),
        "crawl": pd.DatetimeIndex(np.concatenate([_seconds(part["crawl"]) for part in parts])[order], tz="UTC"),
        "status": pd.Categorical(np.concatenate([part["status"].to_numpy(dtype=object) for part in parts])[order], categories=STATUSES),
        "failure": np.concatenate([part["failure"].to_numpy(dtype=object) for part in parts])[order]})
    raw = [found[day]["calls"] for day in days if day >= raw_from]
    probes = pd.concat(raw, ignore_index=True)
    for column in CATEGORIES:  # each day has its own categories
        probes[column] = probes[column].astype("category")
    return History(probes, statuses, counts, problems)


def _seconds(times: pd.Series) -> np.ndarray:
    return times.dt.tz_convert(None).to_numpy().astype("datetime64[s]")


@functools.cache
def _empty() -> dict[str, Any]:
    """The aggregate of a day without a day file (shared: nothing changes an aggregate once made)."""
    return _of([VERSION, 0], [], [], raw=True)


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
    return [VERSION, _size(day_path(data_dir, "probes", day))]


def _aggregate(item: tuple[Path, date, bool]) -> dict[str, Any]:
    """One day of crawls read from its day file: statuses, last service counts, and its calls when raw."""
    data_dir, day, raw = item
    path = day_path(data_dir, "probes", day)
    problems: list[str] = []
    lines = probe_lines(path, problems) if path.exists() else []
    return _of(_key(data_dir, day), lines, problems, raw)


def _of(key: list[int], lines: list[Line], problems: list[str], raw: bool) -> dict[str, Any]:
    """A day's aggregate from its probe lines: every crawl's status (records/status.py), each endpoint's
    last service count, and, for a raw day, the calls as a frame."""
    cols = columns(lines)
    services: dict[str, tuple[tuple[str, int], int]] = {}
    for line in lines:
        for call in line.calls:
            stamp = (line.crawl, call.t)  # in time order: one day's crawls, each as seconds after its start
            if call.m == "services" and call.o == "ok" and call.n is not None and (
                    line.endpoint not in services or services[line.endpoint][0] <= stamp):
                services[line.endpoint] = (stamp, call.n)
    return {"key": key, "problems": problems, "statuses": _statuses(cols), "calls": calls_frame(cols) if raw else None,
            "services": {e: (probed_at(crawl, after), n) for e, ((crawl, after), n) in services.items()}}


def _statuses(cols: dict[str, list[Any]]) -> pd.DataFrame:
    """endpoint, crawl, status, failure of each crawl among the calls, sorted by endpoint and time."""
    keys = list(zip(cols["endpoint"], cols["crawl"]))
    crawls = sorted(set(keys))
    number = {k: i for i, k in enumerate(crawls)}
    crawl = np.fromiter((number[k] for k in keys), dtype=np.int64, count=len(keys))
    order = np.lexsort((np.asarray(cols["probed_at"], dtype=np.int64), crawl))  # each crawl's calls in time order
    found = statuses(crawl, len(crawls), cols["method"], cols["outcome"], order, cols["page"], cols["elapsed_ms"])
    return pd.DataFrame({
        "endpoint": pd.Series([e for e, _ in crawls], dtype=object),
        "crawl": pd.to_datetime(pd.Series([c for _, c in crawls], dtype=object), utc=True, format="%Y-%m-%dT%H:%M:%SZ"),
        "status": found.status, "failure": found.failure})


# The cache: a file per part and day, a line of JSON (the key, text columns' distinct values,
# findings, ...) then one numpy record array of every column as numbers (text as codes into its
# values). Read back with np.frombuffer: nothing in a cache file can run code, and a day is one read.
def _path(cache: Path, part: str, day: date) -> Path:
    """days/DAY: a day's statuses, service counts and problems; calls/DAY: its calls, while it is a raw day."""
    return cache / part / f"{day.isoformat()}.bin"


def _encode(frame: pd.DataFrame, extra: dict[str, Any]) -> bytes:
    arrays, meta = {}, {**extra, "values": {}, "times": [], "findings": {}}
    for name in frame.columns:
        column = frame[name]
        if name == "findings":
            meta["findings"] = {i: f for i, f in enumerate(column) if f}
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            arrays[name] = _seconds(column).astype("int64")
            meta["times"].append(name)
        elif column.dtype.kind in "iufb":
            arrays[name] = column.to_numpy()
        else:  # text, with None
            codes, values = pd.factorize(column.astype(object), use_na_sentinel=True)
            arrays[name] = codes.astype("int32")
            meta["values"][name] = [str(v) for v in values]
    table = np.rec.fromarrays(list(arrays.values()), names=list(arrays)) if arrays else np.zeros(0)
    meta["dtype"], meta["rows"], meta["columns"] = table.dtype.descr, len(frame), list(frame.columns)
    return json.dumps(meta, ensure_ascii=False).encode() + b"\n" + table.tobytes()


def _decode(body: bytes) -> tuple[pd.DataFrame, dict[str, Any]]:
    head, _, rest = body.partition(b"\n")
    meta = json.loads(head)
    table = np.frombuffer(rest, dtype=np.dtype([tuple(field) for field in meta["dtype"]]), count=meta["rows"])
    columns: dict[str, Any] = {}
    for name in meta["columns"]:
        if name == "findings":
            sparse = {int(i): f for i, f in meta["findings"].items()}
            columns[name] = [sparse.get(i, {}) for i in range(meta["rows"])]
        elif name in meta["values"]:
            values = np.asarray(meta["values"][name] + [None], dtype=object)
            columns[name] = values[table[name]]  # code -1: the None at the end
        elif name in meta["times"]:
            columns[name] = pd.DatetimeIndex(table[name].astype("datetime64[s]"), tz="UTC")
        else:
            columns[name] = table[name].copy()
    return pd.DataFrame(columns, index=pd.RangeIndex(meta["rows"])), meta


def _read(path: Path, key: list[int]) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    try:
        frame, meta = _decode(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # missing or broken: only a miss
    return (frame, meta) if meta.get("key") == key else None


def _cached(cache: Path, data_dir: Path, day: date, raw: bool) -> dict[str, Any] | None:
    key = _key(data_dir, day)
    days = _read(_path(cache, "days", day), key)
    if days is None:
        return None
    statuses, meta = days
    aggregate = {"key": key, "problems": meta["problems"], "services": meta["services"], "statuses": statuses, "calls": None}
    if raw:
        calls = _read(_path(cache, "calls", day), key)
        if calls is None:
            return None
        aggregate["calls"] = calls[0]
    return aggregate


def _store(cache: Path, day: date, aggregate: dict[str, Any]) -> None:
    parts = {"days": _encode(aggregate["statuses"], {k: aggregate[k] for k in ("key", "problems", "services")})}
    if aggregate["calls"] is not None:
        parts["calls"] = _encode(aggregate["calls"], {"key": aggregate["key"]})
    for part, body in parts.items():
        path = _path(cache, part, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(body)
        tmp.replace(path)


def _prune(cache: Path, first: date, raw_from: date) -> None:
    """Days before the lookback go, and the calls of days before the raw ones (only their statuses are read again)."""
    for part, before in (("days", first), ("calls", raw_from)):
        for path in (cache / part).glob("*"):
            try:
                if date.fromisoformat(path.stem) < before:
                    path.unlink()
            except ValueError:
                continue
