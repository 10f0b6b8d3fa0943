"""The crawl's digests of its older days (crawler/digest.py), kept between runs: a crawl that starts from them knows
what one that reads data/ knows, and a digest that is missing, out of date or unreadable is made again."""

import json
import shutil
from datetime import datetime, timezone

import pytest

from crawler import digest
from crawler.memory import Memory
from records.coverage import merged
from records.layout import day_path
from tests.test_archive import compacted  # noqa: F401  # the fixture: the same history, November archived
from tests.test_crawl import run_main
from tests.test_parquet import data, module_fleet_registry  # noqa: F401  # the fixtures: every kind of record

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)  # the 20th's crawl is older than the last KEPT days: digested


def known(memory: Memory) -> tuple:
    """What a crawl takes from its memory of probes: where each backfill goes on, what was read whole, the paces."""
    intervals = memory.covered()
    return {e: merged(runs) for e, runs in intervals.items()}, memory.backfilled, memory.paces.taught


@pytest.fixture
def asked(monkeypatch):
    """The days each digests() call read from data/."""
    days: list[list] = []
    real = digest.probe_calls

    def probe_calls(data_dir, wanted, *rest):
        days.append(list(wanted))
        return real(data_dir, wanted, *rest)

    monkeypatch.setattr(digest, "probe_calls", probe_calls)
    return days


@pytest.mark.parametrize("archived", [False, True])
def test_a_crawl_starting_from_its_digests_knows_what_one_reading_data_knows(data, compacted, archived, tmp_path, asked):  # noqa: F811
    folder = compacted[0] if archived else data
    fresh = known(Memory(folder, NOW))
    assert fresh[0] and fresh[1], "the history has listings and a backfill before the last KEPT days"
    cache = tmp_path / "cache"
    assert known(Memory(folder, NOW, cache)) == fresh  # made, and kept
    kept = sorted(p.name for p in cache.iterdir())
    if archived:  # each day of an archived month in the backfill's quarter, most of them empty: the month is read once
        assert kept == [f"2026-09-{d:02}.json" for d in range(1, 31)] + [f"2026-11-{d:02}.json" for d in range(1, 22)]
    else:
        assert kept == ["2026-09-01.json", "2026-11-01.json", "2026-11-15.json", "2026-11-20.json"]
    asked.clear()
    assert known(Memory(folder, NOW, cache)) == fresh  # read back
    assert asked == [[]], "no probe line is read when every digest holds"


def test_a_day_file_that_grew_is_digested_again(data, tmp_path, asked):  # noqa: F811
    copy, cache = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(data, copy)
    before = known(Memory(copy, NOW, cache))
    day = day_path(copy, "probes", datetime(2026, 11, 20).date())
    line = json.loads(day.read_text().splitlines()[-1])
    line["crawl"] = line["crawl"].replace("T12:", "T13:")  # a late crawl merged into the day
    with day.open("a") as f:
        f.write(json.dumps(line) + "\n")
    asked.clear()
    after = known(Memory(copy, NOW, cache))
    assert [[d.isoformat() for d in days] for days in asked] == [["2026-11-20"]]
    assert after == known(Memory(copy, NOW)) and after != before


def test_a_digest_that_does_not_hold_is_made_again_and_days_no_longer_read_go(data, tmp_path, asked):  # noqa: F811
    cache = tmp_path / "cache"
    fresh = known(Memory(data, NOW, cache))
    (cache / "2026-11-15.json").write_text('{"key": [1, "2026-11-15.jsonl"')  # cut short
    older = json.loads((cache / "2026-11-20.json").read_text())
    older["key"][0] = digest.VERSION - 1
    (cache / "2026-11-20.json").write_text(json.dumps(older))
    (cache / "2026-11-01.json").write_text("[]")  # not ours
    (cache / "2025-01-01.json").write_text("{}")  # a day long past the backfill's quarter
    asked.clear()
    assert known(Memory(data, NOW, cache)) == fresh
    assert [[d.isoformat() for d in days] for days in asked] == [["2026-11-20", "2026-11-15", "2026-11-01"]]
    assert sorted(p.name for p in cache.iterdir()) == ["2026-09-01.json", "2026-11-01.json", "2026-11-15.json", "2026-11-20.json"]
    assert json.loads((cache / "2026-11-20.json").read_text())["key"] == [digest.VERSION, "2026-11-20.jsonl",
                                                                          day_path(data, "probes", NOW.date().replace(day=20)).stat().st_size]


def test_the_crawl_command_keeps_its_digests_in_the_cache_it_is_given(module_fleet_registry, data, tmp_path):  # noqa: F811
    copy, cache = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(data, copy)
    code, _ = run_main("--endpoints", str(module_fleet_registry), "--data", str(copy), "--now", NOW.isoformat().replace("+00:00", "Z"),
                       "--allow-loopback", "--only", "springfield", "--cache", str(cache))
    assert code == 0
    assert "2026-11-20.json" in {p.name for p in cache.iterdir()}
