"""The history as tables, for researchers: pandas DataFrames and one SQLite file.

    from history.tables import frame
    probes = frame("data", "probes", since="2026-11-01", until="2026-11-30")
    catalogue = frame("data", "services")          # service types as first listed, changed or gone
    events = frame("data", "events", since="2026-09-01")   # the accuracy panel's ticket events

Any kind of data/README.md can be asked for: probes, tickets, events, services, endpoints, crawls,
twins, twin_rows, audits. since and until are days (inclusive, by day file); times come as UTC
pandas Timestamps, nested values (a probe's findings, a twin day's counts) as dicts. A line that
is not a sound record is left out, as the build leaves it out (`problems` lists them).

    python -m history.tables --data data --out open311-status.sqlite [--since DAY] [--until DAY]

writes the same tables into one SQLite file (nested values as JSON text), for SQL and Datasette.
The site publishes one with every kind for the days the build reads, the probes of the last 31 days.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from records.layout import KINDS
from records.read import NESTED, read_data
from records.types import RECORD_TYPES
from vocabulary import STAMP

TIMES = {"crawl", "probed_at", "requested", "updated", "expected", "closed", "scheduled", "finished", "imported", "start", "end"}


def nested(kind: str) -> set[str]:
    """A kind's fields that hold a dict or a list (a probe's findings, a twin day's counts): JSON text in a table."""
    return NESTED[kind]


def columns(kind: str) -> list[str]:
    """A kind's columns in the order of data/README.md, so every table reads the same."""
    return [f.name for f in dataclasses.fields(RECORD_TYPES[kind])]


def _day(value: str | date | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def frame(data_dir: str | Path, kind: str, since: str | date | None = None, until: str | date | None = None,
          problems: list[str] | None = None) -> pd.DataFrame:
    """One kind of record as a DataFrame, its columns in the order of data/README.md."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    loaded = read_data(data_dir, since=_day(since), until=_day(until), kinds=(kind,))
    if problems is not None:
        problems.extend(loaded.problems)
    return to_frame(kind, loaded.records[kind])


def to_frame(kind: str, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records as a DataFrame with typed columns: times as UTC timestamps, nested values as dicts."""
    table = pd.DataFrame.from_records(records, columns=columns(kind))
    for name in TIMES & set(table.columns):
        table[name] = pd.to_datetime(table[name], utc=True, format="ISO8601")
    return table


def write_sqlite(records: dict[str, list[dict[str, Any]]], path: str | Path, probes: pd.DataFrame | None = None) -> dict[str, int]:
    """One table per kind, nested values as JSON text; returns the rows per table. probes, when
    given, is the probes table as a frame (metrics.status.calls_frame), instead of records["probes"]."""
    path = Path(path)
    path.unlink(missing_ok=True)
    counts = {}
    with sqlite3.connect(path) as db:
        for kind in KINDS:
            names = columns(kind)
            as_json = nested(kind)
            db.execute(f'CREATE TABLE "{kind}" ({", ".join(f"{n!r}" for n in names)})')
            insert = f'INSERT INTO "{kind}" VALUES ({", ".join("?" * len(names))})'
            if kind == "probes" and probes is not None:
                counts[kind] = _insert_frame(db, insert, probes, names)
                continue
            rows = records.get(kind, [])  # in the order read: day files in order, lines as written, so the file is the same each build
            db.executemany(insert, ([_cell(r.get(n)) if n in as_json else r.get(n) for n in names] for r in rows))
            counts[kind] = len(rows)
        for kind, key in (("probes", "endpoint, probed_at"), ("tickets", "endpoint, id"), ("events", "endpoint, id"),
                          ("twin_rows", "endpoint, id")):
            db.execute(f'CREATE INDEX "{kind}_by_{key.split(", ")[-1]}" ON "{kind}" ({key})')
    db.close()
    return counts


def _insert_frame(db: sqlite3.Connection, insert: str, table: pd.DataFrame, names: list[str]) -> int:
    """A frame's rows as the records they stand for: times as ISO text, nulls as NULL, findings as JSON."""
    values = []
    for name in names:
        column = table[name] if name in table else pd.Series([1] * len(table), index=table.index)  # v: the records' layout
        if name in ("crawl", "probed_at"):
            codes, moments = pd.factorize(column)  # far fewer moments than calls: each formatted once
            values.append(np.asarray(pd.DatetimeIndex(moments).strftime(STAMP))[codes].tolist())
        elif name == "findings":
            values.append([_cell(f) if f else "{}" for f in column])
        else:
            values.append([None if v is None or v != v else v for v in column.astype(object)])
    for name in ("http_status", "elapsed_ms", "bytes", "items", "page", "attempt"):
        i = names.index(name)
        values[i] = [None if v is None else int(v) for v in values[i]]
    db.executemany(insert, zip(*values))
    return len(table)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def main(argv: list[str] | None = None) -> int:
    """python -m history.tables: the history as one SQLite file, for SQL and Datasette."""
    p = argparse.ArgumentParser(prog="python -m history.tables", description="Write data/ as one SQLite file.")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD")
    p.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD")
    args = p.parse_args(argv)
    loaded = read_data(args.data, since=args.since, until=args.until)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    counts = write_sqlite(loaded.records, args.out)
    print(f"{args.out}: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()))
    return 0



if __name__ == "__main__":
    sys.exit(main())
