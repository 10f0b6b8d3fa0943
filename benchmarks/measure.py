"""What the benchmarks measure alike: a build in its own process, and the bytes under a folder."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_in_child(args: list[str]) -> tuple[float, float, float]:
    """One build in its own process: wall seconds, its peak memory and the largest of its own
    children's (the processes that read days and write the SQLite file), in MB."""
    code = ("import resource, sys, contextlib, io, builder\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    rc = builder.main(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(rc)")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    own, children = result.stdout.split()[-2:]
    return time.monotonic() - started, int(own) / 1024, int(children) / 1024


def size(path: Path, skip: str | None = None) -> int:
    """The bytes of the files under path (what du counts, without the blocks), leaving out a folder named skip."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()
               and (skip is None or skip not in p.relative_to(path).parts))
