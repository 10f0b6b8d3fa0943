"""make bench: figures printed as one table (not asserted anywhere: these machines are noisy).

load (benchmarks/load.py): one crawl of N cities, each answering every call after 200 ms of its own time, and each
city's published p50 (total and server time) over what its server logged taking.
build: wall time of build.py over the history of three crawls of 300 simulated endpoints.
backfill: the calls, bytes and crawls it takes to read the history of the registry's kinds of endpoint, and the git
growth it adds once.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import builder  # noqa: E402
from benchmarks import load, years  # noqa: E402
from benchmarks.backfill import bench_backfill  # noqa: E402
from benchmarks.growth import bench_git_growth  # noqa: E402
from benchmarks.measure import build_in_child  # noqa: E402
from crawler.client import Client, Limits, Transport  # noqa: E402
from crawler.crawl import crawl  # noqa: E402
from registry import Endpoint, load_registry  # noqa: E402
from simulator.fleet import Fleet  # noqa: E402


def cities(n: int) -> list[dict]:
    """Cities that answer every call in exactly 200 ms, for real (the server sleeps)."""
    return [{"id": f"city_{i:04d}", "host": f"127.0.{1 + i // 250}.{2 + i % 250}", "requests_per_day": 48,
             "behaviour": {"latency_ms": 200, "latency_spread": 0, "requests_latency_factor": 1}} for i in range(n)]


def serve(n: int, now: datetime, conn: Connection) -> None:
    """The child process: serve n cities until told to stop (with 2 days of tickets: they list only one, below)."""
    with Fleet.of(cities(n), now, days=1, before=timedelta(days=1)) as fleet:
        conn.send(fleet.urls())
        conn.recv()


def bench_crawl(n: int, crawls: int, work: Path) -> tuple[list[float], float, float, int]:
    """Crawls of n simulated cities at 200 ms a call: the ratio of each crawl's wall time to the fastest city's chain
    says how much the crawler itself costs."""
    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    parent, child = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(n, now, child), daemon=True)
    server.start()
    urls = parent.recv()
    ratios: list[float] = []
    calls, most = 0.0, 0
    try:
        # The cities list one day of requests and say so (history_days): nothing is left to backfill, so every crawl
        # measured is the steady state (a backfill's own cost is bench_backfill's).
        endpoints = [Endpoint(id=key, name=key, country="USA", base_url=url, format="json", platform="in-house",
                              timezone="UTC", notes="", source="bench", min_interval_s=0, history_days=1) for key, url in urls.items()]
        for k in range(crawls):
            moment = now + timedelta(minutes=30 * k)
            started = time.monotonic()
            report = crawl(endpoints, work, moment, lambda interval, host: Client(Transport(), interval, True, Limits()), env={})
            wall = time.monotonic() - started
            # What a city costs when nothing delays it: the fastest city's own chain of calls (issue 17).
            fastest = min(sum(p.elapsed_ms or 0 for p in r.probes) for r in report.results.values()) / 1000
            ratios.append(wall / fastest)
            calls = sum(len(r.probes) for r in report.results.values()) / len(endpoints)
            most = max(most, max(len(r.probes) for r in report.results.values()))  # the panel's lookups vary by city
    finally:
        parent.send("stop")
        server.join(10)
    return sorted(ratios), wall, calls, most


def synthetic_year(data: Path, endpoints: int, per_day: int, end: datetime) -> int:
    """A year of probe records (services and requests per crawl, one city in ten down one day in
    twenty), written straight to day files as the crawler writes them (layout v2, records/terse.py);
    returns the calls written."""
    calls = 0
    day = end - timedelta(days=365)
    while day < end:
        path = data / "probes" / f"{day.year:04d}" / f"{day.date().isoformat()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        for k in range(per_day):
            stamp = (day + timedelta(hours=24 * k / per_day)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for n in range(endpoints):
                down = n % 10 == 0 and day.timetuple().tm_yday % 20 == 0
                if down:
                    listed = '{"b":0,"e":"HTTP 503","m":"services","ms":20,"o":"http_5xx","s":503}'
                else:
                    listed = ('{"b":900,"c":"application/json","m":"services","ms":180,"n":5},'
                              '{"b":900,"m":"requests","ms":350,"n":40,"p":1}')
                rows.append(f'{{"calls":[{listed}],"crawl":"{stamp}","crawler":"bench","endpoint":"city_{n:04d}","v":2}}')
                calls += 1 if down else 2
        path.write_text("\n".join(rows) + "\n")
        day += timedelta(days=1)
    return calls


def bench_year_build(tmp: Path, per_day: int = 48) -> list[tuple[str, str, str]]:
    """A year of 30-minute crawls of 100 endpoints: the full build, with the daily cache cold, and an
    incremental build (cache warm) after one more crawl."""
    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    data = tmp / "year"
    lines = synthetic_year(data, 100, per_day, end)
    size = sum(p.stat().st_size for p in data.rglob("*.jsonl")) / 1e6
    rows = []
    cache = ["--cache", str(tmp / "cache")]
    for label, extra, now in (("full, no cache", [], end), ("cache cold", cache, end),
                              ("incremental: one more crawl, cache warm", cache, end + timedelta(minutes=30))):
        if now != end:  # one more crawl: the next slot's lines
            synthetic_crawl(data, 100, now)
        seconds, peak, child = build_in_child(["--data", str(data), "--out", str(tmp / "site-year"), "--now", now.isoformat(), *extra])
        rows.append((f"build of a year, 100 endpoints, {per_day} crawls a day ({label})", f"{seconds:.1f} s",
                     f"peak {peak:.0f} MB, its largest child {child:.0f} MB"
                     + (f"; {lines} calls, {size:.0f} MB of probe lines" if not extra else "")))
    return rows + bench_incidents(data, tmp, 100, end + timedelta(minutes=30))


def bench_incidents(data: Path, tmp: Path, endpoints: int, now: datetime) -> list[tuple[str, str, str]]:
    """The crawl workflow's incidents step on the same year (a dry run: the same reading and planning, no GitHub), against
    its budget in vocabulary/timing.py."""
    import subprocess

    from vocabulary.timing import INCIDENTS_S

    registry = [{"id": f"city_{n:04d}", "name": f"City {n}", "country": "USA", "base_url": f"https://example.org/{n}/", "format": "json",
                 "platform": "unknown", "timezone": "UTC", "notes": "", "source": "bench"} for n in range(endpoints)]
    (tmp / "year-endpoints.yaml").write_text(yaml.safe_dump(registry))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "incidents", "--data", str(data), "--endpoints", str(tmp / "year-endpoints.yaml"), "--repo",
                    "bench/bench", "--now", now.isoformat(), "--dry-run"], cwd=ROOT, check=True, capture_output=True)
    return [(f"incidents step (dry run) on that year, {endpoints} endpoints", f"{time.monotonic() - started:.1f} s",
             f"≤ {INCIDENTS_S} s (the merge job's budget, vocabulary/timing.py); reads 31 days of statuses and tickets")]


def synthetic_crawl(data: Path, endpoints: int, moment: datetime) -> None:
    """One more crawl's lines for the synthetic year, as the next slot would add them: what an incremental build has
    to read."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = data / "probes" / f"{moment.year:04d}" / f"{moment.date().isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for n in range(endpoints):
            f.write(f'{{"calls":[{{"b":900,"c":"application/json","m":"services","ms":180,"n":5}}],"crawl":"{stamp}",'
                    f'"crawler":"bench","endpoint":"city_{n:04d}","v":2}}\n')


def bench_storage(tmp: Path) -> list[tuple[str, str, str]]:
    """Bytes per endpoint-day of each record kind, from three simulated days of the demo's dozen cities."""
    from simulator.demo import DEFAULT_SCENARIO
    from simulator.demo import run as simulate
    from simulator.scenario import load

    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    cities = load(DEFAULT_SCENARIO)
    days = 3
    simulate(cities, tmp / "sim", end - timedelta(days=days), end, timedelta(minutes=30), progress=False)
    rows = []
    for kind in ("probes", "tickets", "events", "services", "crawls"):
        size = sum(p.stat().st_size for p in (tmp / "sim" / "data" / kind).rglob("*.jsonl"))
        rows.append((f"storage: {kind} per endpoint-day (demo cities, 30-minute crawls)",
                     f"{size / (len(cities) * days) / 1000:.1f} kB", ""))
    return rows


def bench_panel_storage(tmp: Path) -> list[tuple[str, str, str]]:
    """The accuracy panel's events per endpoint-day once it is in its steady state: 40 simulated days of
    the demo's cities (crawls every 3 hours, to keep this quick: the panel's events follow the tickets'
    lives, not the crawls), measured over the last 7, when the 30-day rechecks of early closings come due."""
    from simulator.demo import DEFAULT_SCENARIO, PANEL_RATE
    from simulator.demo import run as simulate
    from simulator.scenario import load

    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    cities = load(DEFAULT_SCENARIO)
    simulate(cities, tmp / "panel", end - timedelta(days=40), end, timedelta(hours=3), progress=False)
    last = [tmp / "panel" / "data" / "events" / f"{d:%Y}" / f"{d:%Y-%m-%d}.jsonl" for d in (end - timedelta(days=n) for n in range(1, 8))]
    lines = [json.loads(line) for path in last if path.exists() for line in path.read_text().splitlines()]
    size = sum(path.stat().st_size for path in last if path.exists())
    per_day = len(cities) * 7
    vias = ", ".join(f"{via} {n / per_day:.1f}" for via, n in sorted(collections.Counter(e["via"] for e in lines).items()))
    rows = [(f"storage: panel events per endpoint-day, steady state (panel_rate {PANEL_RATE})", f"{size / per_day / 1000:.1f} kB",
             f"{len(lines) / per_day:.1f} lines ({vias})")]
    twins = [c for c in cities if c.open_data]
    for kind in ("twins", "twin_rows"):
        paths = [tmp / "panel" / "data" / kind / f"{d:%Y}" / f"{d:%Y-%m-%d}.jsonl" for d in (end - timedelta(days=n) for n in range(1, 8))]
        size = sum(path.stat().st_size for path in paths if path.exists())
        count = sum(len(path.read_text().splitlines()) for path in paths if path.exists())
        rows.append((f"storage: {kind} per twin-day, steady state ({len(twins)} demo cities with open data)",
                     f"{size / (len(twins) * 7) / 1000:.1f} kB", f"{count / (len(twins) * 7):.1f} lines"))
    return rows


def bench_crawler_cpu(tmp: Path) -> list[tuple[str, str, str]]:
    """The crawler's CPU per HTTP call (issue 17: at most 1 ms): the demo's cities, served from their own process, crawled
    every 30 minutes on simulated time by the real crawler; its process's CPU time over the calls it made, for the
    first day (each city's 90 days of history backfilled, a day's listing per call) and for the day after (the steady
    state: the day's listing, the panel, lookups, definitions)."""
    from crawler.memory import Memory
    from simulator.demo import DEFAULT_SCENARIO, registry
    from simulator.fleet import in_child_process
    from simulator.scenario import load
    from simulator.virtual import simulated_client
    from simulator.world import World

    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    cities = load(DEFAULT_SCENARIO)
    rows = []
    with in_child_process(World(cities, start, start + timedelta(days=2))) as urls:
        (tmp / "cpu.yaml").write_text(yaml.safe_dump(registry(cities, urls)))
        endpoints = load_registry(tmp / "cpu.yaml")
        memory = Memory(tmp / "cpu-data", start)
        for label in ("the first day, backfilling", "the day after"):
            cpu, calls, items = time.process_time(), 0, 0
            for k in range(48):
                moment = start + timedelta(minutes=30 * k) + (timedelta(days=1) if label == "the day after" else timedelta(0))
                report = crawl(endpoints, tmp / "cpu-data", moment, simulated_client(moment), env={}, scheduled=moment,
                               memory=memory, durable=False)
                calls += sum(len(r.probes) for r in report.results.values())
                items += sum(p.items or 0 for r in report.results.values() for p in r.probes)
            cpu = time.process_time() - cpu
            rows.append((f"crawler CPU per call, {label} ({len(endpoints)} demo cities, 48 crawls)", f"{cpu / calls * 1000:.2f} ms",
                         f"{calls} calls, {items / calls:.0f} items a call, {cpu:.1f} s of CPU; {os.cpu_count()} cores"))
    return rows


def in_fresh_process(bench: Callable[[Path], list[tuple[str, str, str]]], tmp: Path) -> list[tuple[str, str, str]]:
    """Run a benchmark in a new interpreter: a CPU figure taken in this process after the others would count the
    collector walking their leftovers (1.64 ms a call there, 0.86 ms alone, in one session)."""
    import subprocess

    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; import benchmarks.run as b; "
            f"print(json.dumps(b.{bench.__name__}(Path({str(tmp)!r}))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return [(row[0], row[1], row[2]) for row in json.loads(out.splitlines()[-1])]


def bench_demo() -> list[tuple[str, str, str]]:
    """make demo end to end, timed, as a newcomer meets it."""
    import subprocess

    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "simulator.demo", "--work", ".bench-demo", "--out", ".bench-demo/site"], cwd=ROOT,
                   check=True, capture_output=True)
    return [("make demo end to end (12 cities, 30 days of 30-minute crawls, the build)", f"{time.monotonic() - started:.0f} s", "")]


def main(argv: list[str] | None = None) -> int:
    """Every benchmark, then one table of the figures (open311-status bench, make bench)."""
    import argparse

    parser = argparse.ArgumentParser(prog="open311-status bench", description="Run the benchmarks (about an hour: the "
                                     "years of issue 29 take most of it) and print one table of their figures, with the "
                                     "machine they ran on.")
    parser.add_argument("--only", choices=["years"], help="run only this benchmark")
    only = parser.parse_args(argv).only
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "data"
        if only is None:
            rows += load.rows()  # issue 27: figures that stay true under load (it replaces issue 17's "× fastest chain")
            bench_crawl(300, 3, work / "300")  # the build's history
            started = time.monotonic()
            with contextlib.redirect_stdout(io.StringIO()):
                builder.main(["--data", str(work / "300"), "--out", str(Path(tmp) / "site"), "--now", "2026-11-20T02:00:00Z"])
            rows.append(("build of 300 endpoints × 3 crawls", f"{time.monotonic() - started:.2f} s", ""))
            rows += bench_year_build(Path(tmp))
            rows += bench_storage(Path(tmp))
            rows += bench_panel_storage(Path(tmp))
            rows += bench_git_growth(Path(tmp))
            rows += bench_backfill(Path(tmp))
            rows += in_fresh_process(bench_crawler_cpu, Path(tmp))
        rows += years.bench_years(Path(tmp) / "years")  # issue 29: a repository aged five years under the workflow's own steps
    if only is None:
        rows += bench_demo()
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}")
    width = max(len(r[0]) for r in rows)
    for name, figure, extra in rows:
        print(f"{name:<{width}}  {figure:<24} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
