"""make bench: figures for the skeleton, printed as one table.

crawl ratio: wall time of one crawl of N simulated endpoints (each call 0.2-0.3 s) divided by the
slowest endpoint's own chain of calls; 1.0 is perfect concurrency.
build: wall time of build.py over the history that crawl produced.
"""

from __future__ import annotations

import contextlib
import io
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import build  # noqa: E402
from crawler.crawl import crawl  # noqa: E402
from crawler.probe import make_session  # noqa: E402
from crawler.registry import Endpoint  # noqa: E402
from simulator.fleet import City, Clock, Fleet  # noqa: E402


def bench_crawl(n: int, crawls: int, work: Path) -> tuple[float, float]:
    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    cities = [City(f"city_{i:04d}", f"City {i}", f"127.0.{1 + i // 250}.{2 + i % 250}", latency_s=(0.2, 0.3),
                   tickets_per_hour=2) for i in range(n)]
    clock = Clock(now)
    worst = 0.0
    with Fleet(cities, clock) as fleet:
        endpoints = [Endpoint(id=c.key, name=c.name, country="USA", base_url=fleet.base_url(c.key), format="json",
                              platform="in-house", timezone="UTC", notes="", source="bench") for c in cities]
        for k in range(crawls):
            moment = now + timedelta(minutes=30 * k)
            clock.set(moment)
            started = time.monotonic()
            report = crawl(endpoints, work, moment, lambda: make_session(True))
            wall = time.monotonic() - started
            slowest = max(sum(p.elapsed_ms or 0 for p in r.probes) for r in report.results.values()) / 1000
            worst = max(worst, wall / slowest)
    return worst, wall


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "data"
        for n in (10, 50):
            ratio, wall = bench_crawl(n, 3, work / str(n))
            rows.append((f"crawl of {n} endpoints (worst of 3)", f"{ratio:.2f} × slowest chain", f"{wall:.2f} s"))
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):
            build.main(["--data", str(work / "50"), "--out", str(Path(tmp) / "site"), "--now", "2026-11-20T02:00:00Z"])
        rows.append(("build of 50 endpoints × 3 crawls", f"{time.monotonic() - started:.2f} s", ""))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak memory of this process", f"{peak_mb:.0f} MB", ""))
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}")
    width = max(len(r[0]) for r in rows)
    for name, figure, extra in rows:
        print(f"{name:<{width}}  {figure:<24} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
