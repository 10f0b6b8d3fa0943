"""The probe history a day at a time.

The figures that need single calls (latency, conformance, comprehensiveness, failures, charts)
look back at most 30 days; older days only feed the long windows (uptime over 90 and 365 days,
the status bar, outages) and the last known service count. So each day of crawls gives:

- the status of each of its crawls (records/status.py), and each endpoint's last service count;
- for the last RAW_DAYS days, every call too, as a table (history.frames.calls_frame).

A day is read from its day file (a crawl's lines are all in the file of the day it began), or, once its
month is archived (records/archive.py), from the month's Parquet file, read once for all its days, column by
column. Either way a day's calls come in the archive's order (by endpoint, crawl and call) and are keyed by
the size of the day file they came from, so a day reads the same, and stays in the cache, across a
compaction. The days to read are shared among the machine's cores.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from history.cache import VERSION
from history.frames import calls_frame
from records import archive
from records.layout import day_path
from records.read import probe_lines
from records.status import statuses
from records.terse import Line, columns, probed_at
from vocabulary import STAMP

RAW_DAYS = 31


def first_raw_day(now: datetime) -> date:
    """The first of the days whose calls are kept, not only their statuses."""
    return now.date() - timedelta(days=RAW_DAYS - 1)


def key_of(data_dir: Path, day: date) -> list[int]:
    """What a kept day must match to be reused: the layout's version and the size of its day file (as its archived
    month recorded it, once archived)."""
    path = day_path(data_dir, "probes", day)
    if path.exists():
        return [VERSION, path.stat().st_size]
    month = archived_month(data_dir, day)
    return [VERSION, archive.days_of(month).get(day.isoformat(), (0, 0))[0] if month else 0]


def archived_month(data_dir: Path, day: date) -> Path | None:
    """The archived month of probes a day is in, if that month is archived."""
    path = archive.month_path(data_dir, "probes", day.isoformat()[:7])
    return path if path.exists() else None


def read_day(item: tuple[Path, date, bool]) -> dict[str, Any]:
    """One day of crawls read from its day file: statuses, last service counts, and its calls when raw."""
    data_dir, day, raw = item
    path = day_path(data_dir, "probes", day)
    problems: list[str] = []
    lines = probe_lines(path, problems) if path.exists() else []
    return day_of_lines(key_of(data_dir, day), lines, problems, raw)


def read_archived(item: tuple[Path, list[tuple[date, bool]]]) -> list[dict[str, Any]]:
    """Days of one archived month (each with whether it is raw), read from the month's file at once."""
    month, days = item
    cols = archive.probe_days(month, [day for day, _ in days])
    sizes = archive.days_of(month)
    return [day_of_columns([VERSION, sizes.get(day.isoformat(), (0, 0))[0]], cols[day], [], raw) for day, raw in days]


@functools.cache
def no_day() -> dict[str, Any]:
    """A day without a day file (shared: nothing changes a day once made)."""
    return day_of_lines([VERSION, 0], [], [], raw=True)


def day_of_lines(key: list[int], lines: list[Line], problems: list[str], raw: bool) -> dict[str, Any]:
    """A day from its probe lines: every crawl's status, each endpoint's last service count, and, for a
    raw day, the calls as a table (in the archive's order: by endpoint and crawl, each line's calls in order)."""
    return day_of_columns(key, columns(sorted(lines, key=lambda line: (line.endpoint, line.crawl))), problems, raw)


def day_of_columns(key: list[int], cols: dict[str, list[Any]], problems: list[str], raw: bool) -> dict[str, Any]:
    """A day from its calls, column by column (records.terse.columns)."""
    services: dict[str, tuple[tuple[str, int], int]] = {}
    for endpoint, crawl, after, method, outcome, items in zip(cols["endpoint"], cols["crawl"], cols["probed_at"], cols["method"],
                                                             cols["outcome"], cols["items"]):
        stamp = (crawl, after)  # in time order: one day's crawls, each as seconds after its start
        if method == "services" and outcome == "ok" and items is not None and (
                endpoint not in services or services[endpoint][0] <= stamp):
            services[endpoint] = (stamp, items)
    return {"key": key, "problems": problems, "statuses": crawl_statuses(cols), "calls": calls_frame(cols) if raw else None,
            "services": {e: (probed_at(crawl, after), n) for e, ((crawl, after), n) in services.items()}}


def crawl_statuses(cols: dict[str, list[Any]]) -> pd.DataFrame:
    """endpoint, crawl, status, failure of each crawl among the calls (records.terse's columns), sorted by
    endpoint and time."""
    keys = list(zip(cols["endpoint"], cols["crawl"]))
    crawls = sorted(set(keys))
    number = {k: i for i, k in enumerate(crawls)}
    crawl = np.fromiter((number[k] for k in keys), dtype=np.int64, count=len(keys))
    order = np.lexsort((np.asarray(cols["probed_at"], dtype=np.int64), crawl))  # each crawl's calls in time order
    found = statuses(crawl, len(crawls), cols["method"], cols["outcome"], order, cols["page"], cols["elapsed_ms"])
    return pd.DataFrame({
        "endpoint": pd.Series([e for e, _ in crawls], dtype=object),
        "crawl": pd.to_datetime(pd.Series([c for _, c in crawls], dtype=object), utc=True, format=STAMP),
        "status": found.status, "failure": found.failure})


def on_the_cores(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """function of each item: in turn, or shared among the cores when there are many (a build without its cache)."""
    workers = min(os.cpu_count() or 1, 4)
    if len(items) < 8 or workers < 2:
        return [function(item) for item in items]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(function, items, chunksize=4)
