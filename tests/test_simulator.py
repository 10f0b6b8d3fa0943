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
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    work = tmp_path_factory.mktemp("seeded")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=7, hours=1)
    world = run([city(c) for c in SEEDED], work, start, end, CADENCE, progress=False, shards=1)
    summary = as_json(summarize(load(work / "data", end), end))
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
