"""open311-status audit FILE --endpoint ID --data DIR [--now ISO8601]: import a field audit.

An audit file is a CSV with the header id,observed,date,observer: a ticket's service_request_id,
what was seen there (fixed, partly_fixed, not_fixed or cannot_tell), the day of the visit
(YYYY-MM-DD) and who looked. Every sound row is imported as an AuditRecord under data/audits/;
each row that is not sound is named (FILE:LINE: field: problem) and left out, and nothing else is
lost. A row already imported (the same ticket, day and observer) is not imported twice.
Exit 0 when every row was sound, 1 when some were left out, 2 when the file cannot be read at all.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

from records import AuditRecord, iso, parse_moment, store
from records.read import read_data
from vocabulary import day_of

OBSERVED = ("fixed", "partly_fixed", "not_fixed", "cannot_tell")
HEADER = ["id", "observed", "date", "observer"]


class Unreadable(Exception):
    """An audit file that cannot be read at all: said with its place, exit 2."""
    pass


def read_audit(path: Path, endpoint: str, now: datetime) -> tuple[list[AuditRecord], list[str]]:
    """The sound rows as records, and a line for every row left out; Unreadable if there are no rows to read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise Unreadable(f"{path}: cannot read: {e}") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != HEADER:
        raise Unreadable(f"{path}:1: the header must be {','.join(HEADER)}; got {','.join(reader.fieldnames or [])!r}")
    out, problems = [], []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            problems.append(f"{where}: expected 4 fields; row left out")
            continue
        values = {k: v.strip() for k, v in row.items()}
        wrong = []
        if not values["id"]:
            wrong.append("id: empty")
        if values["observed"] not in OBSERVED:
            wrong.append(f"observed: must be one of {', '.join(OBSERVED)}; got {values['observed']!r}")
        try:
            day = date.fromisoformat(values["date"])
            if day > now.date():
                wrong.append(f"date: {values['date']} is in the future")
        except ValueError:
            wrong.append(f"date: must be YYYY-MM-DD; got {values['date']!r}")
        if not values["observer"]:
            wrong.append("observer: empty")
        if wrong:
            problems.append(f"{where}: " + "; ".join(wrong) + "; row left out")
            continue
        out.append(AuditRecord(imported=iso(now), endpoint=endpoint, id=values["id"][:200], observed=values["observed"],
                               date=values["date"], observer=values["observer"][:100], source=f"{path.name}:{reader.line_num}"))
    return out, problems


def main(argv: list[str] | None = None, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> int:
    """open311-status audit: every sound row imported and every other named, so a volunteer's file never loses a row
    silently."""
    p = argparse.ArgumentParser(prog="open311-status audit", description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("file", type=Path)
    p.add_argument("--endpoint", required=True, metavar="ID")
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--now", type=parse_moment, metavar="ISO8601")
    args = p.parse_args(argv)
    now = args.now or clock()
    try:
        records, problems = read_audit(args.file, args.endpoint, now)
    except Unreadable as e:
        print(f"{e}; nothing imported", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    done = {(a["endpoint"], a["id"], a["date"], a["observer"]) for a in read_data(args.data, kinds=("audits",)).records["audits"]}
    new = [r for r in records if (r.endpoint, r.id, r.date, r.observer) not in done]
    store.append(args.data, "audits", [r.to_dict() for r in new], lambda r: day_of(r["imported"]))
    print(f"{args.file}: {len(new)} rows imported for {args.endpoint}, {len(records) - len(new)} already there, "
          f"{len(problems)} left out")
    return 1 if problems else 0

