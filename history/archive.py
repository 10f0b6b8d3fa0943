"""The monthly archive: the day files of a month that is over, as one Parquet file per kind, checked, then removed.

    open311-status archive compact --data DIR [--now ISO8601]
    open311-status archive export --data DIR --month YYYY-MM --kind KIND
    open311-status archive checkout --job crawl|merge|build [--now ISO8601]

compact takes every month that ended at least SETTLE (3 days) before now, so that late shard lines and union
merges are in, and for each kind writes data/archive/<kind>/<YYYY-MM>.parquet: the very bytes the build writes as
that month's download (history/parquet.py), so the site serves the archive as it is. The file is read back and held
to the lines (every value of every record) before its day files go; the crawl workflow's merge job then
commits the file and the removals together (.github/scripts/commit-data.sh). The lines stay in git's history.

A month is left as it is, and said why, when its lines hold something the archive has no room for: a field its
kind does not have, or a crawl in another day's file. A line that is not a sound record is left out, as the build
leaves it out (it is said, and stays in git's history).

export writes a month's records back out as JSON Lines on stdout, one line per stored line: from the archive when
the month is archived, else from its day files. checkout prints the sparse-checkout patterns of the archive months
a job of the crawl workflow reads (READS), which the job adds to its checkout of the code and the live day files.
"""

from __future__ import annotations

import argparse
import functools
import operator
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from history import parquet
from history.tables import nested
from records import archive as archived
from records import terse
from records.layout import KINDS, dumps
from records.read import Loaded, probe_lines, read_file
from vocabulary import parse_now

SETTLE = timedelta(days=3)  # a month is compacted once it has been over this long
# What each job of the crawl workflow reads of the archive, so what it checks out beside the code and the months not yet
# archived: per kind, how many days back from now (None: every month). The crawl's memory (crawler/crawl.py) reads 92
# days of probes (where each backfill stands), 38 of events, 45 of twin rows, 30 of tickets, and every service type and
# registry entry ever stored (only their changes are stored); the merge job's twins read as the crawl does, its
# incidents 31 days of statuses, 92 of tickets, 8 of crawls and a year of their own log (history.LOOKBACK). The build
# reads every month: its figures a year at most, but its downloads (and the years' zips) all of them.
MEMORY = {"probes": 92, "tickets": 92, "events": 92, "twin_rows": 92, "services": None, "endpoints": None}
READS: dict[str, dict[str, int | None]] = {"crawl": MEMORY, "merge": {**MEMORY, "twins": 92, "crawls": 92, "incidents": 366},
                                          "build": {kind: None for kind in KINDS}}


@dataclass
class Compacted:
    """What a compaction did: the files written (kind, month, rows, day files), the months left as they were and why."""

    written: list[tuple[str, str, int, int]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    skipped_lines: list[str] = field(default_factory=list)


def due(month: str, now: datetime) -> bool:
    """Whether a month (YYYY-MM) ended at least SETTLE before now."""
    year, number = int(month[:4]), int(month[5:7])
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)
    return end + SETTLE <= now


def compact(data_dir: str | Path, now: datetime) -> Compacted:
    """Every due month of every kind into the archive, checked against its lines; its day files removed."""
    data_dir = Path(data_dir)
    done = Compacted()
    for kind in KINDS:
        for month, paths in parquet.months(data_dir, kind).items():
            if due(month, now):
                _compact_month(data_dir, kind, month, paths, done)
    return done


def _compact_month(data_dir: Path, kind: str, month: str, paths: list[Path], done: Compacted) -> None:
    target = archived.month_path(data_dir, kind, month)
    if target.exists():
        done.left.append(f"{kind} {month}: day files {', '.join(str(p) for p in paths)} came after the month was archived; "
                         f"left as they are (their lines are not in {target})")
        return
    problems: list[str] = []
    per_file = parquet.read_month(kind, paths, problems)  # read once: they make the table and are what it is held to
    check = _wrong_day if kind == "probes" else functools.partial(_extra_fields, kind)
    refusal = next(filter(None, (check(path, read) for path, read in zip(paths, per_file))), None)
    if refusal:
        done.left.append(f"{kind} {month}: {refusal}; left as day files")
        return
    table = parquet.month_table(kind, paths, problems, per_file)
    done.skipped_lines += problems
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".parquet.partial")
    parquet.write_table(kind, table, partial)
    if kind == "probes":  # in the archive's order: by endpoint and crawl, each line's calls in their order (a stable sort)
        wrote = sorted(_probe_rows(terse.columns([line for lines in per_file for line in lines])), key=_endpoint_and_crawl)
        back = _probe_rows(archived.probe_columns(partial))
    else:
        wrote = [_row(kind, r) for records in per_file for r in records]
        back = [_row(kind, r) for r in archived.read_records(partial, kind, nested(kind))]
    if back != wrote:
        partial.unlink()
        raise RuntimeError(f"{target}: read back, its {len(back)} records are not the {len(wrote)} of its day files"
                           f"{_first_difference(wrote, back)}; nothing removed")  # a bug of ours, never an endpoint's
    os.replace(partial, target)
    for path in paths:
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    done.written.append((kind, month, len(back), len(paths)))


def _wrong_day(path: Path, lines: list[terse.Line]) -> str | None:
    """Why a day file of probes cannot go into the archive (which finds a day's calls by their crawl), or None."""
    wrong = next((line.crawl for line in lines if line.crawl[:10] != path.stem), None)
    return f"{path} holds a crawl of another day ({wrong})" if wrong else None


def _extra_fields(kind: str, path: Path, records: list[dict[str, Any]]) -> str | None:
    """Why a day file's records cannot go into the archive as they are, or None."""
    known = set(parquet.SCHEMAS[kind].names)
    extra = sorted({name for r in records for name in r if name not in known})
    return f"{path} has field(s) the archive has no column for: {', '.join(extra)}" if extra else None


# What the archive is held to, value by value: a record as a tuple of its kind's columns. Equality, not a digest of
# text, so 5 and 5.0 are the same number (Parquet keeps no difference in a float column) and a month of a hundred
# endpoints is checked in seconds. The probes' calls compared in the archive's order: by endpoint and crawl, each
# line's calls in their order.
def _row(kind: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(n) for n in parquet.SCHEMAS[kind].names)


def _probe_rows(cols: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    return list(zip(*(cols[name] for name in terse.COLUMNS)))


_endpoint_and_crawl = operator.itemgetter(terse.COLUMNS.index("endpoint"), terse.COLUMNS.index("crawl"))


def _first_difference(wrote: list[tuple[Any, ...]], back: list[tuple[Any, ...]]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(wrote, back)) if a != b), min(len(wrote), len(back)))
    return f" (the first difference at record {at + 1})"


def checkout(job: str, now: datetime) -> list[str]:
    """The sparse-checkout patterns (git's non-cone patterns, from the repository's root) of the archive a job reads."""
    patterns = []
    for kind, days in READS[job].items():
        if days is None:
            patterns.append(f"/data/{archived.DIR}/{kind}/")
            continue
        month, last = (now - timedelta(days=days)).date().replace(day=1), now.date()
        while month <= last:
            patterns.append(f"/data/{archived.DIR}/{kind}/{month.isoformat()[:7]}.parquet")
            month = (month + timedelta(days=32)).replace(day=1)
    return patterns


def export(data_dir: str | Path, month: str, kind: str, out: TextIO) -> int:
    """A month of a kind as JSON Lines on out, one per stored line; how many lines."""
    path = archived.month_path(data_dir, kind, month)
    count = 0
    if path.exists():
        if kind == "probes":
            for line in archived.probe_lines(path):
                out.write(dumps(terse.pack(terse.expand(line))[0]) + "\n")
                count += 1
        else:
            for record in archived.read_records(path, kind, nested(kind)):
                out.write(dumps(record) + "\n")
                count += 1
        return count
    for day_file in parquet.months(data_dir, kind).get(month, []):
        if kind == "probes":
            for line in probe_lines(day_file, []):
                out.write(dumps(terse.pack(terse.expand(line))[0]) + "\n")
                count += 1
        else:
            loaded = Loaded()
            read_file(day_file, kind, loaded)
            for record in loaded.records[kind]:
                out.write(dumps(record) + "\n")
                count += 1
    return count


def _month(text: str) -> str:
    try:
        date.fromisoformat(text + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month as YYYY-MM: {text!r}") from None
    return text




def main(argv: list[str] | None = None, clock: Any = None) -> int:
    """open311-status archive compact|export; 1 when a month had to be left as day files, 2 for a bad command line."""
    p = argparse.ArgumentParser(prog="open311-status archive", description="The monthly archive of data/.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compact", help="every month over for 3 days into data/archive/, its day files removed")
    c.add_argument("--data", required=True, type=Path, metavar="DIR")
    c.add_argument("--now", type=parse_now, metavar="ISO8601", help="the moment months are judged over at (default: now)")
    e = sub.add_parser("export", help="a month's records as JSON Lines on stdout, one per stored line")
    e.add_argument("--data", required=True, type=Path, metavar="DIR")
    e.add_argument("--month", required=True, type=_month, metavar="YYYY-MM")
    e.add_argument("--kind", required=True, choices=KINDS)
    o = sub.add_parser("checkout", help="the sparse-checkout patterns of the archive months a job of the crawl workflow reads")
    o.add_argument("--job", required=True, choices=sorted(READS))
    o.add_argument("--now", type=parse_now, metavar="ISO8601", help="the moment the job runs at (default: now)")
    args = p.parse_args(argv)
    if args.command == "checkout":
        print("\n".join(checkout(args.job, args.now or (clock() if clock else datetime.now(timezone.utc)))))
        return 0
    if args.command == "export":
        try:
            if export(args.data, args.month, args.kind, sys.stdout) == 0:
                print(f"no {args.kind} of {args.month} in {args.data}", file=sys.stderr)
        except BrokenPipeError:  # a reader that stopped early (| head): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    now = args.now or (clock() if clock else datetime.now(timezone.utc))
    done = compact(args.data, now)
    for problem in done.skipped_lines:
        print(f"warning: {problem}", file=sys.stderr)
    for left in done.left:
        print(f"left: {left}", file=sys.stderr)
    for kind, month, rows, files in done.written:
        print(f"archived {kind} {month}: {rows} records from {files} day file(s)")
    if not done.written and not done.left:
        print("nothing to compact")
    return 1 if done.left else 0
