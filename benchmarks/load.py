"""Figures under load: one crawl of N cities, each answering every call after 200 ms of its own time, and each city's
published p50 (total and server time) against the p50 of what its server itself logged taking.

The cities are light asyncio servers (simulator/light.py), a few processes of them beside the crawler (as a real
crawl's servers are elsewhere): each logs when a connection was accepted, when a request's head was read, and when
its answer was written, so the figures are held to what the servers really did, not to the 200 ms they were told to
take.

    python benchmarks/load.py 100 300 1000
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.client import Client, Limits, Transport  # noqa: E402
from crawler.crawl import IN_FLIGHT, crawl  # noqa: E402
from crawler.memory import Memory  # noqa: E402
from history import load  # noqa: E402
from metrics.summary import summarize  # noqa: E402
from registry import Endpoint  # noqa: E402
from simulator.light import LightCities  # noqa: E402

DELAY_S = 0.2


def bench_load(n: int, work: Path, in_flight: int = IN_FLIGHT) -> dict[str, float]:
    """One crawl of n cities and one build: for each city its published p50 over its server's own p50, total and
    server time (median and worst), and what the crawl took."""
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    with LightCities(n, now, DELAY_S) as cities:
        endpoints = [Endpoint(id=f"city_{i:04d}", name=f"City {i}", country="USA", base_url=cities.base_url(i), format="json",
                              platform="in-house", timezone="UTC", notes="", source="bench", min_interval_s=0, history_days=1)
                     for i in range(n)]
        started = time.monotonic()
        report = crawl(endpoints, work, now, lambda interval, host: Client(Transport(), interval, True, Limits()), env={},
                       memory=Memory(work, now), durable=False, in_flight=in_flight)
        wall = time.monotonic() - started
    log = cities.log
    own: dict[int, list[float]] = {}
    waits = []
    for city, kind, accepted, read, ready in log:
        if kind == "services":
            own.setdefault(city, []).append((ready - read) * 1000)
            waits.append((read - accepted) * 1000)
    published = {e.id: e for e in summarize(load(work, now + timedelta(minutes=1)), now + timedelta(minutes=1)).endpoints}
    total, server = [], []
    for i in range(n):
        e, mine = published[f"city_{i:04d}"], statistics.median(own[i])
        assert e.latency_ms is not None, e.id  # crawled whole: its GET services answered
        total.append(e.latency_ms["p50"] / mine)
        server.append(e.server_ms["p50"] / mine if e.server_ms else float("nan"))
    # Every endpoint crawled whole: its GET services answered, and no call of it cut by the budget.
    whole = sum(1 for r in report.results.values() if r.probes and r.probes[0].outcome == "ok" and not r.notes)
    return {"n": n, "wall_s": wall, "whole": whole, "own_p50_ms": statistics.median(v for vs in own.values() for v in vs),
            "read_after_accept_ms": statistics.median(waits), "total_median": statistics.median(total), "total_worst": max(total),
            "server_median": statistics.median(server), "server_worst": max(server),
            "total_best": min(total), "server_best": min(server)}


def rows(sizes: tuple[int, ...] = (100, 300, 1000)) -> list[tuple[str, str, str]]:
    """make bench's rows: each size's ratios, as measured in this one run; and the largest without the bound on calls
    in flight, for what the bound keeps out."""
    out = []
    for n, in_flight in [(n, IN_FLIGHT) for n in sizes] + [(max(sizes), 10**6)]:
        with tempfile.TemporaryDirectory() as tmp:
            r = bench_load(n, Path(tmp), in_flight)
        bound = f"at most {in_flight} calls in flight" if in_flight < 10**6 else "no bound on calls in flight"
        out.append((f"published p50 / server's own p50, {n} endpoints, {bound}",
                    f"{r['total_median']:.2f} total, {r['server_median']:.2f} server",
                    f"median of the cities; worst {r['total_worst']:.2f} total, {r['server_worst']:.2f} server; best "
                    f"{r['total_best']:.2f}, {r['server_best']:.2f} (published figures keep two significant digits: 5 % at "
                    f"most); the servers' own p50 {r['own_p50_ms']:.1f} ms, a request read {r['read_after_accept_ms']:.2f} ms "
                    f"after its connection was accepted (median); the crawl {r['wall_s']:.1f} s (its budget: "
                    f"{Limits().host_s:.0f} s), {r['whole']} of {n} endpoints crawled whole"))
    return out


if __name__ == "__main__":
    for name, figure, extra in rows(tuple(int(a) for a in sys.argv[1:]) or (100, 300, 1000)):
        print(f"{name}: {figure}  ({extra})")
