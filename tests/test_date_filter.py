"""Date filters checked, not trusted: a server that ignores start_date and end_date, and one whose filter fails on
some windows. Against real captured answers and the simulator's ground truth."""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml

from crawler.crawl import crawl
from crawler.memory import Memory
from crawler.parse import parse_time
from figures import as_json
from history import load
from metrics.summary import summarize
from records.read import read_data
from registry import load_registry
from simulator.scenario import city
from tests.conftest import REALWORLD, entry, fast_client, sim


class Captured:
    """A loopback server that answers every GET requests with one captured real answer, whatever its dates (as
    FixMyStreet once did: mysociety/fixmystreet#310), and logs each query."""

    def __init__(self, requests_file: str):
        self.body = (REALWORLD / requests_file).read_bytes()
        self.services = (REALWORLD / "bloomington-2012.services.json").read_bytes()
        self.queries: list[dict[str, str]] = []

    def __enter__(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                body = owner.services if url.path.endswith("/services.json") else owner.body
                if url.path.endswith("/requests.json"):
                    owner.queries.append({k: v[-1] for k, v in parse_qs(url.query).items()})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.8.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self):
        return f"http://127.0.8.1:{self.server.server_address[1]}/open311/v2/"


def requested(requests_file, zone):
    return sorted(datetime.fromisoformat(parse_time(r["requested_datetime"], ZoneInfo(zone)).replace("Z", "+00:00"))
                  for r in json.loads((REALWORLD / requests_file).read_text()))


def crawl_once(tmp_path, base_url, now, zone):
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump([entry(id="captured", base_url=base_url, timezone=zone, min_interval_s=0)]))
    data = tmp_path / "data"
    crawl(load_registry(path), data, now, fast_client, env={}, memory=Memory(data, now), durable=False)
    summary = as_json(summarize(load(data, now), now))
    return summary["endpoints"][0], summary["details"]["captured"], read_data(data, kinds=("probes",)).records["probes"]


def test_a_captured_answer_at_its_limit_covers_from_its_oldest_request(tmp_path):
    """Köln's 100 requests (a full page of 100), served for every query: the first crawl's listing covers from its
    oldest request to now, and the rate is the one over that part, as coverage says. (It was null: the backfill halved
    its window four times, each getting the same 100 "capped" answers.)"""
    times = requested("koeln-2024.requests.json", "Europe/Berlin")
    now = times[-1] + timedelta(hours=1)
    with Captured("koeln-2024.requests.json") as server:
        summary, detail, probes = crawl_once(tmp_path, server.base_url, now, "Europe/Berlin")
    assert summary["coverage"]["requests_since"] == times[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    truth = len(times) / ((now - times[0]) / timedelta(days=1))  # every request of the part covered, over its days
    assert summary["requests_per_day"] == pytest.approx(truth, rel=0.1)
    assert detail["windows"]["requests_per_day"]["days"] == round((now - times[0]) / timedelta(days=1), 2)
    # Said as a conformance finding, and the backfill asked nothing: every window would get the same answer.
    assert not [p for p in probes if p["method"] == "backfill"]
    listing = next(p for p in probes if p["method"] == "requests")
    assert listing["findings"]["date_filter_ignored"].startswith("asked ")
    assert "date_filter_ignored" in {f["code"] for f in detail["conformance_detail"]["findings"]}
    assert detail["conformance_detail"]["findings"][0]["severity"] == "major"


def test_a_captured_answer_short_of_the_limit_is_the_whole_default_answer(tmp_path):
    """Bloomington's 21 requests, served for every query: short of any limit, so the server's whole default answer
    (the spec's 90 days): the first crawl covers the week and gives the 7-day rate."""
    times = requested("bloomington-2012.requests.json", "America/Indiana/Indianapolis")
    now = times[-1] + timedelta(hours=2)
    with Captured("bloomington-2012.requests.json") as server:
        summary, detail, probes = crawl_once(tmp_path, server.base_url, now, "America/Indiana/Indianapolis")
    assert summary["coverage"]["requests_since"] == (now - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    week = [t for t in times if now - timedelta(days=7) <= t < now]
    assert summary["requests_per_day"] == pytest.approx(len(week) / 7, rel=0.1) and len(week) == 21
    assert detail["windows"]["requests_per_day"]["days"] == 7
    # Every request lies within a day of the crawl, so the listing of the day could not tell; the backfill's first
    # window, the day before, got them all too, said so, and was the last.
    backfill = [p for p in probes if p["method"] == "backfill"]
    assert len(backfill) == 1 and backfill[0]["error"] == "the date filter is ignored"
    assert backfill[0]["findings"]["date_filter_ignored"].startswith("asked 2012-05-21T21:55:28Z to 2012-05-22T21:55:28Z")


@pytest.mark.parametrize("per_day", [60, 3])
def test_a_simulated_city_that_ignores_the_date_filter_has_its_rate_after_the_first_crawl(tmp_path, per_day):
    """A busy city (its default answer capped at 1000: about 17 days) and a quiet one (all of its 90 days): the first
    crawl gives the 7-day rate of the ground truth, within 10 %."""
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    world = run([city(sim("deaf", "127.0.8.2", requests_per_day=per_day, quirks={"date_filter": "ignored"}))], tmp_path,
                start - timedelta(minutes=30), start, timedelta(minutes=30), progress=False, shards=1)
    [entry_] = as_json(summarize(load(tmp_path / "data", start), start))["endpoints"]
    week = [t for t in world.truth["deaf"].tickets if start - timedelta(days=7) <= t.requested < start]
    assert entry_["requests_per_day"] == pytest.approx(len(week) / 7, rel=0.1)
    assert entry_["coverage"]["requests_since"] <= (start - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    probes = read_data(tmp_path / "data", kinds=("probes",)).records["probes"]
    assert not [p for p in probes if p["method"] == "backfill"]


def test_a_window_with_bad_data_is_halved_then_stepped_over_and_the_backfill_goes_on(tmp_path):
    """A ticket 3 days back that the server cannot show: every listing whose dates hold it answers 500 (Chicago,
    bensheldon/open311status#92). The backfill halves the window that holds it down to 15 minutes, steps over it, and
    reads the rest of the history; the covered run stops at the bad spot, since nothing there was read."""
    from crawler.plan import BACKFILL_MIN
    from simulator.demo import run

    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=12)
    bad = start - timedelta(days=3) + timedelta(hours=10)
    world = run([city(sim("spoilt", "127.0.8.3", requests_per_day=20, behaviour={"bad_data": ["day -3 10:00"]}))],
                tmp_path, start, end, timedelta(minutes=30), progress=False, shards=1)
    probes = read_data(tmp_path / "data", kinds=("probes",)).records["probes"]
    backfill = [p for p in probes if p["method"] == "backfill"]
    failed = [p for p in backfill if p["outcome"] == "http_5xx"]
    windows = [[datetime.fromisoformat(t.replace("Z", "+00:00")) for t in p["target"].split("/")] for p in failed]
    assert all(a <= bad <= b for a, b in windows)  # only windows that hold the bad ticket failed ...
    assert len(failed) <= 12 and windows[-1][1] - windows[-1][0] <= BACKFILL_MIN  # ... a few, the last of 15 minutes
    assert not [p for p in backfill if p["outcome"] == "http_5xx" and p["crawl"] > failed[-1]["crawl"]]
    read = [[datetime.fromisoformat(t.replace("Z", "+00:00")) for t in p["target"].split("/")]
            for p in backfill if p["outcome"] == "ok"]
    assert min(a for a, _ in read) <= bad - timedelta(days=20)  # the history before the bad spot was read too
    [entry_] = as_json(summarize(load(tmp_path / "data", end), end))["endpoints"]
    since = datetime.fromisoformat(entry_["coverage"]["requests_since"].replace("Z", "+00:00"))
    assert bad < since <= bad + BACKFILL_MIN  # the covered run ends where nothing could be read
    stored = {t["id"] for t in read_data(tmp_path / "data", kinds=("tickets",)).records["tickets"]}
    older = {t.id for t in world.truth["spoilt"].between(bad - timedelta(days=20), bad - timedelta(hours=1))}
    assert older and older <= stored


def ticket(id_, requested, updated=None):
    from records import TicketRecord
    return TicketRecord(crawl="2026-11-20T12:00:00Z", endpoint="e", id=id_, status="open", service_code="1",
                        requested=requested, updated=updated or requested)


def test_what_shows_a_date_filter_ignored():
    from crawler.dates import Window, ignored

    day = Window("2026-11-19T12:00:00Z", "2026-11-20T12:00:00Z", (ticket("1", "2026-11-20T01:00:00Z"),), False)
    assert ignored(day, []) is None
    # 14 hours either side are a time zone misread, not a filter ignored; further is.
    assert ignored(Window(day.start, day.end, (ticket("2", "2026-11-18T22:00:00Z"),), False), []) is None
    assert ignored(Window(day.start, day.end, (ticket("2", "2026-11-18T21:59:00Z"),), False), []) == (
        "asked 2026-11-19T12:00:00Z to 2026-11-20T12:00:00Z; got requests from 2026-11-18T21:59:00Z to 2026-11-18T21:59:00Z")
    # A server filtering on updated_datetime lists old requests changed in the window: still the window's requests.
    assert ignored(Window(day.start, day.end, (ticket("3", "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"),), False), []) is None
    # The same request in two windows that do not overlap, off their shared edge: the dates were not looked at.
    before = Window("2026-11-18T12:00:00Z", "2026-11-19T12:00:00Z", (ticket("1", "2026-11-20T01:00:00Z"),), False)
    assert ignored(before, [day]) == ("2026-11-18T12:00:00Z to 2026-11-19T12:00:00Z and 2026-11-19T12:00:00Z to "
                                      "2026-11-20T12:00:00Z both listed 1")
    edge = (ticket("4", "2026-11-19T12:00:00Z"),)  # requested at the very instant both windows include
    assert ignored(Window(before.start, before.end, edge, False), [Window(day.start, day.end, edge, False)]) is None
    overlapping = Window("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", day.tickets, False)
    assert ignored(overlapping, [day]) is None


def test_what_a_listing_that_ignored_its_dates_covers():
    from crawler.dates import Window, covered_by

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    tickets = (ticket("1", "2026-11-13T08:00:00Z"), ticket("2", "2026-11-19T08:00:00Z"))
    assert covered_by(Window("a", "b", tickets, cut=True), now, timedelta(days=90)) == ("2026-11-13T08:00:00Z", "2026-11-20T12:00:00Z")
    assert covered_by(Window("a", "b", tickets, cut=False), now, timedelta(days=30)) == ("2026-10-21T12:00:00Z", "2026-11-20T12:00:00Z")
