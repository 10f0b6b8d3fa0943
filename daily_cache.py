"""Daily aggregates of older probe records, cached between builds.

The figures that need single calls (latency, conformance, comprehensiveness, failures, charts)
look back at most 30 days. Older days only feed the long windows (uptime over 90 and 365 days,
the status bar, outages) and the last known service count, so for each day before the last
RAW_DAYS the build keeps just that: the status of each crawl (metrics/rules.py) and each
endpoint's last service count. A day's aggregate is computed once from its day file and the next
one (a crawl that starts before midnight ends after it) and reused while both files keep their
size: day files only ever grow, so a changed file is a longer one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from metrics.status import crawl_statuses, probes_frame
from records import iso
from records.layout import day_path
from records.read import Loaded, read_file

VERSION = 1  # bump when what a day's aggregate holds changes
RAW_DAYS = 31


@dataclass
class Earlier:
    """What the days before `since` left behind: crawl statuses and the last service counts."""

    since: pd.Timestamp  # crawls from this moment on are read raw
    statuses: pd.DataFrame  # endpoint, crawl, status, failure
    service_counts: dict[str, tuple[str, int]]  # endpoint -> (probed_at, items) of its last service list


def first_raw_day(now: datetime) -> date:
    return now.date() - timedelta(days=RAW_DAYS - 1)


def earlier(data_dir: str | Path, cache_dir: str | Path, now: datetime, lookback: timedelta) -> tuple[Earlier, list[str]]:
    """The aggregates of the days in [now - lookback, first raw day), from the cache or computed."""
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    start, stop = (now - lookback).date(), first_raw_day(now)
    rows: list[list[Any]] = []
    counts: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    day = start
    while day < stop:
        aggregate = _day(data_dir, cache_dir, day, problems)
        rows += aggregate["rows"]
        for endpoint, (stamp, items) in aggregate["services"].items():
            if endpoint not in counts or counts[endpoint][0] <= stamp:
                counts[endpoint] = (stamp, items)
        day += timedelta(days=1)
    frame = pd.DataFrame(rows, columns=["endpoint", "crawl", "status", "failure"])
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["failure"] = frame["failure"].astype(object).where(frame["failure"].notna(), None)
    since = pd.Timestamp(datetime.combine(stop, datetime.min.time()), tz="UTC")
    return Earlier(since, frame, counts), problems


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _day(data_dir: Path, cache_dir: Path, day: date, problems: list[str]) -> dict[str, Any]:
    files = [day_path(data_dir, "probes", day), day_path(data_dir, "probes", day + timedelta(days=1))]
    key = [VERSION, *(_size(f) for f in files)]
    if key[1] == 0:
        return {"rows": [], "services": {}}  # no crawl was stored that day
    cached = cache_dir / "days" / f"{day.isoformat()}.json"
    if cached.exists():
        try:
            aggregate = json.loads(cached.read_text())
            if aggregate.get("key") == key:
                return aggregate  # type: ignore[no-any-return]
        except (OSError, ValueError):
            pass  # a broken cache file is only a miss
    loaded = Loaded()
    for f in files:
        if f.exists():
            read_file(f, "probes", loaded)
    problems += [p for p in loaded.problems if str(files[0]) in p]  # the next day's are reported with it
    probes = [p for p in loaded.records["probes"] if p["crawl"][:10] == day.isoformat()]
    aggregate = {"key": key, "rows": [], "services": {}}
    if probes:
        statuses = crawl_statuses(probes_frame(probes))
        aggregate["rows"] = [[e, iso(c), s, f if isinstance(f, str) else None]
                             for e, c, s, f in zip(statuses["endpoint"], statuses["crawl"], statuses["status"], statuses["failure"])]
        for p in sorted(probes, key=lambda p: p["probed_at"]):
            if p["method"] == "services" and p["outcome"] == "ok" and p["items"] is not None:
                aggregate["services"][p["endpoint"]] = [p["probed_at"], p["items"]]
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(aggregate, separators=(",", ":"), sort_keys=True))
    tmp.replace(cached)
    return aggregate
