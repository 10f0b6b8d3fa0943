"""The accuracy panel over weeks of simulated crawls: rechecks, disappearances, extensions, updated_after."""

import collections
import json
from datetime import datetime, timedelta, timezone

import pytest

from crawler.memory import RECHECK_DAYS, Memory
from crawler.tickets import in_panel
from simulator import demo
from simulator.scenario import city
from tests.conftest import read_lines, record_validator

END = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
DAYS = 16
EVERY = timedelta(hours=3)


def _time(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two cities crawled every 3 hours for 16 days: one with work orders, empty notes, reopenings
    and vanishing tickets (and the extensions and updated_after), one that gives no notes at all."""
    cities = [city({"id": "truthville", "host": "127.0.0.21", "requests_per_day": 40, "behaviour": {"latency_ms": 5},
                    "closure": {"work_order": 0.2, "empty_notes": 0.15, "reopened": 0.1, "vanish": 0.1},
                    "quirks": {"extensions": True, "updated_after": True}}),
              city({"id": "mutetown", "host": "127.0.0.22", "requests_per_day": 20, "behaviour": {"latency_ms": 5},
                    "quirks": {"notes": False}})]
    work = tmp_path_factory.mktemp("panel")
    demo.run(cities, work, END - timedelta(days=DAYS), END, EVERY, progress=False, shards=1)
    truth = {}
    for line in (work / "truth" / "tickets.jsonl").read_text().splitlines():
        t = json.loads(line)
        truth[t["id"]] = t
    events = collections.defaultdict(list)
    for e in read_lines(work / "data", "events"):
        events[e["id"]].append(e)
    return truth, events, read_lines(work / "data", "probes")


def test_events_are_valid_and_only_of_panel_tickets(run):
    truth, events, _ = run
    validator = record_validator("events")
    for history in events.values():
        for e in history:
            validator.validate(e)
            assert in_panel(e["endpoint"], e["id"], demo.PANEL_RATE)
            assert e["requested"] == truth[e["id"]]["requested"] or e["gone"]


def test_closed_tickets_are_rechecked_a_day_and_a_week_after(run):
    truth, events, _ = run
    checked = 0
    for history in events.values():
        closed = [e for e in history if e["status"] == "closed"]
        if not closed or (history[0]["via"] == "backfill" and history[0]["status"] == "closed"):
            continue  # found already closed in the history: its closing was never watched, so it is not rechecked
        since = _time(closed[0]["crawl"])
        if any(e["status"] != "closed" for e in history if _time(e["crawl"]) > since):
            continue  # reopened or gone: its rechecks count from then
        for days in RECHECK_DAYS:
            mark = since + timedelta(days=days)
            if mark + EVERY <= END:
                looks = [e for e in history if e["via"] == "recheck" and mark <= _time(e["crawl"]) < mark + EVERY]
                assert len(looks) == 1, (history, days)
                checked += 1
    assert checked > 200
    # Found closed by the backfill and never seen to change: never watched closing, so never rechecked.
    from_history = [h for h in events.values() if h[0]["via"] == "backfill" and all(e["status"] == "closed" for e in h)]
    assert from_history and not [e for h in from_history for e in h if e["via"] == "recheck"]


def test_a_vanished_ticket_is_confirmed_gone_and_no_other_is(run):
    truth, events, probes = run
    gone = {i for i, history in events.items() if any(e["gone"] for e in history)}
    assert gone and all(truth[i]["outcome"] == "vanish" for i in gone)
    # Vanished at least two days before the end, once seen: confirmed gone (a look every few crawls).
    seen_vanished = [i for i in events if truth[i]["outcome"] == "vanish" and truth[i]["vanished"] < (END - timedelta(days=2)).isoformat()]
    assert seen_vanished and set(seen_vanished) <= gone
    confirms = [p for p in probes if p["method"] == "panel" and p["target"]]
    assert confirms and {p["outcome"] for p in confirms} <= {"ok", "http_4xx"}
    for i in gone:
        first = next(e for e in events[i] if e["gone"])
        assert first["status"] is None and first["via"] in ("confirm", "recheck")


def test_extensions_show_the_work_order_and_notes_keep_absent_apart_from_empty(run):
    truth, events, _ = run
    for i, history in events.items():
        outcome = truth[i]["outcome"]
        for e in history:
            if e["endpoint"] == "mutetown":
                assert e["notes"] is None and e["work_order"] is None  # no status_notes field, no extensions
            elif not e["gone"]:
                assert e["work_order"] == (outcome == "work_order" and e["status"] == "closed")
                if outcome == "empty_notes" or (e["status"] == "open" and outcome != "reopened"):
                    assert e["notes"] == ""


def test_updated_after_is_asked_where_supported_and_a_crawl_stays_small(run):
    _, _, probes = run
    updated = [p for p in probes if p["method"] == "panel" and p["endpoint"] == "truthville" and not p["target"]]
    assert updated and all(p["outcome"] == "ok" for p in updated)
    crawls = collections.Counter((p["endpoint"], p["crawl"]) for p in probes if p["method"] == "panel")
    assert max(crawls.values()) <= 2 + 3  # the updated list, the follow call, three confirmations


def test_memory_plans_rechecks_from_what_is_stored(tmp_path):
    memory = Memory(tmp_path, END)

    def seen(stamp, status, via="list", **kw):
        return {"crawl": stamp, "endpoint": "e1", "id": "T1", "status": status, "notes": "", "updated": None, "expected": None,
                "via": via, "requested": None, "service_code": None, "work_order": None, "gone": False, **kw}

    memory.changed("events", [seen("2026-11-01T00:00:00Z", "open")])
    memory.changed("events", [seen("2026-11-02T00:00:00Z", "closed", "panel")])
    assert memory.panel(_time("2026-11-02T12:00:00Z")) == {}
    plan = memory.panel(_time("2026-11-03T00:30:00Z"))
    assert plan["e1"].due == ["T1"] and plan["e1"].open == []
    stored = memory.changed("events", [seen("2026-11-03T00:30:00Z", "closed", "recheck")], keep=lambda d: d["via"] == "recheck")
    assert len(stored) == 1  # unchanged, yet stored: the recheck is on record
    assert memory.panel(_time("2026-11-03T01:00:00Z")) == {}
    assert memory.panel(_time("2026-11-09T00:00:00Z"))["e1"].due == ["T1"]  # a week after closing
    assert memory.panel(_time("2026-11-16T00:00:00Z")) == {}  # the week's recheck missed by more than the grace: given up
    memory.changed("events", [seen("2026-11-09T00:00:00Z", "open", "recheck")], keep=lambda d: d["via"] == "recheck")
    assert memory.panel(_time("2026-11-16T00:00:00Z"))["e1"].open == ["T1"]  # reopened: followed again

