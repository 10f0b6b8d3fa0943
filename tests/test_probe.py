"""The plan of calls to one endpoint (crawler/probe.py), against loopback servers."""

from datetime import datetime, timedelta, timezone

import pytest

from crawler.plan import LOOKUPS, due_definitions, rotating, slot_of, spread
from crawler.probe import probe_endpoint
from records.status import crawl_status
from registry import Endpoint
from simulator.fleet import Fleet
from simulator.hostile import Hostile
from tests.conftest import NOW, entry, fast_client, sim
from vocabulary import CRAWLS_PER_DAY


def endpoint(url, **kw):
    return Endpoint(**entry(base_url=url, **kw))


def run(ep, client=None, now=NOW, **kw):
    client = client or fast_client()
    with client:
        return probe_endpoint(ep, client, now, **kw)


def calls(result):
    return [(p.method, p.format, p.outcome, p.attempt) for p in result.probes]


def status(result):
    return crawl_status([p.to_dict() for p in result.probes])


def definition_due(endpoint_id="springfield"):
    """The crawl on NOW's day that asks for the endpoint's definitions (each once a day, at a slot of its own)."""
    return NOW.replace(hour=0) + timedelta(minutes=30 * (-spread(endpoint_id) % CRAWLS_PER_DAY))


def test_a_healthy_endpoint_gets_the_whole_plan():
    with Hostile("open311") as server:
        result = run(endpoint(server.base_url), now=definition_due())
    assert definition_due() == datetime(2026, 11, 20, 4, 30, tzinfo=timezone.utc)
    # Then, with the budget left, the backfill: the days before the listing's, one a call, going back.
    assert [(p.method, p.target, p.outcome) for p in result.probes] == [
        ("services", None, "ok"), ("requests", None, "ok"), ("request", "A-1", "ok"), ("service_definition", "001", "ok"),
        *[("backfill", f"2026-11-{d - 1:02d}T04:30:00Z/2026-11-{d:02d}T04:30:00Z", "ok") for d in (19, 18, 17, 16)],
    ]
    assert [p.items for p in result.probes] == [2, 1, 1, 1, 0, 0, 0, 0]  # a server that honours the date filter
    assert [t.id for t in result.tickets] == ["A-1"]
    assert status(result) == "up"
    requests = server.seen[1]
    assert requests.query == {"start_date": "2026-11-19T04:30:00Z", "end_date": "2026-11-20T04:30:00Z"}


def test_definitions_are_not_asked_for_at_every_crawl():
    with Hostile("open311") as server:
        result = run(endpoint(server.base_url), now=definition_due() + timedelta(minutes=30))
    assert [p.method for p in result.probes if p.method != "backfill"] == ["services", "requests", "request"]


def test_what_every_call_sends():
    with Hostile("open311") as server:
        run(endpoint(server.base_url, jurisdiction_id="springfield.gov"))
    for seen in server.seen:
        assert seen.headers["user-agent"].startswith("Open311Status/") and "(+https://" in seen.headers["user-agent"]
        assert seen.headers["accept-encoding"] == "gzip"
        assert "connection" not in seen.headers  # HTTP/1.1: kept alive where the server allows
        assert seen.query["jurisdiction_id"] == "springfield.gov"
        assert "authorization" not in seen.headers and "api_key" not in seen.query


def test_a_failed_service_list_is_retried_and_a_success_is_no_outage():
    with Hostile("unavailable_once") as server:
        result = run(endpoint(server.base_url))
    assert calls(result)[:2] == [("services", "json", "http_5xx", 1), ("services", "json", "ok", 2)]
    assert status(result) == "up"


def test_an_unreachable_endpoint_is_tried_twice_then_left():
    with Hostile("reset") as server:
        result = run(endpoint(server.base_url))
    assert calls(result) == [("services", "json", "connect", 1), ("services", "json", "connect", 2)]
    assert status(result) == "down"


def test_the_other_format_is_tried_when_the_registrys_is_not_served():
    with Fleet.of([sim("xml_only", "127.0.0.3", formats=["xml"])], NOW) as fleet:
        result = run(endpoint(fleet.base_url("xml_only"), format="json"))
    assert calls(result)[:2] == [("services", "json", "http_4xx", 1), ("services", "xml", "ok", 1)]
    assert result.probes[1].findings == {"format_fallback": "json failed (http_4xx), xml works"}
    assert {p.format for p in result.probes[1:]} == {"xml"}
    assert result.probes[0].error == "HTTP 404: format json not supported"
    assert status(result) == "up"


@pytest.mark.parametrize("behaviour, outcome", [("html", "not_open311"), ("truncated", "parse"), ("xml_bomb", "parse")])
def test_bodies_that_are_not_open311(behaviour, outcome):
    with Hostile(behaviour) as server:
        result = run(endpoint(server.base_url, format="xml" if behaviour == "xml_bomb" else "json"))
    assert [p.outcome for p in result.probes if p.format == result.probes[0].format] == [outcome, outcome]
    assert status(result) == "down"


def test_a_429_with_a_short_retry_after_is_obeyed():
    waits = []
    with Hostile("rate_limited_once", retry_after="1") as server:
        result = run(endpoint(server.base_url), fast_client(sleep=waits.append))
    assert calls(result)[:2] == [("services", "json", "rate_limited", 1), ("services", "json", "ok", 2)]
    assert result.probes[0].retry_after_s == 1.0
    assert 1.0 in waits
    assert status(result) == "up"


def test_a_429_with_a_long_retry_after_leaves_the_endpoint_alone():
    with Hostile("rate_limited", retry_after="3600") as server:
        result = run(endpoint(server.base_url))
    assert calls(result) == [("services", "json", "rate_limited", 1)]
    assert len(server.seen) == 1
    assert result.notes == ["rate limited (Retry-After 3600 s)"]
    assert status(result) == "degraded"


def test_calls_to_a_host_keep_the_minimum_interval_and_one_connection():
    with Hostile("open311") as server:
        run(endpoint(server.base_url), fast_client(interval=0.3), now=definition_due())
    gaps = [b.at - a.at for a, b in zip(server.seen, server.seen[1:])]
    assert len(gaps) == 7  # the plan's 4 calls, then the backfill's 4: all paced alike
    # Paced by when each call starts; the server sees each arrive a little after. On a loaded machine one arrives late
    # (0.37 s after the one before, once) and the next gap looks short (0.25 s): over any two gaps the host still sees
    # two intervals. Without the pacer the gaps are a few milliseconds.
    assert min(gaps) >= 0.2 and min(a + b for a, b in zip(gaps, gaps[1:])) >= 2 * 0.29, gaps
    assert server.most_connections == 1


@pytest.mark.parametrize("how, seen_query, seen_header", [
    ("param", {"api_key": "s3cret-KEY"}, None),
    ("bearer", {}, "Bearer s3cret-KEY"),
])
def test_an_api_key_is_sent_as_the_endpoint_expects(how, seen_query, seen_header):
    with Hostile("open311") as server:
        run(endpoint(server.base_url, api_key_env="SPRINGFIELD_KEY", api_key_as=how), api_key="s3cret-KEY")
    for seen in server.seen:
        assert {k: v for k, v in seen.query.items() if k == "api_key"} == seen_query
        assert seen.headers.get("authorization") == seen_header


def test_a_key_echoed_by_the_server_never_reaches_the_record():
    with Hostile("echo_404") as server:
        result = run(endpoint(server.base_url, api_key_env="SPRINGFIELD_KEY"), api_key="s3cret-KEY")
    assert "api_key=s3cret-KEY" in server.seen[0].path + "?" + "&".join(f"{k}={v}" for k, v in server.seen[0].query.items())
    assert result.probes[0].error.startswith("HTTP 404: not found: /open311/v2/services.json?api_key=[key]")
    assert "s3cret" not in repr(result)


def test_pages_are_followed_where_the_server_pages():
    city = sim("chicago_like", "127.0.0.7", requests_per_day=288, quirks={"page_size": 50})
    with Fleet.of([city], NOW) as fleet:
        result = run(endpoint(fleet.base_url("chicago_like")))
    pages = [(p.page, p.items) for p in result.probes if p.method == "requests"]
    assert pages == [(1, 50), (2, 50), (3, 50)]
    assert len([t for t in result.tickets[:150] if t.requested >= "2026-11-19T12:00:00Z"]) == 150  # the day's listing
    # The listing was cut after 3 pages, so nothing is read whole yet: the backfill reads the same day again, in
    # windows it pages through too, and counts a window only once its last page holds fewer than 50.
    backfill = [(p.target, p.page, p.items, p.error) for p in result.probes if p.method == "backfill"]
    assert backfill[0][1:] == (1, 50, "capped at 250: the window is halved") and [b[1] for b in backfill[:5]] == [1, 2, 3, 4, 5]
    assert backfill[5][0] == "2026-11-20T00:00:00Z/2026-11-20T12:00:00Z"  # half a day, from the crawl back


def test_a_server_that_ignores_page_is_noted_once():
    city = sim("capped", "127.0.0.8", requests_per_day=288, quirks={"page_size": 20, "paging_ignored": True})
    with Fleet.of([city], NOW) as fleet:
        result = run(endpoint(fleet.base_url("capped")))
    pages = [p for p in result.probes if p.method == "requests"]
    assert [(p.page, p.items) for p in pages] == [(1, 20), (2, 20)]
    assert pages[1].findings == {"paging_ignored": "page 2 repeated page 1"}
    assert len([t for t in result.tickets if t.requested >= "2026-11-19T12:00:00Z"]) == 20  # the day's listing
    # The backfill's windows reach the cap too: their tickets are kept, but none counts as read whole, and each
    # window is half the one before.
    windows = [p for p in result.probes if p.method == "backfill"]
    assert windows and all(p.error and p.error.startswith("capped at 20") for p in windows)


def test_lookups_compare_with_the_list():
    city = sim("springfield", "127.0.0.2", requests_per_day=96)
    with Fleet.of([city], NOW) as fleet:
        result = run(endpoint(fleet.base_url("springfield")))
    lookups = [p for p in result.probes if p.method == "request"]
    assert len(lookups) == 1 and all(p.outcome == "ok" and p.items == 1 and p.findings == {} for p in lookups)


def test_the_lookup_moves_on_each_crawl_so_a_day_of_crawls_asks_for_every_listed_request():
    listed = [f"R{n}" for n in range(30)]
    day = [rotating(listed, LOOKUPS, slot) for slot in range(CRAWLS_PER_DAY)]
    assert all(len(picked) == LOOKUPS == 1 for picked in day)
    assert {request_id for picked in day for request_id in picked} == set(listed)
    assert rotating([], LOOKUPS, 3) == [] and rotating(["R1"], 2, 7) == ["R1"]


@pytest.mark.parametrize("count, most_per_crawl", [(1, 1), (5, 1), (48, 1), (86, 2), (144, 3)])
def test_every_service_definition_is_asked_for_once_a_day(count, most_per_crawl):
    """Washington DC has 86 services, all with a definition; most cities have a handful."""
    codes = [f"S{n:04d}" for n in range(count)]
    day = datetime(2026, 11, 20, tzinfo=timezone.utc)
    asked = []
    for n in range(CRAWLS_PER_DAY):
        moment = day + timedelta(minutes=30 * n)
        assert slot_of(moment) == n
        due = due_definitions(codes, moment.toordinal() * CRAWLS_PER_DAY + slot_of(moment) + 7)
        assert len(due) <= most_per_crawl
        asked += due
    assert sorted(asked) == codes  # every one, once


def test_more_definitions_than_a_day_can_hold_take_more_days():
    codes = [f"S{n:04d}" for n in range(300)]
    asked = [c for turn in range(3 * CRAWLS_PER_DAY) for c in due_definitions(codes, turn)]
    assert len(asked) == 3 * CRAWLS_PER_DAY * 3 and set(asked) == set(codes)


def test_the_budget_cuts_the_tail_not_the_head():
    from crawler.client import Limits
    from tests.conftest import FAST

    with Hostile("open311") as server:
        result = run(endpoint(server.base_url), fast_client(limits=Limits(**{**FAST.__dict__, "endpoint_calls": 2})))
    assert [p.method for p in result.probes] == ["services", "requests"]
    assert result.notes == ["the budget ended the crawl of this endpoint"]
    assert status(result) == "up"


@pytest.mark.parametrize("limit, pages, asked", [
    (None, None, [1]),  # 30 is no common page size: without the registry's limit the page looks whole
    (30, True, [1, 2, 3]),  # the registry's limit: a page of 30 is full, so page=2 and 3 are asked for
    (30, False, [1]),  # full, but the endpoint does not page: nothing more can be read
])
def test_the_registry_s_page_limit_tells_a_full_page_from_the_whole_answer(limit, pages, asked):
    city = sim("pager", "127.0.8.1", requests_per_day=240, quirks={"page_size": 30})
    with Fleet.of([city], NOW) as fleet:
        result = run(endpoint(fleet.base_url("pager"), limit=limit, pages=pages))
    listed = [p for p in result.probes if p.method == "requests"]
    assert [p.page for p in listed] == asked and listed[0].items == 30
    assert len({t.id for t in result.tickets}) >= 30 * len(asked)


def test_a_retired_endpoint_gets_only_a_service_list_and_a_first_page():
    from registry import Retired

    city = sim("gone_quiet", "127.0.8.2", requests_per_day=240, quirks={"page_size": 30})
    with Fleet.of([city], NOW) as fleet:
        result = run(endpoint(fleet.base_url("gone_quiet"), limit=30, pages=True, retired=Retired("2021", "not listed")),
                     now=definition_due("springfield"))
    assert [(p.method, p.page) for p in result.probes] == [("services", None), ("requests", 1)]
    assert status(result) == "up"


def test_a_host_that_refuses_is_paced_at_what_it_took():
    from crawler.paces import Pacer
    now = [0.0]
    pacer = Pacer(6.0, lambda: now[0])
    for t in (0.0, 6.0, 12.0, 18.0, 24.0):  # the fifth call of the minute is refused
        now[0] = t
        pacer.started()
    pacer.refused()
    assert pacer.wait_s() == 0.0  # the retry waits for Retry-After alone ...
    assert pacer.interval == 15.0  # ... and the rest of the crawl goes at 4 a minute
    now[0] = 60.0
    pacer.started()
    now[0] = 70.0
    assert pacer.wait_s() == 5.0


def test_the_backfill_window_halves_at_the_cap_and_grows_back_when_it_holds_little():
    from crawler.plan import BACKFILL_WINDOW, next_window
    paged = Endpoint(**{**entry(), "limit": 50})
    day = timedelta(days=1)
    assert next_window(paged, day, 50, capped=True) == day / 2
    assert next_window(paged, day / 2, 30, capped=False) == day / 2  # more than half a page: keep
    assert next_window(paged, day / 4, 20, capped=False) == day / 2  # less: twice as long ...
    assert next_window(paged, day, 3, capped=False) == BACKFILL_WINDOW  # ... never more than a day
    plain = Endpoint(**entry())  # no limit known: a common page size (10 the least) may be a cut answer
    assert next_window(plain, day / 2, 4, capped=False) == day and next_window(plain, day / 2, 6, capped=False) == day / 2
