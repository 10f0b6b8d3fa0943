"""Planned maintenance: declared in the registry, checked with exact messages, and kept out of uptime and the incidents
(metrics/maintenance.py), against the simulator's ground truth."""

import textwrap
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from metrics.maintenance import inside
from registry import RegistryError, load_registry
from simulator.scenario import city
from tests.conftest import entry, sim

NIGHTLY = {"latency_ms": 5, "daily_outage": {"start": "02:00", "hours": 2, "kind": "html"}}
WINDOW = {"days": "daily", "from": "02:00", "to": "04:00", "source": "https://nightly.example/status"}


def test_the_registry_says_every_problem_of_a_window_once(tmp_path):
    path = tmp_path / "endpoints.yaml"
    path.write_text(textwrap.dedent("""\
        - id: nightly
          name: Nightly
          country: USA
          base_url: https://example.org/open311/v2/
          format: json
          platform: in-house
          timezone: Europe/Helsinki
          notes: ""
          source: tests
          maintenance:
            - days: daily
              from: "02:00"
              to: "04:00"
              source: https://example.org/status
            - days: [sat, sunday]
              from: "2:00"
              to: "25:00"
              source: nope
            - days: weekly
              from: "22:00"
              to: "22:00"
              source: https://example.org/status
              when: always
            - days: [mon]
              from: "23:00"
        """))
    with pytest.raises(RegistryError) as e:
        load_registry(path)
    assert e.value.problems == [
        f"{path}:15: nightly: maintenance.1.days.1: must be one of mon, tue, wed, thu, fri, sat, sun; got 'sunday'",
        f"{path}:16: nightly: maintenance.1.from: must be a local time HH:MM, such as 01:00; got '2:00'",
        f"{path}:17: nightly: maintenance.1.to: must be a local time HH:MM, such as 03:00; got '25:00'",
        f"{path}:18: nightly: maintenance.1.source: scheme must be http or https; got 'none'",
        f"{path}:19: nightly: maintenance.2.days: must be daily or a list of weekdays such as [sat, sun]; got 'weekly'",
        f"{path}:21: nightly: maintenance.2.to: is the same time as from (22:00): a window must last",
        f"{path}:23: nightly: maintenance.2: unknown key 'when'",
        f"{path}:24: nightly: maintenance.3: missing field 'source'",
        f"{path}:24: nightly: maintenance.3: missing field 'to'",
    ]


def test_a_sound_window_is_read_and_written_back(tmp_path):
    import yaml

    path = tmp_path / "endpoints.yaml"
    windows = [WINDOW, {"days": ["sat", "sun"], "from": "23:30", "to": "01:00", "source": "https://example.org/status"}]
    path.write_text(yaml.safe_dump([entry(id="nightly", maintenance=windows)]))
    [endpoint] = load_registry(path)
    assert endpoint.to_dict()["maintenance"] == windows


def test_inside_a_daily_window_in_local_time():
    # Helsinki is UTC+2 in November: the window is 00:00-02:00 UTC.
    moments = pd.to_datetime(["2026-11-19T23:59:00Z", "2026-11-20T00:00:00Z", "2026-11-20T01:59:00Z", "2026-11-20T02:00:00Z"], utc=True)
    assert inside(moments, [WINDOW], "Europe/Helsinki").tolist() == [False, True, True, False]
    # In July (UTC+3) the same local window is 23:00-01:00 UTC: the wall clock holds across daylight saving.
    summer = pd.to_datetime(["2026-07-01T22:59:00Z", "2026-07-01T23:00:00Z", "2026-07-02T00:59:00Z", "2026-07-02T01:00:00Z"], utc=True)
    assert inside(summer, [WINDOW], "Europe/Helsinki").tolist() == [False, True, True, False]


def test_a_window_across_midnight_belongs_to_the_days_it_starts_on():
    window = {"days": ["sat"], "from": "23:00", "to": "01:00", "source": "https://example.org"}
    # Saturday 2026-11-21 23:30 and Sunday 00:30 are inside; Friday 23:30 and Saturday 00:30 are not.
    moments = pd.to_datetime(["2026-11-21T23:30:00Z", "2026-11-22T00:30:00Z", "2026-11-20T23:30:00Z", "2026-11-21T00:30:00Z",
                              "2026-11-22T01:00:00Z"], utc=True)
    assert inside(moments, [window], "UTC").tolist() == [True, True, False, False, False]
    from records.maintenance import holds  # the crawler's reading of one moment: the same
    assert [holds(m.to_pydatetime(), [window], "UTC") for m in moments] == [True, True, False, False, False]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Two cities down every night from 02:00 to 04:00 (Helsinki), one declaring it and one not, crawled every 30
    minutes for 6 simulated days."""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run

    work = tmp_path_factory.mktemp("nights")
    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    end = start + timedelta(days=6)
    cities = [city(sim("declared", "127.0.9.5", timezone="Europe/Helsinki", requests_per_day=5, maintenance=[WINDOW], behaviour=NIGHTLY)),
              city(sim("undeclared", "127.0.9.6", timezone="Europe/Helsinki", requests_per_day=5, behaviour=NIGHTLY))]
    world = run(cities, work, start, end, timedelta(minutes=30), progress=False, shards=1)
    return world, as_json(summarize(load(work / "data", end), end)), end, work


def test_a_declared_window_is_maintenance_and_uptime_outside_it_is_the_truth(nights):
    from simulator.world import uptime

    world, summary, end, _ = nights
    declared = next(e for e in summary["endpoints"] if e["id"] == "declared")
    detail = summary["details"]["declared"]
    # The truth outside the window: the city never failed there.
    outside = [w for w in world.truth["declared"].windows if not inside(pd.DatetimeIndex([w.start]), [WINDOW], "Europe/Helsinki")[0]]
    assert uptime(outside, end - timedelta(days=7), end) == 1.0
    assert declared["uptime"]["7d"] == 1.0
    counts = detail["crawl_counts"]["7d"]
    crawls = [end - timedelta(minutes=30 * n) for n in range(6 * 48 + 1)]  # every crawl: the 7 days hold them all
    failed = sum(world.truth["declared"].failure(c) is not None for c in crawls)  # 02:00, 02:30, 03:00, 03:30 each night
    assert counts["down"] == 0 and counts["maintenance"] == failed and failed >= 6 * 4
    assert all(o["maintenance"] for o in detail["outages"]) and len(detail["outages"]) == 6
    assert detail["incidents"] == [] and detail["regular_hours"] is None
    assert any(d["maintenance"] == 4 and d["uptime"] == 1.0 for d in detail["status_days"])


def test_the_same_nights_undeclared_are_outages_and_said_to_be_regular(nights):
    _, summary, _, _ = nights
    undeclared = next(e for e in summary["endpoints"] if e["id"] == "undeclared")
    detail = summary["details"]["undeclared"]
    assert undeclared["uptime"]["7d"] == pytest.approx(1 - 4 / 48, abs=0.01)
    assert detail["crawl_counts"]["7d"]["maintenance"] == 0 and not any(o["maintenance"] for o in detail["outages"])
    assert len(detail["incidents"]) >= 6  # two down crawls in a row, every night
    assert detail["regular_hours"] == {"from": "02:00", "to": "04:00", "down_in_band": detail["regular_hours"]["down"],
                                       "down": detail["regular_hours"]["down"], "days": 6, "span_days": 30,
                                       "since": detail["regular_hours"]["since"]}


def test_the_site_shows_maintenance_as_such(nights):
    """The 90-day bar, the outages list, the feeds and the badge say maintenance; the undeclared city's page says its
    outages keep regular hours, with the figures."""
    import contextlib
    import io

    import build

    _, summary, end, work = nights
    out = work / "site"
    with contextlib.redirect_stdout(io.StringIO()):
        assert build.main(["--data", str(work / "data"), "--out", str(out), "--now", end.strftime("%Y-%m-%dT%H:%M:%SZ")]) == 0
    page = (out / "endpoints" / "declared.html").read_text()
    assert 'class="day day-maintenance"' not in page and "4 in planned maintenance" in page  # its days were up otherwise
    assert page.count('<tr class="maintenance">') == 6 and "none: declared maintenance" in page
    assert "Planned maintenance</strong>, as the registry declares it (local time, Europe/Helsinki): daily 02:00–04:00" in page
    feed = (out / "feeds" / "declared.xml").read_text()
    assert feed.count("planned maintenance, ended") + feed.count("planned maintenance, ongoing") == 6 and "down (" not in feed
    other = (out / "endpoints" / "undeclared.html").read_text()
    regular = summary["details"]["undeclared"]["regular_hours"]
    assert (f"{regular['down_in_band']} of the {regular['down']} down crawls of the last 30 days fell between 02:00 and 04:00 "
            "local time (Europe/Helsinki), on 6 different days") in other
    assert "Regular hours?" not in page


def test_the_crawls_console_line_says_maintenance_for_a_down_endpoint_inside_its_window(tmp_path):
    """Nothing listens on the port: the endpoint is down, at 03:00 inside its declared nightly window."""
    import yaml

    from tests.test_crawl import run_main

    registry = tmp_path / "endpoints.yaml"
    registry.write_text(yaml.safe_dump([entry(id="nightly", base_url="http://127.0.9.9:9/open311/v2/", timezone="UTC",
                                              maintenance=[WINDOW])]))
    code, out = run_main("--endpoints", str(registry), "--data", str(tmp_path / "data"), "--now", "2026-11-20T03:00:00Z",
                         "--allow-loopback")
    assert code == 0
    assert out.splitlines()[0].startswith("nightly: maintenance: services ")
    assert ": 1 endpoints: 0 up, 0 degraded, 0 down, 0 unknown, 1 maintenance;" in out.splitlines()[1]
