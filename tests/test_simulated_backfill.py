"""The backfill against simulated cities: a newly watched city right from its first crawls, windows split at a cap,
a rate limit kept to, a history that ends, a day without crawls filled in later."""

from datetime import datetime, timedelta, timezone

import pytest

from simulator.fleet import Fleet
from simulator.scenario import city
from tests.conftest import NOW, sim


def test_a_newly_watched_city_shows_its_real_rate_at_once(tmp_path):
    """8 crawls over 21 hours of a city of 20 requests a day. The backfill reads its history a day a call with the
    budget each crawl leaves, so the whole week is covered at once: every ticket of it, over 7. (Before: 5.43.)"""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=21)
    world = run([city(sim("newtown", "127.0.7.10", requests_per_day=20))], tmp_path, start, end, timedelta(hours=3),
                progress=False, shards=1)
    [entry] = as_json(summarize(load(tmp_path / "data", end), end))["endpoints"]
    assert entry["coverage"]["requests_since"] <= (end - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    week = [t for t in world.truth["newtown"].tickets if end - timedelta(days=7) <= t.requested < end]
    assert entry["requests_per_day"] == round(len(week) / 7, 2)  # every ticket of the week, over 7
    assert 20 * 0.8 <= entry["requests_per_day"] <= 20 * 1.2


def test_the_backfill_makes_a_new_city_right_from_its_first_crawls(tmp_path):
    """90 days of history at 30 tickets a day, 60 % of them closed 1 to 15 minutes after the request with only a work
    order: after its first three crawls, 30 minutes apart, the site already has its rate and an accuracy panel to
    speak of, its share closed within 10 minutes holding the truth of the closings it read."""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=1)
    fast = sim("fastclose", "127.0.7.11", requests_per_day=30, closure={"work_order": 0.6})
    world = run([city(fast)], tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1, panel_rate=1.0)
    summary = as_json(summarize(load(tmp_path / "data", end), end))
    [entry] = summary["endpoints"]
    week = [t for t in world.truth["fastclose"].tickets if end - timedelta(days=7) <= t.requested < end]
    assert abs(entry["requests_per_day"] - len(week) / 7) <= 0.1 * len(week) / 7
    assert entry["accuracy"]["closed_n"] >= 100
    fast_close = summary["details"]["fastclose"]["accuracy_detail"]["fast_close"]
    since = datetime.fromisoformat(entry["coverage"]["requests_since"].replace("Z", "+00:00"))
    closings = [next(when for when, status, _ in t.events if status == "closed") - t.requested
                for t in world.truth["fastclose"].tickets
                if since <= t.requested < end and any(status == "closed" and when <= end for when, status, _ in t.events)]
    truth = sum(d < timedelta(minutes=10) for d in closings) / len(closings)
    assert fast_close["low"] <= truth <= fast_close["high"], (fast_close, truth)
    # What needs following over time waits for the panel to follow tickets.
    assert summary["details"]["fastclose"]["accuracy_detail"]["reopen"]["value"] is None


@pytest.mark.parametrize("per_day, cap, hours, reach", [(120, 50, 6, 2), (2400, 1000, 1, 1)])
def test_the_backfill_splits_windows_at_a_cap_and_misses_no_ticket(tmp_path, per_day, cap, hours, reach):
    """A city that answers at most `cap` requests (the spec's 1000, or 50) and does not page: a day's window reaches
    the cap, so it is halved (and the next crawl goes on with the half) until the windows hold less; every ticket of
    the covered run is read."""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from records.read import read_data
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=hours)
    capped = sim("capton", "127.0.7.12", requests_per_day=per_day, quirks={"max_requests": cap})
    # Tickets from 3 days before the start: the cap is met within a day (91 days at 2400 a day were 218,000 tickets to
    # make and write out, 20 s of the test).
    world = run([city(capped)], tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1, before=timedelta(days=3))
    [entry] = as_json(summarize(load(tmp_path / "data", end), end))["endpoints"]
    since = datetime.fromisoformat(entry["coverage"]["requests_since"].replace("Z", "+00:00"))
    assert since <= start - timedelta(days=reach)  # more than the listing's day: the days before it
    probes = read_data(tmp_path / "data", kinds=("probes",)).records["probes"]
    capped_calls = [p for p in probes if p["method"] == "backfill" and p["error"]]
    assert capped_calls and all(p["error"].startswith("capped at ") for p in capped_calls)
    stored = {t["id"] for t in read_data(tmp_path / "data", kinds=("tickets",)).records["tickets"]}
    truth = {t.id for t in world.truth["capton"].tickets if since <= t.requested < end}
    assert truth <= stored, len(truth - stored)
    # The site's columnar reading of the covered run is the crawler's call by call (records.coverage.read_whole).
    from records.coverage import covered_since, read_whole
    intervals = [i for p in probes if (i := read_whole(p["crawl"], p["method"], p["page"], p["outcome"], p["error"], p["target"]))]
    assert covered_since(intervals) == entry["coverage"]["requests_since"]


def _probes_by_crawl(data):
    from records.read import read_data
    out = {}
    for p in read_data(data, kinds=("probes",)).records["probes"]:
        out.setdefault(p["crawl"], []).append(p)
    return out


def _at(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_rate_limited_city_is_backfilled_over_several_crawls_without_a_429(tmp_path):
    """10 requests a minute, as Austin documents it (the registry's pace for Connected Bits: a call every 6 s). The
    backfill goes on crawl after crawl where the last one stopped, never refused, and no crawl passes its budget."""
    from crawler.client import Limits
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    limited = sim("tenaminute", "127.0.7.13", platform="Connected Bits", requests_per_day=30,
                  behaviour={"rate_limit": {"per_minute": 10, "retry_after_s": 20}})
    run([city(limited)], tmp_path, start, start + timedelta(hours=3), timedelta(minutes=30), progress=False, shards=1)
    crawls = _probes_by_crawl(tmp_path / "data")
    assert len(crawls) == 7
    assert not [p for ps in crawls.values() for p in ps if p["outcome"] != "ok"]
    windows = []
    for crawl, probes in sorted(crawls.items()):
        ends = [_at(p["probed_at"]) + timedelta(milliseconds=p["elapsed_ms"]) for p in probes]
        assert max(ends) - _at(crawl) <= timedelta(seconds=Limits().endpoint_s) and len(probes) <= Limits().endpoint_calls
        windows += [p["target"].split("/") for p in probes if p["method"] == "backfill"]
    assert len(windows) == 7 * 4  # every crawl backfilled with what its budget left ...
    assert all(later[1] == earlier[0] for earlier, later in zip(windows, windows[1:]))  # ... each going on from the last


def test_a_city_stricter_than_its_pace_refuses_once_a_day_and_is_still_backfilled(tmp_path):
    """4 requests a minute while the registry paces at 10: the first refusal is obeyed (Retry-After), the rest of the
    crawl is paced at the 4 a minute the host took, and so are the crawls of the day after it (crawler/paces.py); its
    upness is untouched. (Before the pace was kept, each crawl was refused once: 48 refusals a day.)"""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=2)
    strict = sim("fouraminute", "127.0.7.14", platform="Connected Bits", requests_per_day=30,
                 behaviour={"rate_limit": {"per_minute": 4, "retry_after_s": 20}})
    run([city(strict)], tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1)
    crawls = _probes_by_crawl(tmp_path / "data")
    refused = [crawl for crawl, probes in crawls.items() for p in probes if p["outcome"] == "rate_limited"]
    assert refused == [min(crawls)]  # the first crawl's, and no other in the day
    for crawl, probes in crawls.items():
        assert sum(p["method"] == "backfill" and p["outcome"] == "ok" for p in probes) >= 2, crawl
    [entry] = as_json(summarize(load(tmp_path / "data", end), end))["endpoints"]
    assert entry["uptime"]["24h"] == 1.0 and entry["status"] == "up"


@pytest.mark.parametrize("documented", [True, False])
def test_the_backfill_stops_where_the_citys_history_does(tmp_path, documented):
    """A server that lists only 3 days back (a start_date further back gets 400). Documented in the registry
    (history_days), the backfill reads no further; not documented, the first refusal ends it for good."""
    import yaml

    from crawler.crawl import crawl
    from crawler.memory import Memory
    from registry import load_registry
    from tests.conftest import entry, fast_client

    with Fleet.of([sim("shortmemory", "127.0.7.15", requests_per_day=20, quirks={"history_days": 3})], NOW, days=10) as fleet:
        extra = {"history_days": 3} if documented else {}
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(id="shortmemory", base_url=fleet.base_url("shortmemory"), min_interval_s=0, **extra)]))
        endpoints, data = load_registry(path), tmp_path / "data"
        for n in range(3):
            moment = NOW + timedelta(minutes=30 * n)
            fleet.clock.set(moment)
            crawl(endpoints, data, moment, fast_client, env={}, memory=Memory(data, moment), durable=False)
    crawls = sorted(_probes_by_crawl(data).items())
    backfill = [[p for p in probes if p["method"] == "backfill"] for _, probes in crawls]
    refused = [p for calls in backfill for p in calls if p["outcome"] == "http_4xx"]
    assert len(refused) == (0 if documented else 1)
    assert backfill[1] == backfill[2] == []  # nothing more to read after the first crawl
    oldest = min(_at(p["target"].split("/")[0]) for p in backfill[0] if p["outcome"] == "ok")
    assert oldest == NOW - timedelta(days=2 if documented else 3)  # a day short of a documented limit, for safety


def test_a_day_without_crawls_is_filled_in_later(tmp_path):
    """The scheduler skips 30 hours: that time is not covered (never a day of no requests), and the first crawl after
    it reads it back (its listing, then its backfill), so the run of covered time is whole again and every request of the gap is stored."""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from records.read import read_data
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    gap = (start + timedelta(hours=1), start + timedelta(hours=31))
    end = gap[1] + timedelta(hours=2)
    world = run([city(sim("skipped", "127.0.7.16", requests_per_day=40))], tmp_path, start, end, timedelta(minutes=30),
                progress=False, shards=1, missed=(gap,))
    crawls = _probes_by_crawl(tmp_path / "data")
    assert not [c for c in crawls if gap[0] <= _at(c) < gap[1]]
    [entry] = as_json(summarize(load(tmp_path / "data", end), end))["endpoints"]
    assert _at(entry["coverage"]["requests_since"]) <= start - timedelta(days=3)  # one run again, across the gap
    stored = {t["id"] for t in read_data(tmp_path / "data", kinds=("tickets",)).records["tickets"]}
    missed = {t.id for t in world.truth["skipped"].between(gap[0] - timedelta(hours=1), gap[1])}
    assert missed and missed <= stored
    # During the gap, the site counts only the time seen whole: the week up to the last crawl, over its days.
    during = gap[1] - timedelta(minutes=1)
    window = as_json(summarize(load(tmp_path / "data", during), during))["details"]["skipped"]["windows"]["requests_per_day"]
    assert _at(window["until"]) == gap[0] - timedelta(minutes=30) and window["days"] == round(7 - 30.5 / 24, 2)
