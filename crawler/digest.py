"""The crawl's memory of its older days, a digest a day, kept between runs in a folder of its own (the crawl job's
Actions cache), so that a crawl does not decode a quarter of a year of probe lines before it starts.

A day's digest is all that Memory.covered takes of that day's calls: per endpoint, the time its listings read whole,
merged into runs (records/coverage.py: the same covered time), and its backfill calls, whole and in their order (a
backfill goes on from its latest window, so it is replayed call by call). It is reused while its key holds: the
digest's version, and the name and size of the file it was made from (a day file only grows; an archived month is
written once, as history/cache.py reasons too). A digest that is missing, old, or does not read is made again from
data/ and written back: the cache saves time and never decides anything (tests/test_digest.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from records.coverage import merged, read_whole
from records.read import probe_calls, probe_source

VERSION = 1  # bump when what a digest holds, or how it is made, changes
# The calls covered() takes from a day (records.coverage.read_whole) and _note's arguments, in its order.
NOTED = frozenset({"requests", "backfill"})
NOTED_COLUMNS = ("endpoint", "crawl", "method", "page", "outcome", "error", "target", "items", "findings")


class NotedCall(NamedTuple):
    """A call as the crawl's memory notes it: the fields of its probe record that say what it read whole."""

    endpoint: str
    crawl: str
    method: str
    page: int | None
    outcome: str
    error: str | None
    target: str | None
    items: int | None
    findings: dict[str, str]


@dataclass
class Digest:
    """What covered() takes of one day: per endpoint the runs its listings read whole; its backfill calls, in order."""

    intervals: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    backfill: list[NotedCall] = field(default_factory=list)


def digest(cols: dict[str, list[Any]]) -> Digest:
    """A day's digest, from its requests and backfill calls column by column (records.read.probe_calls)."""
    out = Digest()
    for call in (NotedCall(*values) for values in zip(*(cols[n] for n in NOTED_COLUMNS))):
        if call.method == "backfill":
            out.backfill.append(call)
        elif interval := read_whole(call.crawl, call.method, call.page, call.outcome, call.error, call.target):
            out.intervals.setdefault(call.endpoint, []).append(interval)
    out.intervals = {endpoint: merged(runs) for endpoint, runs in out.intervals.items()}
    return out


def source(data_dir: str | Path, day: date) -> tuple[str, int] | None:
    """The name and size of the file a day's probe lines are read from (records.read.probe_source); None without one."""
    path = probe_source(data_dir, day)
    return None if path is None else (path.name, path.stat().st_size)


def digests(data_dir: str | Path, days: list[date], cache: Path | None) -> Iterator[tuple[date, Digest]]:
    """(day, its digest) for each of these days that has probe lines, in their order: from the cache where its key
    holds, else made from data/ (the days missing read together, an archived month once) and kept in the cache. The
    cache keeps only these days."""
    if cache is None:
        for day, cols in probe_calls(data_dir, days, [], NOTED, NOTED_COLUMNS):
            yield day, digest(cols)
        return
    keys = {day: key for day in days if (key := _key(data_dir, day)) is not None}
    kept = {day: d for day in keys if (d := _read(cache, day, keys[day])) is not None}
    made = {day: digest(cols) for day, cols in probe_calls(data_dir, [d for d in days if d in keys and d not in kept], [],
                                                           NOTED, NOTED_COLUMNS)}
    for day in keys.keys() - kept.keys():  # a day with lines but no call noted is kept too, as an empty digest
        _write(cache, day, keys[day], made.setdefault(day, Digest()))
    _forget(cache, set(days))
    for day in days:
        if day in keys:
            yield day, kept[day] if day in kept else made[day]


def _key(data_dir: str | Path, day: date) -> list[Any] | None:
    found = source(data_dir, day)
    return None if found is None else [VERSION, *found]


def _path(cache: Path, day: date) -> Path:
    return cache / f"{day.isoformat()}.json"


def _read(cache: Path, day: date, key: list[Any]) -> Digest | None:
    """A kept digest whose key holds; None for any other file (missing, old, cut short, not ours)."""
    try:
        held = json.loads(_path(cache, day).read_bytes())
        if held["key"] != key:
            return None
        return Digest({e: [(s, t) for s, t in runs] for e, runs in held["intervals"].items()},
                      [NotedCall(*call) for call in held["backfill"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write(cache: Path, day: date, key: list[Any], d: Digest) -> None:
    """Written whole or not at all: a crawl cut short leaves no half digest."""
    cache.mkdir(parents=True, exist_ok=True)
    path = _path(cache, day)
    part = path.with_suffix(".part")
    part.write_text(json.dumps({"key": key, "intervals": d.intervals, "backfill": d.backfill}, ensure_ascii=False))
    os.replace(part, path)


def _forget(cache: Path, days: Iterable[date]) -> None:
    """The digests of days no longer read go: the cache holds the backfill's quarter of a year, never more."""
    keep = {f"{day.isoformat()}.json" for day in days}
    for path in cache.glob("*.json"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
