import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from crawler.crawl import crawl
from crawler.guard import address_refusal
from crawler.probe import classify_exception, fetch, make_session
from crawler.registry import load_registry
from tests.conftest import NOW, ROOT, read_lines, record_validator


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True, env=env, timeout=120)


def by_endpoint(records):
    out = {}
    for r in records:
        out.setdefault(r["endpoint"], []).append(r)
    return out


def test_a_crawl_of_loopback_servers_through_the_real_cli(fleet_registry, tmp_path):
    data = tmp_path / "data"
    result = run_cli("--endpoints", str(fleet_registry), "--data", str(data), "--now", NOW.isoformat(), "--allow-loopback")
    assert result.returncode == 0, result.stderr
    probes = by_endpoint(read_lines(data, "probes"))
    outcomes = {e: [(p["method"], p["outcome"]) for p in ps] for e, ps in probes.items()}
    assert outcomes == {
        "springfield": [("services", "ok"), ("requests", "ok")],
        "shelbyville": [("services", "ok"), ("requests", "ok")],
        "ogdenville": [("services", "http_5xx"), ("requests", "http_5xx")],
        "north_haverbrook": [("services", "connect")],
    }
    spring = probes["springfield"]
    assert spring[0]["items"] == 5 and spring[0]["http_status"] == 200 and spring[0]["format"] == "json"
    assert probes["shelbyville"][0]["format"] == "xml" and probes["shelbyville"][0]["items"] == 5
    assert all(p["crawl"] == "2026-11-20T12:00:00Z" and p["probed_at"] >= p["crawl"] for ps in probes.values() for p in ps)
    for kind in ("probes", "tickets", "endpoints"):
        validator = record_validator(kind)
        for record in read_lines(data, kind):
            validator.validate(record)
    tickets = read_lines(data, "tickets")
    # The simulator's tickets in the 24 hours before the crawl, as the requests call asked for.
    assert Counter(t["endpoint"] for t in tickets)["springfield"] == probes["springfield"][1]["items"] > 0
    assert all("2026-11-19T12:00:00Z" <= t["requested"] < "2026-11-20T12:00:00Z" for t in tickets)
    assert {e["endpoint"] for e in read_lines(data, "endpoints")} == {"springfield", "shelbyville", "ogdenville", "north_haverbrook"}
    assert "springfield: services ok" in result.stdout
    assert "crawl 2026-11-20T12:00:00Z: 4 endpoints, 7 calls (connect 1, http_5xx 2, ok 4)" in result.stdout


def test_a_second_crawl_appends_and_stores_only_changed_tickets(fleet, fleet_registry, tmp_path):
    data = tmp_path / "data"
    args = ["--endpoints", str(fleet_registry), "--data", str(data), "--allow-loopback", "--only", "springfield"]
    assert run_cli(*args, "--now", NOW.isoformat()).returncode == 0
    first_tickets = read_lines(data, "tickets")
    before = {p: p.read_bytes() for p in data.rglob("*.jsonl")}
    later = NOW.replace(minute=30)
    fleet.clock.set(later)
    assert run_cli(*args, "--now", later.isoformat()).returncode == 0
    for path, old in before.items():
        assert path.read_bytes().startswith(old)  # history is never rewritten
    assert len(read_lines(data, "probes")) == 4
    assert len(read_lines(data, "endpoints")) == 1  # the registry entry did not change
    new = read_lines(data, "tickets")[len(first_tickets):]
    seen = {(t["id"], t["status"], t["updated"]) for t in first_tickets}
    assert all((t["id"], t["status"], t["updated"]) not in seen for t in new)


def test_loopback_is_refused_without_the_flag_and_that_is_data_not_an_error(fleet_registry, tmp_path):
    data = tmp_path / "data"
    result = run_cli("--endpoints", str(fleet_registry), "--data", str(data), "--now", NOW.isoformat())
    assert result.returncode == 0
    probes = read_lines(data, "probes")
    assert {p["outcome"] for p in probes} == {"refused"}
    assert probes[0]["error"] == "refused loopback address 127.0.0.2 (--allow-loopback permits 127.0.0.0/8 and ::1)"
    assert probes[0]["http_status"] is None and probes[0]["elapsed_ms"] is None


def test_unknown_only_id_is_a_usage_error(fleet_registry, tmp_path):
    result = run_cli("--endpoints", str(fleet_registry), "--data", str(tmp_path / "d"), "--only", "atlantis")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{fleet_registry}: no endpoint with id 'atlantis'; nothing was crawled"
    assert not (tmp_path / "d").exists()


def test_endpoints_are_probed_concurrently(fleet_registry, tmp_path):
    """Four endpoints that each take about 0.6 s, crawled in well under the 2.4 s a serial crawl needs."""
    endpoints = load_registry(fleet_registry)
    started = []

    class SlowSession(requests.Session):
        def get(self, *a, **kw):
            started.append(time.monotonic())
            time.sleep(0.3)
            return super().get(*a, **kw)

    def factory():
        s = make_session(True)
        slow = SlowSession()
        slow.__dict__.update(s.__dict__)
        return slow

    crawl(endpoints, tmp_path / "data", NOW, factory)
    # All four endpoints' first calls start together, not one after another.
    firsts = sorted(started)[:4]
    assert firsts[-1] - firsts[0] < 0.25


@pytest.mark.parametrize("address, refusal", [
    ("8.8.8.8", None),
    ("2606:4700::1111", None),
    ("127.0.0.1", "refused loopback address 127.0.0.1 (--allow-loopback permits 127.0.0.0/8 and ::1)"),
    ("10.1.2.3", "refused private address 10.1.2.3"),
    ("192.168.1.1", "refused private address 192.168.1.1"),
    ("169.254.169.254", "refused link-local address 169.254.169.254"),
    ("::ffff:127.0.0.1", "refused loopback address 127.0.0.1 (--allow-loopback permits 127.0.0.0/8 and ::1)"),
    ("fe80::1", "refused link-local address fe80::1"),
    ("100.64.0.1", "refused non-public address 100.64.0.1"),
    ("0.0.0.0", "refused private address 0.0.0.0"),
])
def test_address_guard(address, refusal):
    assert address_refusal(address, allow_loopback=False) == refusal


def test_allow_loopback_permits_only_loopback():
    assert address_refusal("127.0.0.9", allow_loopback=True) is None
    assert address_refusal("::1", allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) == "refused private address 10.0.0.1"


def test_the_socket_guard_refuses_what_slips_past_the_name_check(fleet):
    """A connection actually opened to a refused peer is closed before any byte is sent."""
    with make_session(allow_loopback=False) as session, pytest.raises(requests.exceptions.ConnectionError) as info:
        session.get(fleet.base_url("springfield") + "services.json", timeout=5)
    assert classify_exception(info.value) == (
        "refused", "refused loopback address 127.0.0.2 (--allow-loopback permits 127.0.0.0/8 and ::1)")


class Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_redirect_to_another_scheme_is_refused():
    Redirector.target = "file:///etc/passwd"
    server = serve(Redirector)
    try:
        with make_session(True) as session:
            fetched = fetch(session, f"http://127.0.0.1:{server.server_address[1]}/services.json", {})
    finally:
        server.shutdown()
        server.server_close()
    assert fetched.outcome == "refused"


def test_a_server_that_never_answers_costs_at_most_the_budget(monkeypatch):
    import crawler.probe as probe

    class Silent(BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(3)

        def log_message(self, *a):
            pass

    monkeypatch.setattr(probe, "CALL_BUDGET_S", 0.5)
    server = serve(Silent)
    try:
        started = time.monotonic()
        with make_session(True) as session:
            fetched = probe.fetch(session, f"http://127.0.0.1:{server.server_address[1]}/services.json", {})
        took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert fetched.outcome == "timeout"
    assert took < 2.5
