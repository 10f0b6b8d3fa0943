"""The server's own time, the round trip and the total, against what the simulated servers logged of each answer:
a city across an ocean is not ranked slower for its geography (crawler/stopwatch.py)."""

import statistics
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from crawler.crawl import crawl
from crawler.memory import Memory
from history import load
from metrics.summary import summarize
from registry import load_registry
from simulator.fleet import Fleet
from simulator.virtual import simulated_client
from tests.conftest import entry, fast_client, sim

START = datetime(2026, 11, 10, tzinfo=timezone.utc)
SERVER = {"latency_ms": 200, "latency_spread": 0.3, "requests_latency_factor": 1.5}


def registry(fleet, folder):
    path = folder / "endpoints.yaml"
    path.write_text(yaml.safe_dump([entry(id=c, base_url=fleet.base_url(c), min_interval_s=0, timezone="UTC") for c in fleet.servers]))
    return load_registry(path)


def logged_services(fleet, city_id):
    """What the city's server logged of its GET services answers: the seconds each took it."""
    return [took for _, path, status, took in fleet.states[city_id].log if path.endswith("/services.json") and status == 200]


@pytest.fixture(scope="module")
def near_and_far(tmp_path_factory):
    """Two cities with the same server, one next to the runner and one across an ocean (100 ms each way), crawled
    every 30 minutes for a simulated half day."""
    work = tmp_path_factory.mktemp("ocean")
    cities = [sim("nearby", "127.0.9.2", seed=7, behaviour=SERVER), sim("overseas", "127.0.9.3", seed=7, behaviour={**SERVER, "network_ms": 100})]
    with Fleet.of(cities, START, days=1) as fleet:
        endpoints, data = registry(fleet, work), work / "data"
        memory = Memory(data, START)
        for n in range(24):
            moment = START + timedelta(minutes=30 * n)
            crawl(endpoints, data, moment, simulated_client(moment), env={}, memory=memory, durable=False)
        end = START + timedelta(hours=12)
        summary = summarize(load(data, end), end)
        logs = {c: logged_services(fleet, c) for c in fleet.servers}
    return {e.id: e for e in summary.endpoints}, logs


def test_server_time_is_the_servers_own_near_and_far(near_and_far):
    published, logs = near_and_far
    for city_id in ("nearby", "overseas"):
        truth = statistics.median(logs[city_id]) * 1000  # what the server itself logged taking
        assert abs(published[city_id].server_ms["p50"] - truth) <= 0.1 * truth, (city_id, published[city_id], truth)
    # The same server (the same seed: the same draws): the same time, whichever side of the ocean it is on.
    near, far = published["nearby"].server_ms["p50"], published["overseas"].server_ms["p50"]
    assert abs(near - far) <= 0.1 * near


def test_the_total_differs_by_the_round_trips(near_and_far):
    published, logs = near_and_far
    assert published["nearby"].rtt_ms == {"p50": 0.0} and published["overseas"].rtt_ms == {"p50": 200.0}
    # GET services opens each crawl's connection: the handshake's round trip, then the request's.
    for city_id, trips in (("nearby", 0), ("overseas", 2)):
        total, server = published[city_id].latency_ms["p50"], published[city_id].server_ms["p50"]
        assert abs(total - server - trips * 200) <= 0.1 * server, (city_id, total, server)
    # Ranked on the server's time, the far city is no slower; on the total it would be twice as slow.
    assert published["overseas"].latency_ms["p50"] > 2 * published["nearby"].latency_ms["p50"]


def test_ranked_on_server_time(near_and_far):
    from metrics.compare import percentiles

    published, _ = near_and_far
    ranks = percentiles(list(published.values()))
    assert ranks["overseas"]["server_p50"] is not None and ranks["nearby"]["server_p50"] is not None
    faster = min(published, key=lambda c: published[c].server_ms["p50"])
    assert ranks[faster]["server_p50"] == 100.0


def test_on_a_real_socket_the_server_time_is_what_the_server_took(tmp_path):
    """Real time, real sockets: the kernel's stamp of the answer's first byte, less the handshake's round trip, against
    the server's own log of each answer (from the request read to the answer written)."""
    slow = sim("realtime", "127.0.9.4", behaviour={"latency_ms": 150, "latency_spread": 0, "requests_latency_factor": 1})
    # Up to three crawls, the first whose every call is within 10 % judged: a CPU shared with the other test workers
    # only ever adds to what the crawler sees (174 ms against the server's 151 ms, once, on a loaded fresh clone), while
    # an estimate that is wrong (the total time, or a round trip not taken off) is wrong in every crawl.
    for attempt in range(3):
        with Fleet.of([slow], START) as fleet:
            fleet.clock.set(None)  # the real clock: the server sleeps its latency
            (tmp_path / str(attempt)).mkdir()
            endpoints, data = registry(fleet, tmp_path / str(attempt)), tmp_path / str(attempt) / "data"
            now = datetime.now(timezone.utc).replace(microsecond=0)
            report = crawl(endpoints, data, now, fast_client, env={}, memory=Memory(data, now), durable=False)
            logged = [took for _, path, status, took in fleet.states["realtime"].log if status == 200]
        calls = [p for p in report.results["realtime"].probes if p.outcome == "ok"]
        assert len(calls) == len(logged) >= 3
        for call in calls:
            assert call.rtt_ms is not None and call.rtt_ms <= 5  # loopback
            assert call.elapsed_ms >= call.server_ms
        off = [(c.method, c.server_ms, took) for c, took in zip(calls, logged) if abs(c.server_ms - took * 1000) > 0.1 * took * 1000]
        if not off:
            break
    assert off == []
