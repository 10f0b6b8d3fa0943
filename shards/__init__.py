"""Sharded crawls: each runner crawls its share into its own checkout, then one job merges them.

    open311-status shards export --data data --base REV --out DIR
        the lines each day file gained since the git revision REV (the checkout the shard started
        from), under DIR with the same paths: the shard's artifact
    open311-status shards merge --data data DIR [DIR ...]
        appends every artifact's lines to the day files, creating those that are missing

Day files only ever grow by whole lines and the shards crawl disjoint hosts, so the merge is a
concatenation: nothing conflicts, nothing is lost, and the order of lines within a file does not
matter (data/README.md). A file that did not start with its version at REV was rewritten, not
appended to: that is refused, loudly, rather than guessed at.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from records.store import locked


class NotAppended(Exception):
    """A day file that was rewritten rather than appended to since the shard started: refused, not guessed at."""
    pass


def _at(repo: Path, rev: str, path: Path) -> bytes:
    """The file as it was at rev (empty if it did not exist)."""
    result = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{path.as_posix()}"], capture_output=True)
    return result.stdout if result.returncode == 0 else b""


def export(data_dir: Path, base: str, out: Path) -> list[Path]:
    """Write under out the lines each day file of data_dir gained since base; return the files written."""
    data_dir = data_dir.resolve()
    repo = Path(subprocess.run(["git", "-C", str(data_dir), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())
    written = []
    for path in sorted(data_dir.rglob("*.jsonl")):
        now = path.read_bytes()
        before = _at(repo, base, path.relative_to(repo))
        if not now.startswith(before):
            raise NotAppended(f"{path}: changed other than by appending since {base}; not exported")
        added = now[len(before):]
        if added:
            target = out / path.relative_to(data_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(added)
            written.append(target)
    return written


def merge(data_dir: Path, artifacts: list[Path]) -> int:
    """Append every artifact's lines to data_dir's day files; return the lines appended."""
    parts = [(artifact, part) for artifact in artifacts for part in sorted(artifact.rglob("*.jsonl"))]
    for _, part in parts:  # every part checked before any is appended
        body = part.read_bytes()
        if body and not body.endswith(b"\n"):
            raise NotAppended(f"{part}: does not end with a whole line; nothing was merged")
    lines = 0
    data_dir.mkdir(parents=True, exist_ok=True)
    with locked(data_dir):
        for artifact, part in parts:
            body = part.read_bytes()
            target = data_dir / part.relative_to(artifact)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as f:
                f.write(body)
            lines += body.count(b"\n")
    return lines


def main(argv: list[str] | None = None) -> int:
    """open311-status shards export|merge: how the crawl workflow's shards come together."""
    p = argparse.ArgumentParser(prog="open311-status shards", description="Export a shard's new lines, or merge shards' lines.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="the lines the day files gained since a git revision")
    e.add_argument("--data", required=True, type=Path)
    e.add_argument("--base", required=True, metavar="REV")
    e.add_argument("--out", required=True, type=Path)
    m = sub.add_parser("merge", help="append shards' exported lines to the day files")
    m.add_argument("--data", required=True, type=Path)
    m.add_argument("artifacts", nargs="+", type=Path)
    args = p.parse_args(argv)
    try:
        if args.command == "export":
            files = export(args.data, args.base, args.out)
            print(f"{len(files)} day files with new lines exported to {args.out}")
        else:
            print(f"{merge(args.data, args.artifacts)} lines merged into {args.data} from {len(args.artifacts)} shard(s)")
    except NotAppended as error:
        print(error, file=sys.stderr)
        return 1
    return 0

