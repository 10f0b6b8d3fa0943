"""Append records to the day files, atomically and without touching what is there.

A day file only ever grows: the new file is the old bytes followed by the new lines, written
to a temporary file and renamed over the old one, so a reader (or a crash) never sees half a
line of ours (scratch data, durable=False, is appended in place instead). A lock serialises two writers on one
machine; two crawls on different machines merge through git's union driver (.gitattributes).
"""

from __future__ import annotations

import fcntl
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from records.layout import day_path, dumps


@contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's lock: two writers on one machine never interleave half lines."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append(
    data_dir: str | Path, kind: str, records: Iterable[dict[str, Any]], day_of: Callable[[dict[str, Any]], date],
    durable: bool = True,
) -> list[Path]:
    """Append records to their day files; return the files written. durable=False skips fsync (scratch data)."""
    data_dir = Path(data_dir)
    by_day: dict[date, list[str]] = defaultdict(list)
    for record in records:
        by_day[day_of(record)].append(dumps(record))
    by_file = {day_path(data_dir, kind, day): lines for day, lines in by_day.items()}  # a path per day, not per record
    if not by_file:
        return []
    with locked(data_dir):
        for path, lines in sorted(by_file.items()):
            _append_lines(path, lines, durable)
    return sorted(by_file)


def _append_lines(path: Path, lines: list[str], durable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not durable:  # scratch data (the demo, tests): appended in place, a day file no longer copied every crawl
        with open(path, "ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")  # a truncated last line stays as it is (the reader reports it); ours start clean
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
        return
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"  # a truncated last line stays as it is (the reader reports it); ours start clean
    new = old + ("\n".join(lines) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(new)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
