"""Figures that stay true under load: each call timed by the kernel at the socket, and a bound on the calls in flight,
held against what light simulated servers in other processes logged of each answer (simulator/light.py)."""

import threading
import time
from datetime import datetime, timezone

from crawler.client import Client, Limits, Transport
from crawler.crawl import crawl
from crawler.memory import Memory
from registry import Endpoint
from simulator.light import LightCities

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


def endpoints(cities, n):
    return [Endpoint(id=f"city_{i:04d}", name=f"City {i}", country="USA", base_url=cities.base_url(i), format="json",
                     platform="in-house", timezone="UTC", notes="", source="tests", min_interval_s=0, history_days=1)
            for i in range(n)]


def client(interval, host):
    return Client(Transport(), interval, True, Limits())


def own_times(log):
    """Per city and method, the milliseconds its server logged taking (from the request read to the answer ready to send)."""
    out = {}
    for city, method, _, read, ready in log:
        out.setdefault((f"city_{city:04d}", method), []).append((ready - read) * 1000)
    return out


def test_the_figures_hold_while_the_interpreter_is_busy(tmp_path):
    """While another thread holds the interpreter in C for ~50 ms at a time (a long parse would), every call's total
    and server time are still within 10 % of what its server took: the kernel stamped when the request left and the
    answer's packets arrived, and no wait of ours for the interpreter falls between the stamps."""
    stop, chunks = threading.Event(), []

    def hog():
        while not stop.is_set():
            started = time.monotonic()
            sum(range(3_000_000))  # one C loop: the interpreter is not let go until it ends
            chunks.append(time.monotonic() - started)
            time.sleep(0.02)  # and let go a while, as a crawl's parsing comes and goes

    with LightCities(4, NOW, delay_s=0.15, processes=2) as cities:
        hogging = threading.Thread(target=hog, daemon=True)
        hogging.start()
        try:
            report = crawl(endpoints(cities, 4), tmp_path, NOW, client, env={}, memory=Memory(tmp_path, NOW), durable=False)
        finally:
            stop.set()
            hogging.join()
    assert sorted(chunks)[len(chunks) // 2] >= 0.02, chunks  # the hog did hold the interpreter, a chunk at a time
    own = own_times(cities.log)
    checked = 0
    for endpoint_id, result in report.results.items():
        for call in result.probes:
            if call.outcome != "ok" or call.method not in ("services", "requests", "request"):
                continue
            [took] = own[(endpoint_id, call.method)]
            assert abs(call.server_ms - took) <= 0.1 * took, (endpoint_id, call.method, call.server_ms, took)
            assert abs(call.elapsed_ms - took) <= 0.1 * took, (endpoint_id, call.method, call.elapsed_ms, took)
            checked += 1
    assert checked == 12  # services, requests and one lookup of each city


def test_no_more_calls_in_flight_than_the_bound(tmp_path):
    """12 cities, at most 3 calls in flight: the servers never answer more than 3 at once, and do answer 3."""
    with LightCities(12, NOW, delay_s=0.1, processes=2) as cities:
        report = crawl(endpoints(cities, 12), tmp_path, NOW, client, env={}, memory=Memory(tmp_path, NOW), durable=False,
                       in_flight=3)
    assert not report.bugs and all(p.outcome == "ok" for r in report.results.values() for p in r.probes if p.method != "services"
                                   or p.format == "json")
    # Each answer's [request read, answer ready to send): inside its call's time in flight, whatever the machine's load
    # (the server's clock read after sending once let a next call arrive first: 4 in flight, on a loaded fresh clone).
    edges = sorted([(read, 1) for _, _, _, read, _ in cities.log] + [(ready, -1) for _, _, _, _, ready in cities.log])
    busy = most = 0
    for _, step in edges:
        busy += step
        most = max(most, busy)
    assert most == 3
