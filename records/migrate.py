"""python -m records.migrate --data DIR [--dry-run]: rewrite probe day files from layout v1 to v2.

Layout v1 wrote one line per call; v2 (records/terse.py) one line per endpoint and crawl, a
quarter of the size, and reads back as the same records. Each probe day file that still holds v1
lines is rewritten: its v1 lines packed, its v2 lines kept, and any line that is not a sound
record kept as it was (and reported), so nothing is lost. The new file replaces the old one
atomically; a second run finds nothing to do. Git keeps the old versions in its history: to
shrink a clone as well, start a new history from the migrated tree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from records import terse
from records.layout import dumps
from records.read import DEFAULTS, EXPECTED, record_problem
from records.store import locked


def migrate_file(path: Path, dry_run: bool = False) -> tuple[int, int, list[str]]:
    """(v1 lines packed, v2 lines written for them, problems); the file is rewritten unless dry_run or nothing to do."""
    kept: list[str] = []
    old: list[dict] = []
    problems = []
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("v") == 1:
            for name, default in DEFAULTS["probes"].items():  # lines from before crawler 0.2.0, as the reader fills them
                record.setdefault(name, default() if callable(default) else default)
        if isinstance(record, dict) and record.get("v") == 1 and record_problem(record, EXPECTED["probes"]) is None:
            old.append(record)
        else:
            if not (isinstance(record, dict) and record.get("v") == terse.LAYOUT):
                problems.append(f"{path}:{number}: not a sound v1 probe record; kept as it was")
            kept.append(raw)
    if not old:
        return 0, 0, problems
    packed = [dumps(line) for line in terse.pack(old)]
    if not dry_run:
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_text("".join(line + "\n" for line in kept + packed), encoding="utf-8", errors="surrogateescape")
        os.replace(temporary, path)
    return len(old), len(packed), problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m records.migrate", description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    args = p.parse_args(argv)
    files = lines_in = lines_out = 0
    before = after = 0
    with locked(args.data):
        for path in sorted((args.data / "probes").glob("*/*.jsonl")):
            size = path.stat().st_size
            old, new, problems = migrate_file(path, args.dry_run)
            for problem in problems:
                print(problem, file=sys.stderr)
            if old:
                files += 1
                lines_in += old
                lines_out += new
                before += size
                after += path.stat().st_size
    verb = "would rewrite" if args.dry_run else "rewrote"
    print(f"{verb} {files} probe day files: {lines_in} v1 lines as {lines_out} v2 lines"
          + ("" if args.dry_run or not files else f", {before / 1e6:.1f} MB to {after / 1e6:.1f} MB"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
