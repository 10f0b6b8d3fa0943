"""The months already over, as one Parquet file per kind: read back as the same records as their day files.

    data/archive/<kind>/<YYYY-MM>.parquet      e.g. data/archive/probes/2026-11.parquet

Once a month has been over for a few days, its day files are compacted into one file per kind
(history/archive.py writes it: the schema and bytes of the site's monthly download) and removed. Each
file says in its metadata which day files it was made of, with their sizes and how many rows each gave
(DAYS_KEY), so a reader can take a day at a time: the other kinds' rows are in the order they were written,
a day's after the day before's; the probes' are one per call, by endpoint, crawl and call, and a call's day
is its crawl's (a crawl's lines are all in the file of the day it began).

Read back, a record is what records.read gives of its line: times and days as data/'s text, nested values as
dicts and lists, whole numbers as ints. The one thing Parquet does not keep is whether a float field held a whole
number (a call's retry_after_s), which is read back as an int when it is one.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from records import terse
from records.layout import KINDS
from vocabulary import STAMP

DIR = "archive"
DAYS_KEY = b"open311-status.days"  # the file's metadata: [[day, bytes of its day file, rows it gave], ...]
SECONDS = pa.timestamp("s", tz="UTC")


def month_path(data_dir: str | Path, kind: str, month: str) -> Path:
    """Where a kind's archived month lives."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    return Path(data_dir) / DIR / kind / f"{month}.parquet"


def months(data_dir: str | Path, kind: str) -> dict[str, Path]:
    """A kind's archived months (YYYY-MM -> file), in order."""
    found = {}
    for path in sorted((Path(data_dir) / DIR / kind).glob("*.parquet")):
        if len(path.stem) == 7 and path.stem[4] == "-" and path.stem.replace("-", "").isdigit():
            found[path.stem] = path
    return found


def in_span(month: str, since: date | None, until: date | None) -> bool:
    """Whether a month (YYYY-MM) has a day in [since, until]."""
    return not ((since and month < since.isoformat()[:7]) or (until and month > until.isoformat()[:7]))


def days_of(path: Path) -> dict[str, tuple[int, int]]:
    """The day files an archived month was made of: day -> (bytes, rows)."""
    return _days_of(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _days_of(path: str, _mtime: int) -> dict[str, tuple[int, int]]:
    meta = pq.read_metadata(path).metadata or {}
    if DAYS_KEY not in meta:
        raise ValueError(f"{path}: no {DAYS_KEY.decode()} in its metadata: not an archived month")
    return {day: (size, rows) for day, size, rows in json.loads(meta[DAYS_KEY])}


def _value(value: Any, nested: bool) -> Any:
    if nested:
        return None if value is None else json.loads(value)
    return value


def _text(column: pa.ChunkedArray) -> list[Any]:
    """A column as data/ writes it: times and days as ISO text, dictionaries as their strings."""
    if pa.types.is_timestamp(column.type):  # Parquet keeps them as milliseconds: whole seconds, as data/ has them
        column = pc.strftime(column.cast(SECONDS), format=STAMP)
    elif pa.types.is_date32(column.type):
        column = pc.strftime(column, format="%Y-%m-%d")
    elif pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    values: list[Any] = column.to_pylist()
    return values


def read_records(path: Path, kind: str, nested: set[str], since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """The records of an archived month of any kind but probes, of the days in [since, until], in the order written.
    nested: the fields held as JSON text (history.tables.nested)."""
    rows, start = [], 0
    for day, (_, count) in days_of(path).items():
        if (since is None or day >= since.isoformat()) and (until is None or day <= until.isoformat()):
            rows.append((start, count))
        start += count
    if not rows:
        return []
    table = pq.read_table(path)
    table = pa.concat_tables([table.slice(offset, count) for offset, count in rows])
    names = table.column_names
    values = [_text(table.column(name)) for name in names]
    is_nested = [name in nested for name in names]
    return [{name: _value(v[i], n) for name, v, n in zip(names, values, is_nested)} for i in range(table.num_rows)]


def probe_columns(path: Path, since: date | None = None, until: date | None = None) -> dict[str, list[Any]]:
    """The calls of an archived month of probes whose crawl is in [since, until], column by column as
    records.terse.columns gives them (probed_at as seconds after the crawl), in the file's order."""
    table = pq.read_table(path)
    day = pc.strftime(table.column("crawl").cast(SECONDS), format="%Y-%m-%d")
    keep = None
    if since is not None:
        keep = pc.greater_equal(day, since.isoformat())
    if until is not None:
        upto = pc.less_equal(day, until.isoformat())
        keep = upto if keep is None else pc.and_(keep, upto)
    return _columns(table if keep is None else table.filter(keep))


def probe_days(path: Path, days: list[date], methods: frozenset[str] | None = None,
               names: tuple[str, ...] = terse.COLUMNS) -> dict[date, dict[str, list[Any]]]:
    """The calls of each of these days of an archived month of probes (by their crawl's day), as probe_columns
    gives them; the file is read once. Only the calls of `methods` when given, and only the columns named."""
    table = pq.read_table(path, columns=[n for n in pq.read_schema(path).names if n in {*names, "crawl", "method"}])
    if methods is not None:
        table = table.filter(pc.is_in(table.column("method"), pa.array(sorted(methods), pa.string())))
    # Sorted by day once (stable: each day's calls keep the file's order), then a slice a day: not a filter of the
    # whole month for each of its days.
    day = pc.strftime(table.column("crawl").cast(SECONDS), format="%Y-%m-%d").combine_chunks()
    order = pc.array_sort_indices(day)  # stable, as Arrow's sorts are
    table, day = table.take(order), day.take(order)
    wanted, out, start = {d.isoformat() for d in days}, {}, 0
    for run in pc.run_end_encode(day).run_ends.to_pylist():
        text = day[start].as_py()
        if text in wanted:
            out[date.fromisoformat(text)] = _columns(table.slice(start, run - start), names)
        start = run
    empty = _columns(table.slice(0, 0), names)
    return {d: out.get(d, empty) for d in days}


def _columns(table: pa.Table, names: tuple[str, ...] = terse.COLUMNS) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name in names:
        if name == "probed_at":
            crawl = table.column("crawl").cast(SECONDS)
            after = pc.subtract(table.column("probed_at").cast(SECONDS).cast(pa.int64()), crawl.cast(pa.int64()))
            out[name] = after.to_pylist()
        elif name == "findings":
            out[name] = [{} if text in (None, "{}") else json.loads(text) for text in table.column(name).to_pylist()]
        elif name == "retry_after_s":
            out[name] = [int(v) if v is not None and v.is_integer() else v for v in table.column(name).to_pylist()]
        else:
            out[name] = _text(table.column(name))
    return out


def probe_lines(path: Path, since: date | None = None, until: date | None = None) -> list[terse.Line]:
    """An archived month of probes back as its lines: one per endpoint and crawl, calls in their order (the
    carried content type and round trip left out where the call before had the same, as the crawler writes them)."""
    cols = probe_columns(path, since, until)
    lines: list[terse.Line] = []
    key = None
    for i in range(len(cols["crawl"])):
        if (cols["endpoint"][i], cols["crawl"][i], cols["crawler"][i]) != key:
            key = (cols["endpoint"][i], cols["crawl"][i], cols["crawler"][i])
            lines.append(terse.Line(v=terse.LAYOUT, crawl=key[1], endpoint=key[0], crawler=key[2], calls=[]))
            content_type: Any = None  # as records.terse.pack: the first call says its own unless it is null
            rtt: Any = None
        call = {short: cols[name][i] for name, short in terse.SHORT.items() if name not in terse.CARRIED}
        call["c"] = cols["content_type"][i] if cols["content_type"][i] != content_type else msgspec.UNSET
        call["k"] = cols["rtt_ms"][i] if cols["rtt_ms"][i] != rtt else msgspec.UNSET
        content_type, rtt = cols["content_type"][i], cols["rtt_ms"][i]
        lines[-1].calls.append(terse.Call(**call))
    return lines


def probe_records(path: Path, since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """An archived month of probes as probe records (one per call), as records.read gives them."""
    return [record for line in probe_lines(path, since, until) for record in terse.expand(line)]
