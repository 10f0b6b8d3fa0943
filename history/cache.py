"""The history's cache: each day read, kept between builds in a directory of its own.

A file per part and day: days/DAY holds a day's crawl statuses, last service counts and problems,
calls/DAY its calls while it is one of the raw days. Each file is a line of JSON (the key, text
columns' distinct values, findings, ...) then one numpy record array of every column as numbers
(text as codes into its values), read back with np.frombuffer: nothing in a cache file can run
code, and a day is one read. A day is reused while its key holds: the layout's version and the
size of its day file (day files only ever grow, so a changed one is a longer one).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

VERSION = 6  # bump when what a day holds changes (6: its calls in the archive's order)


def path_of(cache: Path, part: str, day: date) -> Path:
    """Where a part of a day is kept."""
    """days/DAY: a day's statuses, service counts and problems; calls/DAY: its calls, while it is a raw day."""
    return cache / part / f"{day.isoformat()}.bin"


def encode(frame: pd.DataFrame, extra: dict[str, Any]) -> bytes:
    """A frame as a line of JSON (extra, and what the numbers stand for) and one numpy record array."""
    arrays, meta = {}, {**extra, "values": {}, "times": [], "findings": {}}
    for name in frame.columns:
        column = frame[name]
        if name == "findings":
            meta["findings"] = {i: f for i, f in enumerate(column) if f}
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            arrays[name] = seconds(column).astype("int64")
            meta["times"].append(name)
        elif column.dtype.kind in "iufb":
            arrays[name] = column.to_numpy()
        else:  # text, with None
            codes, values = pd.factorize(column.astype(object), use_na_sentinel=True)
            arrays[name] = codes.astype("int32")
            meta["values"][name] = [str(v) for v in values]
    table = np.rec.fromarrays(list(arrays.values()), dtype=[(n, a.dtype) for n, a in arrays.items()]) if arrays else np.zeros(0)
    meta["dtype"], meta["rows"], meta["columns"] = table.dtype.descr, len(frame), list(frame.columns)
    return json.dumps(meta, ensure_ascii=False).encode() + b"\n" + table.tobytes()


def decode(body: bytes) -> tuple[pd.DataFrame, dict[str, Any]]:
    """encode's frame and its line of JSON, back."""
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
            # code -1: the None at the end. Kept as Python objects: pandas would make each day's text Arrow strings,
            # which the year's statuses turn back into objects (a warm build spent a second on the two).
            columns[name] = pd.Series(values[table[name]], dtype=object)
        elif name in meta["times"]:
            columns[name] = pd.DatetimeIndex(table[name].astype("datetime64[s]"), tz="UTC")
        else:
            columns[name] = table[name].copy()
    return pd.DataFrame(columns, index=pd.RangeIndex(meta["rows"])), meta


def read(path: Path, key: list[int]) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """A kept part, if it is there, sound, and of this key."""
    try:
        frame, meta = decode(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # missing or broken: only a miss
    return (frame, meta) if meta.get("key") == key else None


def cached(cache: Path, key: list[int], day: date, raw: bool) -> dict[str, Any] | None:
    """A day as history.days.read_day gives it, from the cache; None when any part it needs is not good."""
    days = read(path_of(cache, "days", day), key)
    if days is None:
        return None
    statuses, meta = days
    aggregate = {"key": key, "problems": meta["problems"], "services": meta["services"], "statuses": statuses, "calls": None}
    if raw:
        calls = read(path_of(cache, "calls", day), key)
        if calls is None:
            return None
        aggregate["calls"] = calls[0]
    return aggregate


def store(cache: Path, day: date, aggregate: dict[str, Any]) -> None:
    """Keep a day, each part written whole then renamed, so a reader never sees half of one."""
    parts = {"days": encode(aggregate["statuses"], {k: aggregate[k] for k in ("key", "problems", "services")})}
    if aggregate["calls"] is not None:
        parts["calls"] = encode(aggregate["calls"], {"key": aggregate["key"]})
    for part, body in parts.items():
        path = path_of(cache, part, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(body)
        tmp.replace(path)


def prune(cache: Path, first: date, raw_from: date) -> None:
    """Days before the lookback go, and the calls of days before the raw ones (only their statuses are read again)."""
    for part, before in (("days", first), ("calls", raw_from)):
        for path in (cache / part).glob("*"):
            try:
                if date.fromisoformat(path.stem) < before:
                    path.unlink()
            except ValueError:
                continue


def seconds(times: pd.Series) -> np.ndarray:
    """UTC times as whole seconds (numpy datetime64[s])."""
    out: np.ndarray = times.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    return out
