"""Polite across crawls: the pace a host taught with a 429 is kept for a day (crawler/paces.py)."""

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from crawler.crawl import crawl
from crawler.memory import Memory
from crawler.paces import Paces
from registry import load_registry
from simulator.fleet import Fleet
from simulator.virtual import simulated_client
from tests.conftest import entry, sim

START = datetime(2026, 11, 10, tzinfo=timezone.utc)


def test_a_refusal_teaches_the_calls_a_minute_the_host_took():
    paces = Paces()
    # Four calls in the minute before the refusal at 40 s: four a minute, a call every 15 s.
    paces.learn("e", "2026-11-10T00:00:00Z", [(0, "ok"), (10, "ok"), (20, "ok"), (30, "ok"), (40, "rate_limited"), (60, "ok")])
    assert paces.at(START) == {"e": 15.0}
    assert paces.at(START + timedelta(hours=23, minutes=59)) == {"e": 15.0}
    assert paces.at(START + timedelta(days=1)) == {}  # a day on, it is taught afresh: the limit may have been raised
    paces.learn("f", "2026-11-10T00:00:00Z", [(0, "rate_limited"), (20, "ok")])  # the first call refused: nothing taught
    assert "f" not in paces.taught


@pytest.mark.parametrize("kept", [True, False])
def test_a_steady_rate_limited_city_is_refused_at_most_once_a_day(tmp_path, monkeypatch, kept):
    """5 calls a minute as its limit, 60 a minute as the registry's pace (a call a second): crawled every 30 minutes
    for 25 hours (12 with the pace forgotten), each crawl with its memory read afresh from data/, as the workflow's
    are. With the pace kept, the first crawl is refused and none other within a day of it; forgotten with each crawl
    (as before), most are."""
    if not kept:
        monkeypatch.setattr(Paces, "at", lambda self, now: {})
    limited = sim("fiveaminute", "127.0.9.7", requests_per_day=10, behaviour={"rate_limit": {"per_minute": 5, "retry_after_s": 10}})
    refusals = []
    with Fleet.of([limited], START, days=2) as fleet:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(id="fiveaminute", base_url=fleet.base_url("fiveaminute"), min_interval_s=1)]))
        endpoints, data = load_registry(path), tmp_path / "data"
        for n in range(51 if kept else 24):
            moment = START + timedelta(minutes=30 * n)
            report = crawl(endpoints, data, moment, simulated_client(moment), env={}, memory=Memory(data, moment), durable=False)
            probes = report.results["fiveaminute"].probes
            refusals += [moment for p in probes if p.outcome == "rate_limited"]
            assert probes[0].outcome == "ok"  # its upness is untouched
    if kept:
        assert refusals[0] == START and all(b - a >= timedelta(days=1) for a, b in zip(refusals, refusals[1:])), refusals
    else:
        assert len(refusals) >= 10, len(refusals)
