import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_demo_crawls_the_fleet_and_builds_a_site(tmp_path):
    """A short run of what `make demo` does: a simulated day, crawled every 6 hours."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "data").rglob("*"))
    result = subprocess.run(
        [sys.executable, "-m", "simulator.demo", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "site"),
         "--days", "1", "--every", "6"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "5 crawls of 5 simulated cities" in result.stdout
    api = json.loads((tmp_path / "site" / "api" / "endpoints.json").read_text())
    by_id = {e["id"]: e for e in api["endpoints"]}
    assert set(by_id) == {"springfield", "shelbyville", "capital_city", "ogdenville", "north_haverbrook"}
    assert by_id["springfield"]["status"] == "up" and by_id["springfield"]["uptime"]["24h"] == 1.0
    assert by_id["springfield"]["service_count"] == 5 and by_id["springfield"]["requests_per_day"] > 0
    assert by_id["shelbyville"]["status"] == "up"  # XML only, asked for XML
    assert by_id["north_haverbrook"]["status"] == "down" and by_id["north_haverbrook"]["uptime"]["24h"] == 0.0
    assert by_id["capital_city"]["latency_ms"]["p50"] >= 300  # the slow one
    assert (tmp_path / "site" / "endpoints" / "ogdenville.html").exists()
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "data").rglob("*")) == before  # never the committed data/
    assert len(list((tmp_path / "work" / "data" / "probes").glob("*/*.jsonl"))) >= 1
