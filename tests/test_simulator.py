"""The simulated world: GeoReport v2 as the spec says (over raw HTTP and through our parser), and
crawl + build reproducing its ground truth."""

import json
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests

from crawler import parse
from crawler.conformance import Findings
from simulator.fleet import Fleet
from simulator.scenario import ScenarioError, city, load
from simulator.world import World, uptime
from tests.conftest import NOW, sim
from vocabulary import CADENCE

BUSY = sim("busytown", "127.0.6.1", requests_per_day=60, jurisdiction_id="busy.example",
           closure={"work_order": 0.2, "vanish": 0.05}, quirks={"page_size": 50, "max_page_size": 200})


@pytest.fixture(scope="module")
def busy():
    with Fleet.of([BUSY], NOW, days=100) as fleet:
        yield fleet


def get(fleet, path, **params):
    return requests.get(fleet.base_url("busytown") + path, params=params, timeout=10)


def ids(response):
    return [r["service_request_id"] for r in response.json()]


def test_requests_default_to_90_days_and_at_most_1000(busy):
    truth = busy.world.truth["busytown"]
    all_listed = get(busy, "requests.json", page_size=200)  # paging is on: the cap applies before the page
    assert len(all_listed.json()) == 200
    listed = [t for t in truth.between(NOW - timedelta(days=90), NOW) if t.state(NOW)]
    assert len(listed) > 1000
    pages = [ids(get(busy, "requests.json", page_size=200, page=p)) for p in range(1, 7)]
    assert [len(p) for p in pages] == [200, 200, 200, 200, 200, 0]  # 1000, the spec's cap
    newest = sorted(listed, key=lambda t: t.requested, reverse=True)[:1000]
    assert sum(pages, []) == [t.id for t in newest]


def test_a_span_over_90_days_is_an_error_in_the_spec_shape(busy):
    r = get(busy, "requests.json", start_date="2026-01-01T00:00:00Z", end_date="2026-11-01T00:00:00Z")
    assert r.status_code == 400
    assert r.json() == [{"code": 400, "description": "start_date and end_date may not span more than 90 days"}]
    x = get(busy, "requests.xml", start_date="2026-01-01T00:00:00Z", end_date="2026-11-01T00:00:00Z")
    assert x.status_code == 400 and parse.error_message(x.content) == "start_date and end_date may not span more than 90 days"


def test_filters(busy):
    truth = busy.world.truth["busytown"]
    window = {"start_date": "2026-11-19T00:00:00Z", "end_date": "2026-11-20T00:00:00Z", "page_size": 200}
    day = [t for t in truth.between(datetime(2026, 11, 19, tzinfo=timezone.utc), datetime(2026, 11, 20, tzinfo=timezone.utc)) if t.state(NOW)]
    assert sorted(ids(get(busy, "requests.json", **window))) == sorted(t.id for t in day)
    closed = ids(get(busy, "requests.json", status="closed", **window))
    assert sorted(closed) == sorted(t.id for t in day if t.state(NOW)[1] == "closed")
    potholes = ids(get(busy, "requests.json", service_code="001,002", **window))
    assert sorted(potholes) == sorted(t.id for t in day if t.service_code in ("001", "002"))
    some = [day[0].id, day[-1].id]
    assert ids(get(busy, "requests.json", service_request_id=",".join(some), status="open,closed")) == some  # overrides the rest


def test_paging_and_lookups(busy):
    first, second = ids(get(busy, "requests.json")), ids(get(busy, "requests.json", page=2))
    assert len(first) == len(second) == 50 and not set(first) & set(second)
    one = get(busy, f"requests/{first[0]}.json")
    assert one.status_code == 200 and ids(one) == [first[0]]
    missing = get(busy, "requests/NOPE-1.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_a_listing_is_exactly_the_json_of_its_items_each_time(busy):
    """The server joins each item's JSON made once (simulator/server.py Listed): the bytes are json.dumps' own."""
    first, again = get(busy, "requests.json").content, get(busy, "requests.json").content
    assert first == again == json.dumps(json.loads(first)).encode() and len(json.loads(first)) == 50
    one = get(busy, f"requests/{json.loads(first)[0]['service_request_id']}.json").content
    assert one == json.dumps(json.loads(one)).encode()


def test_headers_are_read_whatever_their_case(busy):
    address = urlsplit(busy.base_url("busytown"))
    with socket.create_connection((address.hostname, address.port), timeout=5) as s:
        path = urlsplit(busy.base_url("busytown")).path + "services.json"
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nx-simulated-now: {NOW.isoformat()}\r\nCONNECTION: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):  # the server closes when done, as asked
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 200") and "X-Simulated-Latency-Ms" in head


def test_services_definitions_discovery_through_our_parser(busy):
    for fmt in ("json", "xml"):
        services = parse.services(get(busy, f"services.{fmt}").content, fmt, Findings())
        assert [s["service_code"] for s in services] == ["001", "002", "003", "004", "005"]
        with_definition = [s["service_code"] for s in services if parse.is_true(s["metadata"])]
        assert with_definition == ["001"]
        definition = parse.definition(get(busy, f"services/001.{fmt}").content, fmt, Findings())
        assert definition["attributes"][0]["code"] == "SIZE" and len(definition["attributes"][0]["values"]) == 2
        listed = parse.requests(get(busy, f"requests.{fmt}").content, fmt, Findings())
        assert len(listed) == 50
    document = parse.discovery(requests.get(busy.base_url("busytown").replace("v2/", "discovery.json"), timeout=5).content, "json", Findings())
    assert document["endpoints"][0]["url"].startswith("http://127.0.6.1:")
    assert get(busy, "services/002.json").status_code == 404  # no definition for a service without metadata


def test_jurisdiction_and_post_with_api_key(busy):
    assert get(busy, "services.json", jurisdiction_id="elsewhere.example").status_code == 404
    url = busy.base_url("busytown") + "requests.json"
    form = {"service_code": "001", "lat": "41.9", "long": "-87.6", "attribute[SIZE]": "L", "description": "Deep."}
    assert requests.post(url, data=form, timeout=5).status_code == 403
    assert requests.post(url, data={**form, "api_key": "demo-key", "attribute[SIZE]": ""}, timeout=5).json()[0]["description"] == \
        "required attributes missing: SIZE"
    made = requests.post(url, data={**form, "api_key": "demo-key"}, timeout=5)
    assert made.status_code == 200
    new_id = made.json()[0]["service_request_id"]
    assert get(busy, f"requests/{new_id}.json").json()[0]["status"] == "open"


def test_tokens_for_a_city_that_answers_with_them():
    with Fleet.of([sim("tokenville", "127.0.6.2", quirks={"post_returns": "token"})], NOW) as fleet:
        url = fleet.base_url("tokenville")
        made = requests.post(url + "requests.json", data={"api_key": "demo-key", "service_code": "002", "address_string": "1 Main St"}, timeout=5)
        token = made.json()[0]["token"]
        answer = requests.get(url + f"tokens/{token}.json", timeout=5).json()
        assert answer[0]["token"] == token and answer[0]["service_request_id"].startswith("TOK-P")


def test_quirks_and_simulated_time():
    quirky = sim("quirky", "127.0.6.3", quirks={"status_case": "capitalised", "dates": "space", "notes": False,
                                                "wrapper": "fixmystreet", "jurisdiction_required": True},
                 timezone="America/Los_Angeles", jurisdiction_id="q.example",
                 behaviour={"outages": [{"start": "day 2 00:00", "hours": 1, "kind": "unavailable"}], "latency_ms": 300})
    with Fleet.of([quirky], NOW) as fleet:
        url = fleet.base_url("quirky") + "requests.json"
        assert requests.get(url, timeout=5).json() == [{"code": 400, "description": "jurisdiction_id was not provided"}]
        raw = requests.get(url, params={"jurisdiction_id": "q.example"}, timeout=5)
        assert raw.content == json.dumps(raw.json()).encode()  # the wrapper around the items' own JSON
        findings = Findings()
        items = parse.requests(raw.content, "json", findings)
        assert {"json_wrapper", "status_case", "date_not_w3c", "date_without_timezone"} <= set(findings.as_dict())
        assert "status_notes" not in items[0] and "X-Simulated-Latency-Ms" not in raw.headers  # real time: slept
        then = fleet.world.start.replace(hour=0, minute=0) + timedelta(days=2, minutes=10)  # "day 2 00:00" counts from day 0
        down = requests.get(url, params={"jurisdiction_id": "q.example"}, headers={"X-Simulated-Now": then.isoformat()}, timeout=5)
        assert down.status_code == 503 and down.headers["Content-Type"].startswith("text/html")
        assert float(down.headers["X-Simulated-Latency-Ms"]) > 0


def test_a_city_that_dies_closes_connections():
    with Fleet.of([sim("gone", "127.0.6.4", behaviour={"dies": "day 1"})], NOW) as fleet:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(fleet.base_url("gone") + "services.json", timeout=5)


def test_scenario_files_are_checked_with_every_problem(tmp_path):
    (tmp_path / "a.yaml").write_text("id: alpha\nformats: [csv]\nbehaviour: {latency_ms: -1}\n")
    (tmp_path / "b.yaml").write_text("id: alpha\nquirks: {paging: yes}\n")
    with pytest.raises(ScenarioError) as info:
        load(tmp_path)
    assert info.value.problems == [
        f"{tmp_path}/a.yaml: behaviour/latency_ms: -1 is less than or equal to the minimum of 0",
        f"{tmp_path}/a.yaml: formats/0: 'csv' is not one of ['json', 'xml']",
        f"{tmp_path}/b.yaml: quirks: Additional properties are not allowed ('paging' was unexpected)",
    ]


def test_the_default_scenario_loads():
    cities = load("simulator/scenarios/default")
    assert len(cities) == 12 and len({c.host for c in cities}) == 12


def test_the_truth_is_the_same_every_time():
    cities = [city(BUSY)]
    a, b = (World(cities, NOW - timedelta(days=3), NOW) for _ in range(2))
    assert [(t.id, t.events) for t in a.truth["busytown"].tickets] == [(t.id, t.events) for t in b.truth["busytown"].tickets]
    outcomes = {t.outcome for t in a.truth["busytown"].tickets}
    assert {"honest", "work_order", "vanish"} <= outcomes


# -- crawl + build reproduce the truth -----------------------------------------------------------

SEEDED = [
    sim("steady", "127.0.7.1", requests_per_day=40, behaviour={"latency_ms": 200, "latency_spread": 0.3}),
    sim("stormy", "127.0.7.2", requests_per_day=20, behaviour={
        "latency_ms": 400, "outages": [{"start": "day 2 05:10", "hours": 7.5, "kind": "unavailable"},
                                       {"start": "day 5 20:00", "hours": 3, "kind": "refused"}]}),
    sim("nightly", "127.0.7.3", requests_per_day=15, formats=["xml"],
        behaviour={"latency_ms": 150, "daily_outage": {"start": "01:00", "hours": 3, "kind": "html"}}),
    sim("flappy", "127.0.7.4", requests_per_day=10, behaviour={"latency_ms": 120, "flapping": {"share": 0.1, "kind": "error"}}),
]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A simulated week, crawled every 30 minutes (the cadence; a flapping city fails whole 30-minute
    slots, so every slot is seen) by the real crawler, then computed by the real metrics."""
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    work = tmp_path_factory.mktemp("seeded")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=7, hours=1)
    world = run([city(c) for c in SEEDED], work, start, end, CADENCE, progress=False, shards=1)
    summary = summarize(load(work / "data", end), end)
    return world, summary, json.loads((work / "truth" / "cities.json").read_text()), start, end


def test_uptime_within_one_point(crawled):
    world, summary, _, start, end = crawled
    for e in summary["endpoints"]:
        true = uptime(world.truth[e["id"]].windows, end - timedelta(days=7), end)
        assert abs(e["uptime"]["7d"] - true) <= 0.01, (e["id"], e["uptime"]["7d"], true)
    assert {e["id"]: e["uptime"]["7d"] < 1 for e in summary["endpoints"]} == {"steady": False, "stormy": True, "nightly": True, "flappy": True}


def test_p50_latency_within_ten_percent(crawled):
    world, summary, _, _, _ = crawled
    for e in summary["endpoints"]:
        true = world.cities[e["id"]].latency_ms
        assert abs(e["latency_ms"]["p50"] - true) <= 0.1 * true, (e["id"], e["latency_ms"], true)


def test_service_counts_exact(crawled):
    _, summary, truth, _, _ = crawled
    assert {e["id"]: e["service_count"] for e in summary["endpoints"]} == {i: c["services"] for i, c in truth["cities"].items()}


def test_requests_per_day_within_five_percent(crawled):
    world, summary, _, _, end = crawled
    for e in summary["endpoints"]:
        true = len(world.truth[e["id"]].between(end - timedelta(days=7), end)) / 7
        assert abs(e["requests_per_day"] - true) <= 0.05 * true, (e["id"], e["requests_per_day"], true)


def test_outages_found_within_one_crawl_interval(crawled):
    world, summary, _, start, end = crawled
    found = sorted((datetime.fromisoformat(o["start"].replace("Z", "+00:00")), datetime.fromisoformat(o["end"].replace("Z", "+00:00")))
                   for o in summary["details"]["stormy"]["outages"])
    true = [(w.start, w.end) for w in world.truth["stormy"].windows]
    assert len(found) == len(true) == 2
    for (fs, fe), (ts, te) in zip(found, true):
        assert abs(fs - ts) <= CADENCE and abs(fe - te) <= CADENCE, ((fs, fe), (ts, te))


def test_a_newly_watched_city_shows_its_real_rate_at_once(tmp_path):
    """8 crawls over 21 hours of a city of 20 requests a day. The backfill reads its history a day a call with the
    budget each crawl leaves, so the whole week is covered at once: every ticket of it, over 7. (Before: 5.43.)"""
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=21)
    world = run([city(sim("newtown", "127.0.7.10", requests_per_day=20))], tmp_path, start, end, timedelta(hours=3),
                progress=False, shards=1)
    [entry] = summarize(load(tmp_path / "data", end), end)["endpoints"]
    assert entry["coverage"]["requests_since"] <= (end - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    week = [t for t in world.truth["newtown"].tickets if end - timedelta(days=7) <= t.requested < end]
    assert entry["requests_per_day"] == round(len(week) / 7, 2)  # every ticket of the week, over 7
    assert 20 * 0.8 <= entry["requests_per_day"] <= 20 * 1.2


def test_the_backfill_makes_a_new_city_right_from_its_first_crawls(tmp_path):
    """90 days of history at 30 tickets a day, 60 % of them closed 1 to 15 minutes after the request with only a work
    order: after its first three crawls, 30 minutes apart, the site already has its rate and an accuracy panel to
    speak of, its share closed within 10 minutes holding the truth of the closings it read."""
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=1)
    fast = sim("fastclose", "127.0.7.11", requests_per_day=30, closure={"work_order": 0.6})
    world = run([city(fast)], tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1, panel_rate=1.0)
    summary = summarize(load(tmp_path / "data", end), end)
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
    from history import load
    from metrics.summary import summarize
    from records.read import read_data
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=hours)
    capped = sim("capton", "127.0.7.12", requests_per_day=per_day, quirks={"max_requests": cap})
    world = run([city(capped)], tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1)
    [entry] = summarize(load(tmp_path / "data", end), end)["endpoints"]
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
    [entry] = summarize(load(tmp_path / "data", end), end)["endpoints"]
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
    [entry] = summarize(load(tmp_path / "data", end), end)["endpoints"]
    assert _at(entry["coverage"]["requests_since"]) <= start - timedelta(days=3)  # one run again, across the gap
    stored = {t["id"] for t in read_data(tmp_path / "data", kinds=("tickets",)).records["tickets"]}
    missed = {t.id for t in world.truth["skipped"].between(gap[0] - timedelta(hours=1), gap[1])}
    assert missed and missed <= stored
    # During the gap, the site counts only the time seen whole: the week up to the last crawl, over its days.
    during = gap[1] - timedelta(minutes=1)
    window = summarize(load(tmp_path / "data", during), during)["details"]["skipped"]["windows"]["requests_per_day"]
    assert _at(window["until"]) == gap[0] - timedelta(minutes=30) and window["days"] == round(7 - 30.5 / 24, 2)
