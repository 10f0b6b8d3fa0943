import json
import os
import signal
import subprocess
import sys

import requests

from tests.conftest import ROOT


def iso_days_before(stamp: str, days: int) -> str:
    from datetime import datetime, timedelta
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_demo_crawls_the_world_and_builds_a_site(tmp_path):
    """A short run of what `make demo` does: the default dozen cities for a simulated day, every 3 hours."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "data").rglob("*"))
    result = subprocess.run(
        [sys.executable, "-m", "simulator.demo", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "site"),
         "--days", "1", "--every", "180"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "12 simulated cities, 1 days of crawls every 180 minutes" in result.stdout
    [said] = [line for line in result.stdout.splitlines() if line.startswith("Incidents: the crawl workflow would now ")]
    api = json.loads((tmp_path / "site" / "api" / "endpoints.json").read_text())
    by_id = {e["id"]: e for e in api["endpoints"]}
    assert len(by_id) == 12
    assert by_id["quietbrook"]["status"] == "up" and by_id["quietbrook"]["uptime"]["24h"] == 1.0
    assert by_id["capitol"]["service_count"] == 5  # XML only, asked for XML
    assert by_id["molasses"]["latency_ms"]["p50"] > 1000  # the slow one, in simulated milliseconds
    assert by_id["lakeport"]["requests_per_day"] > 0
    # Complete from the first day: the backfill has read every city's week (and more) before the end of it, the
    # city that ignores paging and the one that keeps 30 days included, and never asked past the short history.
    end = api["generated_at"]
    for e in api["endpoints"]:
        assert e["coverage"]["requests_since"] <= iso_days_before(end, 7), e["id"]
    probes = [json.loads(line) for p in (tmp_path / "work" / "data" / "probes").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert not [c for line in probes if line.get("endpoint") == "molasses" for c in line["calls"] if c.get("o") == "http_4xx"]
    # Lakeport and Golden Gate publish open data: a day of each was fetched, with types the API never shows;
    # their volunteers' audits were imported.
    for city in ("lakeport", "goldengate"):
        twin = by_id[city]["twin"]
        assert twin["tickets"] > 0 and 0 < twin["exposed_ticket_share"] < 1 and 0 < twin["adoption_share"] < 1
    assert by_id["capitol"]["twin"] is None
    audits = (tmp_path / "work" / "data" / "audits").rglob("*.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in audits) > 0
    truth = json.loads((tmp_path / "work" / "truth" / "cities.json").read_text())
    assert set(truth["cities"]) == set(by_id)
    assert (tmp_path / "work" / "truth" / "tickets.jsonl").stat().st_size > 0
    # Harborview refuses past its limit with a 429 and Retry-After: its page tells an app developer both what its
    # platform documents and what the crawl learnt, as many calls a minute as the simulated server takes.
    import yaml
    allowed = yaml.safe_load((ROOT / "simulator" / "scenarios" / "default" / "02-harborview.yaml").read_text())["behaviour"]["rate_limit"]
    rate = by_id["harborview"]["build_on"]["rate_limit"]
    assert rate["documented"] == {"per_minute": 10, "source": "platform"}
    assert rate["learned"]["refusals"] >= 1 and rate["learned"]["per_minute"] == allowed["per_minute"]
    page = (tmp_path / "site" / "endpoints" / "harborview.html").read_text()
    assert ('<dd id="rate-limit">10 requests a minute, documented for its platform (Connected Bits).\nAnswered 429 Too Many Requests '
            in page) and f"after {allowed['per_minute']} calls in a minute" in page
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "data").rglob("*")) == before  # never the committed data/


def test_serve_prints_the_base_urls_and_answers(tmp_path):
    city = tmp_path / "solo.yaml"
    city.write_text("id: solo\nhost: 127.0.8.1\nbehaviour: {latency_ms: 5}\n")
    process = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--scenario", str(city), "--now", "2026-11-20T12:00:00Z"],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("solo: http://127.0.8.1:") and line.endswith("/open311/v2/")
        services = requests.get(line.split(": ", 1)[1] + "services.json", timeout=10).json()
        assert len(services) == 5
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        process.stdout.close()
    assert process.returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n")
    result = subprocess.run([sys.executable, "-m", "simulator", "serve", "--scenario", str(bad)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 2 and "id: 'x' does not match" in result.stderr
