"""The whole history as Parquet, for researchers: one file per record kind and month, typed and zstd-compressed.

    downloads/<kind>-<YYYY-MM>.parquet      e.g. probes-2026-11.parquet, events-2026-11.parquet

A month's file holds the records of the day files of that month (data/<kind>/<YYYY>/<YYYY-MM-DD>.jsonl),
with the columns of data/README.md in its order: times as UTC timestamps (whole seconds, stored as milliseconds:
Parquet has no seconds), days as dates, repeated text (endpoint, method, outcome, status...) as dictionaries,
whole numbers as integers, nested values (a probe's findings, a twin day's counts) as JSON text. Probes come one row per call, in the order of
their endpoint, crawl and call; the other kinds in the order they were written. A line that is not a sound
record is left out, as the build leaves it out. The file's metadata (open311-status.days) lists the day files it was
made of, with their sizes and rows. A month already archived in data/archive/ (history/archive.py) is that file.

With a cache directory, a month whose day files have not changed since (names and sizes: they only
grow) is copied from there rather than written again: a past month is written once.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import shutil
import types
import typing
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from history.tables import TIMES, nested
from history.tables import columns as column_names
from records import archive, terse
from records.archive import DAYS_KEY
from records.layout import KINDS, dumps
from records.methods import METHODS
from records.read import Loaded, day_of_file, probe_lines, read_file
from records.types import RECORD_TYPES

FORMAT = 2  # of the files: a change here makes every cached month be written again
DATES = {"day", "date"}
# Text that is mostly different on every row: kept plain; all other text is a dictionary (few distinct values).
UNIQUE_TEXT = {"id", "target", "error", "notes", "reason", "source", "base_url"}
TIME = pa.timestamp("s", tz="UTC")
# A probe's findings, a twin day's counts and columns, an endpoint's location and retirement (tables.nested): JSON
# text, keys sorted, as in data/ (what every reader takes: DuckDB's ->> and json_extract, pandas, Frictionless' object).
NESTED_FIELDS = {kind: nested(kind) for kind in KINDS}


def _options(target: pa.Schema) -> dict[str, Any]:
    """zstd; times delta-encoded (sorted, they differ by little), every other column with a dictionary where it pays."""
    times = [f.name for f in target if f.type in (TIME, pa.date32())]
    return {"compression": "zstd", "compression_level": 9, "use_dictionary": [f.name for f in target if f.name not in times],
            "column_encoding": {name: "DELTA_BINARY_PACKED" for name in times}, "write_statistics": True}


def _arrow_type(kind: str, name: str, hint: Any) -> pa.DataType:
    if name in NESTED_FIELDS[kind]:
        return pa.string()
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = [t for t in typing.get_args(hint) if t is not type(None)] if union else [hint]
    plain = options[0] if len(options) == 1 else hint
    if name in TIMES and plain is str:
        return TIME
    if name in DATES and plain is str:
        return pa.date32()
    if plain is bool:
        return pa.bool_()
    if plain is int:
        return pa.int64() if name == "bytes" else pa.int32()
    if plain is float or set(options) == {int, float}:
        return pa.float64()
    if plain is str:
        return pa.string() if name in UNIQUE_TEXT else pa.dictionary(pa.int32(), pa.string())
    raise TypeError(f"{kind}.{name}: no Parquet type for {hint}")


def schema(kind: str) -> pa.Schema:
    """A kind's Arrow schema: the fields of its record type (records/types.py), in order, typed."""
    hints = typing.get_type_hints(RECORD_TYPES[kind])
    return pa.schema([pa.field(name, _arrow_type(kind, name, hints[name]), nullable=True) for name in column_names(kind)])


SCHEMAS = {kind: schema(kind) for kind in KINDS}


def months(data_dir: str | Path, kind: str) -> dict[str, list[Path]]:
    """The day files of a kind by month (YYYY-MM), in order; files that are no day file are not read."""
    by_month: dict[str, list[Path]] = defaultdict(list)
    for path in sorted((Path(data_dir) / kind).glob("*/*.jsonl")):
        day = day_of_file(path)
        if day is not None:
            by_month[day.isoformat()[:7]].append(path)
    return dict(by_month)


def read_month(kind: str, paths: list[Path], problems: list[str]) -> list[list[Any]]:
    """Each of these day files' sound probe lines (probes) or records (every other kind), in their order; each line
    that is not sound is said in problems."""
    if kind == "probes":
        return [probe_lines(path, problems) for path in paths]
    per_file = []
    for path in paths:
        loaded = Loaded()
        read_file(path, kind, loaded)
        problems.extend(loaded.problems)
        per_file.append(loaded.records[kind])
    return per_file


def month_table(kind: str, paths: list[Path], problems: list[str], per_file: list[list[Any]] | None = None) -> pa.Table:
    """The records of these day files of one kind as one typed table, which says in its metadata what it was made of:
    each day file's day and size, and how many rows it gave (records/archive.py reads a day at a time by them).
    per_file: what read_month gave of them, when they have been read already."""
    if per_file is None:
        per_file = read_month(kind, paths, problems)
    if kind == "probes":
        rows = [sum(len(line.calls) for line in lines) for lines in per_file]
        made = probe_table([line for lines in per_file for line in lines])
    else:
        rows = [len(records) for records in per_file]
        made = records_table(kind, [r for records in per_file for r in records])
    days = [[day_of_file(path).isoformat(), path.stat().st_size, n] for path, n in zip(paths, rows)]  # type: ignore[union-attr]  # months() keeps day files only
    return made.replace_schema_metadata({DAYS_KEY: json.dumps(days, separators=(",", ":"))})


def records_table(kind: str, records: list[dict[str, Any]]) -> pa.Table:
    """Records of any kind but probes as one typed table, in their order."""
    target = SCHEMAS[kind]
    columns = {}
    for f in target:
        values = [r.get(f.name) for r in records]
        columns[f.name] = _array(values, f.type, f.name in NESTED_FIELDS[kind])
    return pa.table(columns, schema=target)


def probe_table(lines: list[terse.Line]) -> pa.Table:
    """Probe lines as one row per call, ordered by endpoint, crawl and call (terse.columns gives the calls)."""
    cols = terse.columns(lines)
    order = np.lexsort((np.arange(len(cols["crawl"])), np.asarray(cols["crawl"], dtype=object).astype(str),
                        np.asarray(cols["endpoint"], dtype=object).astype(str))) if cols["crawl"] else np.arange(0)
    crawl = _seconds(cols["crawl"])
    probed = crawl + np.asarray(cols["probed_at"], dtype="int64")
    target = SCHEMAS["probes"]
    columns: dict[str, Any] = {}
    rows = pa.array(order, type=pa.int64())
    for f in target:
        if f.name == "crawl":
            columns[f.name] = pa.array(crawl[order], type=pa.int64()).cast(TIME)
        elif f.name == "probed_at":
            columns[f.name] = pa.array(probed[order], type=pa.int64()).cast(TIME)
        elif f.name == "v":
            columns[f.name] = pa.array(np.ones(len(order), dtype="int32"))  # a call is read as a layout-1 record
        else:  # typed in the calls' order, then put in the table's (Arrow's take, not a Python loop)
            columns[f.name] = _array(cols[f.name], f.type, f.name in NESTED_FIELDS["probes"]).take(rows)
    return pa.table(columns, schema=target)


def _seconds(stamps: list[str]) -> np.ndarray:
    """ISO stamps (records.iso's format) as seconds since 1970; each distinct stamp parsed once."""
    seen: dict[str, int] = {}
    out = np.empty(len(stamps), dtype="int64")
    for i, stamp in enumerate(stamps):
        value = seen.get(stamp)
        if value is None:
            value = seen[stamp] = int(np.datetime64(stamp.rstrip("Z"), "s").astype("int64"))
        out[i] = value
    return out


def _array(values: list[Any], kind: pa.DataType, nested: bool = False) -> pa.Array:
    if kind == TIME:
        seconds = iter(_seconds([v for v in values if v is not None]))
        return pa.array([None if v is None else next(seconds) for v in values], type=pa.int64()).cast(TIME)
    if kind == pa.date32():
        return pa.array([None if v is None else date.fromisoformat(v) for v in values], type=pa.date32())
    if pa.types.is_dictionary(kind):
        return pa.array(values, type=pa.string()).dictionary_encode()
    if nested:  # most calls have no findings: {} is written once, not encoded for each
        return pa.array([None if v is None else dumps(v) if v else "{}" for v in values], type=pa.string())
    return pa.array(values, type=kind)


def fingerprint(kind: str, paths: list[Path]) -> str:
    """What a month's file is made of: its day files' names and sizes (append-only, so they only grow), and FORMAT."""
    text = f"{FORMAT}:{kind}:" + ";".join(f"{p.name}:{p.stat().st_size}" for p in paths)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_table(kind: str, made: pa.Table, path: Path) -> None:
    """A month's table as its file: the same bytes from the same table (the archive and the download are one file)."""
    pq.write_table(made, path, **_options(SCHEMAS[kind]))


def write_month(kind: str, month: str, paths: list[Path], out_dir: Path, problems: list[str], cache: Path | None = None) -> Path:
    """downloads/<kind>-<month>.parquet, from the cache when its day files are unchanged."""
    out = out_dir / f"{kind}-{month}.parquet"
    kept = cache / "parquet" / f"{kind}-{month}.{fingerprint(kind, paths)}.parquet" if cache else None
    if kept is not None and kept.exists():
        shutil.copyfile(kept, out)
        return out
    write_table(kind, month_table(kind, paths, problems), out)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        for stale in kept.parent.glob(f"{kind}-{month}.*.parquet"):
            stale.unlink()
        shutil.copyfile(out, kept)
    return out


def write_all(data_dir: str | Path, out_dir: str | Path, cache: str | Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Every kind's every month into out_dir: (one entry per file written: kind, month, path, rows, bytes, sha256, the
    first and last day the history holds of that month and whether that is less than the whole month; problems). An
    archived month (records/archive.py) is its archive file as it is: the same bytes its day files gave."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    by_kind = {kind: months(data_dir, kind) for kind in KINDS}
    stored = {kind: archive.months(data_dir, kind) for kind in KINDS}
    spans = month_spans(by_kind, stored)
    for kind in KINDS:
        for month in sorted(set(by_kind[kind]) | set(stored[kind])):
            if month in stored[kind]:
                path = out_dir / f"{kind}-{month}.parquet"
                shutil.copyfile(stored[kind][month], path)
            else:
                path = write_month(kind, month, by_kind[kind][month], out_dir, problems, Path(cache) if cache else None)
            entries.append({"kind": kind, "month": month, "path": path.name, "rows": pq.read_metadata(path).num_rows,
                            "bytes": path.stat().st_size, "sha256": sha256(path), **spans[month]})
    return entries, problems


def month_spans(by_kind: dict[str, dict[str, list[Path]]], stored: dict[str, dict[str, Path]] | None = None) -> dict[str, dict[str, Any]]:
    """Per month, the first and last day any kind has a day file of (or had, for an archived month), and whether the
    month is partial: watched from after its first day (the monitor started then) or not to its last (it is not over,
    or the monitor stopped). The same for every kind of the month, for a kind written only when something changed may
    have no file of a quiet day."""
    days: dict[str, list[date]] = defaultdict(list)
    for by_month in by_kind.values():
        for month, paths in by_month.items():
            days[month] += [d for d in map(day_of_file, paths) if d is not None]
    for files in (stored or {}).values():
        for month, path in files.items():
            days[month] += [date.fromisoformat(d) for d in archive.days_of(path)]
    out = {}
    for month, held in days.items():
        first, last = min(held), max(held)
        whole = first.day == 1 and last.day == calendar.monthrange(last.year, last.month)[1]
        out[month] = {"first_day": first.isoformat(), "last_day": last.isoformat(), "partial": not whole}
    return out


def sha256(path: Path) -> str:
    """A file's SHA-256, as the manifest gives it, read a megabyte at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _field_type(kind: str, field: pa.Field, hint: Any) -> str:
    """The Table Schema type of a column: nested values by what the JSON text holds."""
    if field.name in NESTED_FIELDS[kind]:
        return "array" if list in {typing.get_origin(t) for t in (hint, *typing.get_args(hint))} else "object"
    if field.type == TIME:
        return "datetime"
    if field.type == pa.date32():
        return "date"
    if pa.types.is_boolean(field.type):
        return "boolean"
    if pa.types.is_integer(field.type):
        return "integer"
    return "number" if pa.types.is_floating(field.type) else "string"


def table_schema(kind: str) -> dict[str, Any]:
    """A kind's Frictionless Table Schema, for datapackage.json. Frictionless reads Parquet through pandas, where a
    missing whole number is NaN and a missing time NaT: those are declared missing on the fields that can be null."""
    hints = typing.get_type_hints(RECORD_TYPES[kind])
    fields = []
    for f in SCHEMAS[kind]:
        kind_of = _field_type(kind, f, hints[f.name])
        field: dict[str, Any] = {"name": f.name, "type": kind_of}
        if kind == "probes" and f.name == "method":  # the data dictionary's own words for each value (records/methods.py)
            field["description"] = "The call: " + "; ".join(f"{name}: {words}" for name, words in METHODS.items())
            field["constraints"] = {"enum": list(METHODS)}
        if kind_of in ("integer", "number", "datetime", "date"):
            field["missingValues"] = ["", "nan", "NaT", "None"]
        fields.append(field)
    return {"fields": fields}
