"""build.py --cache: daily aggregates of older days give the same site as reading every record."""

import contextlib
import filecmp
import io
import json
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
        f.write('{"calls":[{"e":"dropped","m":"services","o":"connect","s":null}],"crawl":"2026-09-01T18:00:00Z",'
                '"crawler":"0.2.0","endpoint":"alpha","v":2}\n')
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
    """The history read a day at a time (older days as crawl statuses only, fresh, cold or warm cache) against every
    record read whole and cut to the same windows in memory (History.of)."""
    from history import History, load
    from metrics.summary import summarize
    from records import parse_moment

    moment = parse_moment(now)
    whole = summarize(History.of(read_data(HISTORY).records, moment), moment)
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # fresh, cold, warm
        assert summarize(load(HISTORY, moment, cache), moment) == whole


def test_a_cached_day_reads_back_the_same_calls_and_statuses(tmp_path):
    """The cache file of a day: every column, text with nulls, quotes and newlines, findings, times; no pickle."""
    from datetime import date

    from history import cache
    from history.days import key_of, read_day

    data = tmp_path / "data"
    day = data / "probes" / "2026" / "2026-11-20.jsonl"
    day.parent.mkdir(parents=True)
    calls = [{"m": "services", "ms": 210, "b": 900, "n": 5, "c": "application/json"},
             {"m": "requests", "t": 3, "o": "http_5xx", "s": 503, "ms": 40, "e": 'He said "down"\nfor ✓ maintenance', "p": 1,
              "x": {"date_not_w3c": "2026-11-20 12:00"}},
             {"m": "request", "t": 4, "o": "timeout", "s": None, "g": "A-1", "r": 2.5, "a": 2}]
    day.write_text("\n".join(json.dumps(line) for line in [
        {"v": 2, "crawl": "2026-11-20T12:00:00Z", "endpoint": "alpha", "crawler": "0.3.0", "calls": calls},
        {"v": 2, "crawl": "2026-11-20T12:30:00Z", "endpoint": "beta", "crawler": "0.3.0", "calls": calls[:1]}]) + "\n")
    day_of = date(2026, 11, 20)
    fresh = read_day((data, day_of, True))
    cache.store(tmp_path / "cache", day_of, fresh)
    assert (tmp_path / "cache" / "days" / "2026-11-20.bin").exists() and (tmp_path / "cache" / "calls" / "2026-11-20.bin").exists()
    cached = cache.cached(tmp_path / "cache", key_of(data, day_of), day_of, True)
    for part in ("calls", "statuses"):
        a, b = fresh[part].astype(object), cached[part].astype(object)
        assert list(a.columns) == list(b.columns)
        assert a.where(a.notna(), None).values.tolist() == b.where(b.notna(), None).values.tolist(), part
    assert cached["services"] == {"alpha": ["2026-11-20T12:00:00Z", 5], "beta": ["2026-11-20T12:30:00Z", 5]}
    assert cached["statuses"]["status"].tolist() == ["degraded", "degraded"]  # alpha's listing failed; beta never listed
    with open(day, "a") as f:  # the day file grew: the cached day no longer stands for it
        f.write('{"v":2,"crawl":"2026-11-20T13:00:00Z","endpoint":"alpha","crawler":"0.3.0","calls":[]}\n')
    assert cache.cached(tmp_path / "cache", key_of(data, day_of), day_of, True) is None


def test_the_social_cards_are_drawn_once_and_kept_while_a_build_shows_them(tmp_path):
    from render.social import Cards, card

    first = Cards(tmp_path / "social")
    png = first.card("Alpha", "up", 0.991, (1, 3))
    assert png == card("Alpha", "up", 0.991, (1, 3))
    [kept] = (tmp_path / "social").glob("*.png")
    kept.write_bytes(b"kept")  # the next build takes it from the directory, not from drawing it again
    second = Cards(tmp_path / "social")
    assert second.card("Alpha", "up", 0.991, (1, 3)) == b"kept"
    assert second.card("Alpha", "down", 0.5, (3, 3)) == card("Alpha", "down", 0.5, (3, 3))  # figures changed: drawn
    third = Cards(tmp_path / "social")
    third.card("Alpha", "down", 0.5, (3, 3))
    third.prune()
    assert not kept.exists() and len(list((tmp_path / "social").glob("*.png"))) == 1
    assert Cards(None).card("Alpha", "up", 0.991, (1, 3)) == png  # no cache directory: drawn each time
    # A figure that changes below what the card shows keeps the card.
    kept_now = Cards(tmp_path / "social")
    assert kept_now.card("Alpha", "down", 0.50004, (3, 3)) == card("Alpha", "down", 0.5, (3, 3))
    assert len(list((tmp_path / "social").glob("*.png"))) == 1
