"""Probe lines (layout v2, records/terse.py): the same records back, the schema, and a bad line named and skipped."""

import json

import jsonschema

from records import terse
from records.read import read_data
from tests.conftest import ROOT, read_lines
from tests.test_crawl import run_main

HISTORY = ROOT / "tests" / "fixtures" / "history"


def sorted_records(records):
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def test_packing_gives_back_every_record_exactly():
    """Exactly, elapsed_ms and bytes included: the fixture's are already kept to two significant digits."""
    probes = read_data(HISTORY, kinds=("probes",)).records["probes"]
    lines = terse.pack(probes)
    assert len(lines) < len(probes)
    assert sorted_records(c for line in lines for c in terse.expand(line)) == sorted_records(probes)


def test_elapsed_ms_and_bytes_are_kept_to_two_significant_digits_within_five_percent():
    cases = {7: 7, 99: 99, 640: 640, 649: 650, 1234: 1200, 12717: 13000, 48211: 48000, 1_234_567: 1_200_000}
    assert {value: terse.two_digits(value) for value in cases} == cases
    assert all(abs(terse.two_digits(v) - v) <= 0.05 * v for v in range(1, 200_000, 7))
    probe = {**read_data(HISTORY, kinds=("probes",)).records["probes"][0], "elapsed_ms": 1234, "bytes": 48211, "items": 42}
    [line] = terse.pack([probe])
    [back] = terse.expand(line)
    assert (back["elapsed_ms"], back["bytes"], back["items"]) == (1200, 48000, 42)  # items are counts: kept whole
    assert terse.pack([{**probe, "elapsed_ms": None}])[0]["calls"][0].get("ms") is None  # null stays null


def test_a_crawl_writes_lines_that_match_their_schema(fleet_registry, tmp_path):
    from tests.conftest import NOW
    assert run_main("--endpoints", str(fleet_registry), "--data", str(tmp_path), "--now", NOW.isoformat(), "--allow-loopback")[0] == 0
    schema = json.loads((ROOT / "schemas" / "probe_line.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    raw = [json.loads(line) for path in (tmp_path / "probes").rglob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(raw) == 4 and all(line["v"] == 2 for line in raw)  # one line per endpoint
    for line in raw:
        validator.validate(line)
    assert len(read_lines(tmp_path, "probes")) > 4


def test_a_malformed_line_is_reported_and_skipped(tmp_path):
    day = tmp_path / "probes" / "2026" / "2026-11-20.jsonl"
    day.parent.mkdir(parents=True)
    good = {"v": 2, "crawl": "2026-11-20T12:00:00Z", "endpoint": "alpha", "crawler": "0.3.0", "calls": [{"m": "services", "ms": 200}]}
    bad_type = {**good, "calls": [{"m": "services", "ms": "slow"}]}
    unknown = {**good, "calls": [{"m": "services", "zz": 1}]}
    one_call_a_line = {"v": 1, "crawl": "2026-11-20T12:00:00Z", "endpoint": "alpha", "method": "services"}  # the old layout
    day.write_text("\n".join(json.dumps(x) for x in (good, bad_type, unknown, {**good, "calls": "none"}, one_call_a_line))
                   + "\n{not json\n")
    loaded = read_data(tmp_path)
    assert [(p["method"], p["elapsed_ms"], p["outcome"], p["http_status"]) for p in loaded.records["probes"]] == [("services", 200, "ok", 200)]
    assert [p.split(": ", 1)[1] for p in loaded.problems] == [
        "not a v2 probe line: Expected `int | null`, got `str` - at `$.calls[0].ms`; skipped",
        "not a v2 probe line: Object contains unknown field `zz` - at `$.calls[0]`; skipped",
        "not a v2 probe line: Expected `array`, got `str` - at `$.calls`; skipped",
        "a probe line of layout v1 (one call a line, before crawler 0.3.0), which is no longer read; skipped",
        "not valid JSON (JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); skipped",
    ]
