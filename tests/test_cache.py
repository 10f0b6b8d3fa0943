"""build.py --cache: daily aggregates of older days give the same site as reading every record."""

import contextlib
import filecmp
import io
import shutil

import pytest

import build
from records.read import read_data
from tests.test_build import HISTORY


def built(data, out, now, *extra):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        assert build.main(["--data", str(data), "--out", str(out), "--now", now, *extra]) == 0
    return err.getvalue()


def same_tree(a, b):
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    different = [f for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]
    assert different == []


@pytest.mark.parametrize("now", ["2026-11-20T12:00:00Z", "2026-12-05T00:00:00Z", "2026-12-25T00:00:00Z"])
def test_a_cached_build_is_the_same_site_cold_and_warm(tmp_path, now):
    """Three moments that leave one, two and all of the fixture's crawl days to the cache."""
    built(HISTORY, tmp_path / "raw", now)
    built(HISTORY, tmp_path / "cold", now, "--cache", str(tmp_path / "cache"))
    days = sorted(p.name for p in (tmp_path / "cache" / "days").iterdir())
    assert days  # something was cached
    built(HISTORY, tmp_path / "warm", now, "--cache", str(tmp_path / "cache"))
    same_tree(tmp_path / "raw", tmp_path / "cold")
    same_tree(tmp_path / "raw", tmp_path / "warm")


def test_a_day_file_that_grew_is_aggregated_again(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(HISTORY, data)
    now = "2026-11-20T12:00:00Z"
    built(data, tmp_path / "first", now, "--cache", str(tmp_path / "cache"))
    old_day = data / "probes" / "2026" / "2026-09-01.jsonl"
    with open(old_day, "a") as f:  # a late union merge brings a down crawl of that day
        f.write('{"bytes":0,"crawl":"2026-09-01T18:00:00Z","crawler":"0.2.0","elapsed_ms":null,"endpoint":"alpha",'
                '"error":"dropped","format":"json","http_status":null,"items":null,"method":"services","outcome":"connect",'
                '"probed_at":"2026-09-01T18:00:00Z","v":1}\n')
    built(data, tmp_path / "raw", now)
    built(data, tmp_path / "cached", now, "--cache", str(tmp_path / "cache"))
    same_tree(tmp_path / "raw", tmp_path / "cached")
    assert not filecmp.cmp(tmp_path / "first" / "api" / "alpha.json", tmp_path / "cached" / "api" / "alpha.json", shallow=False)


def test_a_broken_cache_file_is_only_a_miss(tmp_path):
    now = "2026-11-20T12:00:00Z"
    built(HISTORY, tmp_path / "raw", now)
    built(HISTORY, tmp_path / "first", now, "--cache", str(tmp_path / "cache"))
    for cached in (tmp_path / "cache" / "days").iterdir():
        cached.write_text("{not json")
    built(HISTORY, tmp_path / "again", now, "--cache", str(tmp_path / "cache"))
    same_tree(tmp_path / "raw", tmp_path / "again")


@pytest.mark.parametrize("now", ["2026-11-20T12:00:00Z", "2026-12-05T00:00:00Z", "2026-12-25T00:00:00Z"])
def test_the_history_a_day_at_a_time_gives_the_figures_of_every_record(tmp_path, now):
    """daily_cache's days (older ones as crawl statuses only) against every probe record read whole."""
    import daily_cache
    from metrics.summary import summarize
    from records import parse_moment

    moment = parse_moment(now)
    records = build.read_needed(str(HISTORY), moment).records
    whole = summarize({**records, "probes": read_data(HISTORY, kinds=("probes",)).records["probes"]}, moment)
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # fresh, cold, warm
        history = daily_cache.load(HISTORY, moment, build.LOOKBACK["probes"], cache)
        assert summarize(records, moment, history) == whole
