"""Accuracy figures against the simulator's ground truth, and their rules of presentation."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from crawler.plan import BACKFILL_SPAN
from crawler.tickets import in_panel
from metrics import accuracy
from metrics.accuracy import FAST_CLOSE, REOPEN_WITHIN, SEEN_AGAIN_AFTER, SETTLED
from records.coverage import REQUESTS_WINDOW
from simulator import demo
from simulator.scenario import city
from tests.conftest import read_lines

END = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
DAYS = 30
START = END - timedelta(days=DAYS)
PANEL_RATE = 0.5
SHARES = {"work_order": 0.2, "empty_notes": 0.15, "reopened": 0.1, "vanish": 0.1}


def _time(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A month of crawls every 3 hours of a city with known shares of instant work-order closures, empty
    notes, reopenings and vanishing tickets; and of a city that never sends status_notes."""
    cities = [city({"id": "truthville", "host": "127.0.0.23", "requests_per_day": 60, "behaviour": {"latency_ms": 5},
                    "closure": SHARES}),
              city({"id": "mutetown", "host": "127.0.0.24", "requests_per_day": 20, "behaviour": {"latency_ms": 5},
                    "quirks": {"notes": False}})]
    work = tmp_path_factory.mktemp("accuracy")
    demo.run(cities, work, START, END, timedelta(hours=3), progress=False, shards=1, panel_rate=PANEL_RATE)
    truth = [json.loads(line) for line in (work / "truth" / "tickets.jsonl").read_text().splitlines()]
    return truth, accuracy.accuracy(read_lines(work / "data", "events"), END)


def true_shares(tickets):
    """What really happened, by the figures' own definitions, to the tickets requested while crawled."""
    def events(t):
        return [(_time(w), s, n) for w, s, n in t["events"] if _time(w) <= END]

    def first_close(t):
        return next((w for w, s, _ in events(t) if s == "closed"), None)

    # The crawls list what was requested while they ran (the first one a day back); the backfill reads the 90 days
    # before that, so every closing of those is seen too. What needs following counts the crawls' own only.
    mine = [t for t in tickets if START - REQUESTS_WINDOW <= _time(t["requested"]) <= END]
    read = [t for t in tickets if START - BACKFILL_SPAN <= _time(t["requested"]) <= END]
    closed = [t for t in read if first_close(t)]
    matured = [t for t in mine if first_close(t) and first_close(t) <= END - SEEN_AGAIN_AFTER and first_close(t) >= START]
    settled = [t for t in mine if _time(t["requested"]) <= END - SETTLED]

    def reopened(t):
        close = first_close(t)
        return any(s == "open" and close < w <= close + REOPEN_WITHIN for w, s, _ in events(t))

    def share(items, test):
        return sum(map(test, items)) / len(items), items

    return {
        "explained": share(closed, lambda t: t["outcome"] != "empty_notes"),
        "fast_close": share(closed, lambda t: first_close(t) - _time(t["requested"]) < FAST_CLOSE),
        # Of the closings whose note says something (ACCURACY.md's C*): the empty ones tell nothing either way.
        "work_order": share([t for t in closed if t["outcome"] != "empty_notes"], lambda t: t["outcome"] == "work_order"),
        "reopen": share(matured, reopened),
        "disappeared": share(settled, lambda t: t["outcome"] == "vanish"),
    }


@pytest.mark.parametrize("figure", ["explained", "fast_close", "work_order", "reopen", "disappeared"])
def test_the_interval_holds_the_truth(crawled, figure):
    truth, figures = crawled
    measured = figures["truthville"][figure]
    population, tickets = true_shares([t for t in truth if t["city"] == "truthville"])[figure]
    # The city's true share lies in the 95 % interval of the panel's estimate ...
    assert measured["reason"] is None and measured["n"] >= 150
    assert measured["low"] <= population <= measured["high"], (figure, population, measured)
    # ... and the estimate is the panel's own true share, give or take what the crawls cannot see.
    panel = [t for t in tickets if in_panel("truthville", t["id"], PANEL_RATE)]
    own, _ = true_shares(panel)[figure]
    assert abs(measured["value"] - own) <= 0.02, (figure, own, measured)


def test_the_known_shares_show_through(crawled):
    _, figures = crawled
    f = figures["truthville"]
    assert f["explained"]["value"] < 1 - SHARES["empty_notes"] / 2  # empty closing notes are unexplained
    assert f["work_order"]["low"] > SHARES["work_order"] * 0.8
    assert f["time_to_close"][0] == {"bucket": "< 10 min", "closed": round(f["fast_close"]["value"] * f["fast_close"]["n"])}
    assert set(f["classes"]) == {"COMPLETED", "WORK_ORDER", "EMPTY"}
    assert sum(f["classes"].values()) == f["closed_n"]


def test_a_city_without_notes_is_not_measurable_rather_than_zero(crawled):
    _, figures = crawled
    f = figures["mutetown"]
    assert f["gives"]["status_notes"] is False and f["closed_n"] > 100
    for name in ("explained", "work_done", "work_order"):
        assert f[name] == {"value": None, "n": f[name]["n"], "low": None, "high": None, "reason": "not measurable"}
    assert f["classes"] == {} and f["sample"] == []
    assert f["fast_close"]["value"] == 0.0 and f["fast_close"]["reason"] is None  # timing needs no notes
    entry = accuracy.api_entry(f)
    assert entry["explained_share"] is None and entry["work_order_share"] is None and entry["closure_classes"] == {}
    # The best record on what little is measured is no record: the risk is withheld, with the reason.
    assert entry["risk"] is None and entry["risk_withheld"].startswith("the API publishes no closing notes")


def test_the_sample_of_notes_is_redacted_and_rotates_weekly():
    def life(i, note, day):
        return {"crawl": f"2026-11-{day:02d}T10:00:00Z", "endpoint": "e1", "id": f"T{i}", "status": "closed", "notes": note,
                "updated": f"2026-11-{day:02d}T09:00:00Z", "expected": None, "via": "list", "requested": "2026-11-01T08:00:00Z",
                "service_code": "1", "work_order": None, "gone": False}

    notes = [life(i, f"Closed. Call Sgt. Miller at 617-555-0{i:03d} or mail j.doe{i}@city.gov", 2 + i % 17) for i in range(40)]
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    shown = accuracy.accuracy(notes, now)["e1"]["sample"]
    assert len(shown) == accuracy.SAMPLE
    for s in shown:
        assert "Miller" not in s["note"] and "617" not in s["note"] and "@" not in s["note"]
        assert s["note"] == "Closed. Call Sgt [name] at [phone] or mail [e-mail]"
    next_week = accuracy.accuracy(notes, now + timedelta(days=7))["e1"]["sample"]
    assert {s["id"] for s in shown} != {s["id"] for s in next_week}


def test_the_risk_score_ranks_within_the_parts_it_has():
    def figures(fast, explained, n=100):
        def s(v):
            return {"value": v, "n": n, "low": None, "high": None, "reason": None if v is not None else "not measurable"}
        few = {"value": None, "n": 3, "low": None, "high": None, "reason": "not enough data"}
        return {"fast_close": s(fast), "explained": s(explained), "work_order": few, "stale_open": s(0.1),
                "integrity": s(0.0), "disappeared": s(0.0)}

    scores = accuracy.risk({"a": figures(0.5, 0.2), "b": figures(0.1, 0.9), "c": figures(0.2, 0.5)})
    assert scores["a"] > scores["c"] > scores["b"]
    # a: both others do better on the two parts that differ; on the three where all tie, none does.
    assert scores["a"] == round(100 * (0.25 * 1 + 0.25 * 1) / 0.85)  # work_order: no value, its weight left out
    assert scores["b"] == 0  # nobody does better on anything
    assert accuracy.risk({"a": figures(0.5, 0.2), "b": figures(0.1, 0.9)}) == {"a": None, "b": None}  # two are no league
    # An endpoint that publishes no closing notes would do best on nothing measured: its risk is withheld, not 0.
    silent = figures(0.1, None)
    silent["work_order"] = {**silent["work_order"], "reason": "not measurable"}
    scores = accuracy.risk({"a": figures(0.5, 0.2), "b": figures(0.3, 0.9), "c": figures(0.2, 0.5), "silent": silent})
    assert scores["silent"] is None and None not in (scores["a"], scores["b"], scores["c"])
    assert accuracy.risk_withheld(silent) == ("the API publishes no closing notes; "
                                              "the API publishes neither closing notes nor their history")


def test_a_ticket_that_comes_back_has_not_disappeared():
    def seen(id, crawl, gone=False):
        return {"crawl": crawl, "endpoint": "e1", "id": id, "status": None if gone else "open", "notes": None if gone else "",
                "updated": None if gone else "2026-10-01T08:00:00Z", "expected": None, "via": "confirm" if gone else "list",
                "requested": None if gone else "2026-10-01T08:00:00Z", "service_code": None, "work_order": None, "gone": gone}

    events = []
    for n in range(40):
        events.append(seen(f"T{n}", "2026-10-01T09:00:00Z"))
        if n < 4:
            events.append(seen(f"T{n}", "2026-10-02T09:00:00Z", gone=True))
        if n < 2:
            events.append(seen(f"T{n}", "2026-10-03T09:00:00Z"))  # back again
    f = accuracy.accuracy(events, datetime(2026, 11, 1, tzinfo=timezone.utc))["e1"]["disappeared"]
    assert (f["value"], f["n"]) == (0.05, 40)  # T2 and T3
