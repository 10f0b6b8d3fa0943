"""Probe records in layout v2 (records/terse.py): the same records back, the schema, and the migration of v1 files."""

import json
import shutil
import subprocess
import sys

import jsonschema

from records import terse
from records.migrate import migrate_file
from records.read import read_data
from tests.conftest import ROOT, read_lines
from tests.test_crawl import run_main

HISTORY = ROOT / "tests" / "fixtures" / "history"


def sorted_records(records):
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def test_packing_gives_back_every_record_exactly():
    probes = read_data(HISTORY, kinds=("probes",)).records["probes"]
    lines = terse.pack(probes)
    assert len(lines) < len(probes)
    assert sorted_records(c for line in lines for c in terse.expand(line)) == sorted_records(probes)


def test_a_crawl_writes_v2_lines_that_match_their_schema(fleet_registry, tmp_path):
    from tests.conftest import NOW
    assert run_main("--endpoints", str(fleet_registry), "--data", str(tmp_path), "--now", NOW.isoformat(), "--allow-loopback")[0] == 0
    schema = json.loads((ROOT / "schemas" / "probe_line.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    raw = [json.loads(line) for path in (tmp_path / "probes").rglob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(raw) == 4 and all(line["v"] == 2 for line in raw)  # one line per endpoint
    for line in raw:
        validator.validate(line)
    assert len(read_lines(tmp_path, "probes")) > 4


def test_the_migration_rewrites_v1_files_and_loses_nothing(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(HISTORY, data)
    before = read_data(data)
    size = sum(p.stat().st_size for p in (data / "probes").rglob("*.jsonl"))
    result = subprocess.run([sys.executable, "-m", "records.migrate", "--data", str(data)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "rewrote 4 probe day files" in result.stdout
    # The corrupt line of the history is kept as it was, and said.
    assert "2026-11-20.jsonl:3: not a sound v1 probe record; kept as it was" in result.stderr
    after = read_data(data)
    assert sorted_records(after.records["probes"]) == sorted_records(before.records["probes"])
    assert [p.split(":", 2)[2] for p in after.problems] == [p.split(":", 2)[2] for p in before.problems]  # the same bad line
    assert sum(p.stat().st_size for p in (data / "probes").rglob("*.jsonl")) < size
    again = subprocess.run([sys.executable, "-m", "records.migrate", "--data", str(data)], capture_output=True, text=True, cwd=ROOT)
    assert "rewrote 0 probe day files" in again.stdout
    assert migrate_file(next((data / "probes").rglob("*.jsonl")))[0] == 0


def test_a_malformed_v2_line_is_reported_and_skipped(tmp_path):
    day = tmp_path / "probes" / "2026" / "2026-11-20.jsonl"
    day.parent.mkdir(parents=True)
    good = {"v": 2, "crawl": "2026-11-20T12:00:00Z", "endpoint": "alpha", "crawler": "0.3.0", "calls": [{"m": "services", "ms": 200}]}
    bad_type = {**good, "calls": [{"m": "services", "ms": "slow"}]}
    unknown = {**good, "calls": [{"m": "services", "zz": 1}]}
    day.write_text("\n".join(json.dumps(x) for x in (good, bad_type, unknown, {**good, "calls": "none"})) + "\n")
    loaded = read_data(tmp_path)
    assert [(p["method"], p["elapsed_ms"], p["outcome"], p["http_status"]) for p in loaded.records["probes"]] == [("services", 200, "ok", 200)]
    assert [p.split(": ", 1)[1] for p in loaded.problems] == [
        "not a v2 probe line: Expected `int | null`, got `str` - at `$.calls[0].ms`; skipped",
        "not a v2 probe line: Object contains unknown field `zz` - at `$.calls[0]`; skipped",
        "not a v2 probe line: Expected `array`, got `str` - at `$.calls`; skipped",
    ]
