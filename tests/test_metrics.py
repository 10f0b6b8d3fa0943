"""Metric functions on small hand-made histories: outages, windows, comprehensiveness, conformance,
utilization and freshness, with crawl gaps, flapping, late cron runs and a city's clock skew."""

from datetime import datetime, timedelta, timezone

import pandas as pd

from history.frames import crawl_statuses, probes_frame
from metrics.coverage import Coverage
from metrics.quality import comprehensiveness, conformance
from metrics.status import outages, uptime, window_counts
from metrics.summary import tickets_frame
from metrics.utilization import by_service, freshness, weekday_pattern
from records import ProbeRecord
from tests.conftest import summary_of

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
WHOLE = Coverage(pd.Timestamp(NOW - timedelta(days=90)), pd.Timestamp(NOW))  # every request of 90 days listed


def probe(at, method="services", outcome="ok", ms=100, **kw):
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = dict(crawl=stamp, endpoint="e", method=method, format="json", probed_at=stamp, outcome=outcome,
                  http_status=200 if outcome == "ok" else (503 if outcome == "http_5xx" else None), elapsed_ms=ms, bytes=0,
                  items=5 if outcome == "ok" else None, error=None, crawler="t", page=1 if method == "requests" else None)
    fields.update(kw)
    return ProbeRecord(**fields).to_dict()


def crawl(at, services="ok", requests="ok"):
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if services != "ok":
        return [probe(at, outcome=services)]
    return [probe(at), probe(at + timedelta(seconds=1), "requests", requests, crawl=stamp)]


def history(*crawls):
    return probes_frame([p for c in crawls for p in c])


def hours_ago(h, minutes=0):
    return NOW - timedelta(hours=h, minutes=minutes)


def test_outages_merge_consecutive_down_crawls_and_take_the_usual_failure():
    frame = history(crawl(hours_ago(6)), crawl(hours_ago(5), "http_5xx"), crawl(hours_ago(4), "timeout"),
                    crawl(hours_ago(3, -17), "http_5xx"),  # a late cron run: 2 h 43 min ago
                    crawl(hours_ago(2)), crawl(hours_ago(1), "connect"))
    found = outages(crawl_statuses(frame), NOW)
    assert found == [
        {"start": "2026-11-20T11:00:00Z", "end": None, "duration_s": 3600, "failure": "connect", "crawls": 1, "maintenance": False},
        {"start": "2026-11-20T07:00:00Z", "end": "2026-11-20T10:00:00Z", "duration_s": 10800, "failure": "http_5xx", "crawls": 3,
         "maintenance": False},
    ]


def test_a_gap_in_the_crawls_is_unknown_not_down():
    frame = history(crawl(hours_ago(30)), crawl(hours_ago(2)))  # 28 hours without a crawl (the cron stopped)
    statuses = crawl_statuses(frame)
    assert outages(statuses, NOW) == []
    assert uptime(statuses, NOW, timedelta(days=7)) == 1.0
    refused = probes_frame(crawl(hours_ago(1), "refused"))
    counts = window_counts(crawl_statuses(pd.concat([frame, refused])), NOW)
    assert counts["24h"] == {"up": 1, "degraded": 0, "down": 0, "unknown": 1, "maintenance": 0} and counts["7d"]["up"] == 2


def test_flapping_gives_short_outages_and_a_fair_uptime():
    kinds = ["ok", "http_5xx"] * 6  # every other crawl fails
    frame = history(*(crawl(hours_ago(12 - n), k) for n, k in enumerate(kinds)))
    statuses = crawl_statuses(frame)
    assert uptime(statuses, NOW, timedelta(hours=24)) == 0.5
    assert len(outages(statuses, NOW)) == 6 and all(o["duration_s"] == 3600 for o in outages(statuses, NOW))


def test_comprehensiveness_from_what_answered():
    frame = probes_frame([
        probe(hours_ago(3)), probe(hours_ago(3), format="xml", outcome="http_4xx"),
        probe(hours_ago(3), "requests"), probe(hours_ago(3), "requests", page=2, findings={"paging_ignored": "page 2 repeated page 1"}),
        probe(hours_ago(3), "service_definition", target="001", items=4), probe(hours_ago(2), "service_definition", target="001", items=4),
        probe(hours_ago(2), "service_definition", target="002", outcome="http_4xx"),
        probe(hours_ago(1), items=10), probe(hours_ago(200)),  # 200 hours ago: outside the 7 days
    ])
    assert comprehensiveness(frame, NOW) == {
        "services": 10, "definitions": 1, "definitions_share": 0.1, "attributes_mean": 4.0, "formats": ["json"],
        "methods": {"services": 0.6667, "service_definition": 0.6667, "requests": 1.0}, "paging": "ignored",
    }
    assert comprehensiveness(frame, NOW - timedelta(days=30)) is None


def test_the_conformance_score_adds_up_the_penalties():
    frame = probes_frame([
        probe(hours_ago(3), findings={"json_wrapper": "{'requests': ...}", "bom": "EF BB BF"}),
        probe(hours_ago(2), "requests", findings={"status_case": "Open", "bom": "EF BB BF"}),
        probe(hours_ago(1), outcome="timeout", ms=None, findings={}),
        probe(hours_ago(1), "requests", findings={"made_up_by_a_newer_crawler": "x"}),
    ])
    result = conformance(frame, NOW)
    assert result["score"] == 100 - 10 - 4 - 1  # major, minor, cosmetic; each code once
    assert [(f["code"], f["severity"], f["calls"]) for f in result["findings"]] == [
        ("json_wrapper", "major", 1), ("status_case", "minor", 1), ("bom", "cosmetic", 2)]
    assert conformance(probes_frame([probe(hours_ago(1), outcome="dns", ms=None)]), NOW) is None  # nothing answered


def tickets(*rows):
    return tickets_frame([{"endpoint": "e", "id": i, "crawl": "2026-11-20T12:00:00Z", "requested": r, "status": "open",
                           "service_code": code} for i, r, code in rows])


def test_utilization_by_service_and_weekday():
    frame = tickets(("1", "2026-11-19T10:00:00Z", "A"), ("1", "2026-11-19T10:00:00Z", "A"),  # listed twice, counted once
                    ("2", "2026-11-18T23:30:00Z", "A"), ("3", "2026-11-17T10:00:00Z", "B"), ("4", "2026-10-20T10:00:00Z", "B"))
    assert by_service(frame, WHOLE, NOW) == [{"service_code": "A", "per_day": round(2 / 7, 2)}, {"service_code": "B", "per_day": round(1 / 7, 2)}]
    pattern = {d["weekday"]: d["per_day"] for d in weekday_pattern(frame, WHOLE, NOW, "America/Chicago")}
    # 11-19 10:00Z is Thursday 04:00 in Chicago; 11-18 23:30Z is Wednesday 17:30; 11-17 10:00Z Tuesday; 10-20 is out of the 28 days.
    assert pattern == {"Mon": 0.0, "Tue": 0.25, "Wed": 0.25, "Thu": 0.25, "Fri": 0.0, "Sat": 0.0, "Sun": 0.0}


def test_freshness_flags_an_api_that_stopped_publishing():
    steady = [(str(n), (NOW - timedelta(days=10) + timedelta(hours=2 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "A") for n in range(60)]
    result = freshness(tickets(*steady), WHOLE, NOW)  # the last one 5 days and 2 hours ago, against a 2-hour rhythm
    assert result == {"newest": "2026-11-15T10:00:00Z", "age_hours": 122.0, "usual_gap_hours": 2.0, "stale": True}
    lively = steady + [("new", "2026-11-20T11:00:00Z", "A")]
    assert freshness(tickets(*lively), WHOLE, NOW)["stale"] is False
    skewed = lively + [("future", "2026-11-20T12:10:00Z", "A")]  # the city's clock runs 10 minutes fast
    assert freshness(tickets(*skewed), WHOLE, NOW)["newest"] == "2026-11-20T11:00:00Z"
    assert freshness(tickets(*steady[:3]), WHOLE, NOW)["stale"] is None  # too few requests to know the rhythm


def test_windowed_figures_use_only_the_covered_part():
    frame = tickets(("1", "2026-11-19T10:00:00Z", "A"), ("2", "2026-11-19T11:00:00Z", "A"), ("3", "2026-11-18T13:00:00Z", "B"),
                    ("4", "2026-11-16T10:00:00Z", "B"))  # the last one before the covered part: seen in a listing cut at a cap
    two_days = Coverage(pd.Timestamp(NOW - timedelta(days=2)), pd.Timestamp(NOW))
    assert by_service(frame, two_days, NOW) == [{"service_code": "A", "per_day": 1.0}, {"service_code": "B", "per_day": 0.5}]
    assert by_service(frame, Coverage(None, None), NOW) == []  # nothing seen whole: no rate, never a rate of 0
    assert two_days.window(NOW, timedelta(days=7)) == {"since": "2026-11-18T12:00:00Z", "until": "2026-11-20T12:00:00Z",
                                                       "days": 2.0, "span_days": 7.0}
    # In UTC, 11-18 12:00 to 11-20 12:00 is half a Wednesday, a Thursday and half a Friday; the other weekdays have no rate.
    pattern = {d["weekday"]: d["per_day"] for d in weekday_pattern(frame, two_days, NOW, "UTC")}
    assert pattern == {"Mon": None, "Tue": None, "Wed": 2.0, "Thu": 2.0, "Fri": 0.0, "Sat": None, "Sun": None}


def test_weekday_days_follow_the_citys_calendar_across_a_clock_change():
    from zoneinfo import ZoneInfo

    from metrics.utilization import weekday_days
    # Chicago falls back on Sunday 2026-11-01: that day is 25 hours long and still one day.
    days = weekday_days((pd.Timestamp("2026-10-26T05:00:00Z"), pd.Timestamp("2026-11-02T06:00:00Z")), ZoneInfo("America/Chicago"))
    assert [round(d, 6) for d in days] == [1.0] * 7


def test_an_api_we_could_not_read_is_not_called_stale_for_the_time_unseen():
    steady = [(str(n), (NOW - timedelta(days=10) + timedelta(hours=2 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "A") for n in range(60)]
    # The last whole listing was 5 days ago, an hour after the newest request: nothing says requests stopped.
    unread = Coverage(pd.Timestamp(NOW - timedelta(days=40)), pd.Timestamp("2026-11-15T11:00:00Z"))
    assert freshness(tickets(*steady), unread, NOW) == {"newest": "2026-11-15T10:00:00Z", "age_hours": 122.0,
                                                        "usual_gap_hours": 2.0, "stale": False}


def test_the_state_of_open311_counts_and_names_the_best_and_worst():
    from metrics.compare import state_of

    def summary(id, status, uptime, stale, risk):
        return summary_of(id, name=id.title(), status=status, uptime={"30d": uptime}, stale=stale, accuracy={"risk": risk})

    state = state_of([summary("a", "up", 0.99, False, 0.2), summary("b", "degraded", 0.90, True, None),
                      summary("c", "down", 0.50, None, 0.7), summary("d", "unknown", None, None, 0.1), summary("e", "up", 0.99, False, None)])
    assert {k: state[k] for k in ("watched", "answering", "down", "stale")} == {"watched": 5, "answering": 3, "down": 1, "stale": 1}
    # a and e are tied at 99 %: both are the best, said as a tie, never settled by the alphabet.
    assert {k: ([x.id for x in state[k]["endpoints"]], state[k]["value"])
            for k in ("best_uptime", "worst_uptime", "best_accuracy", "worst_accuracy")} == {
        "best_uptime": (["a", "e"], 0.99), "worst_uptime": (["c"], 0.5), "best_accuracy": (["d"], 0.1), "worst_accuracy": (["c"], 0.7)}
    assert state["uptime_window"] == "30d"  # the window the league table shows too
    alone = state_of([summary("a", "up", 0.99, False, 0.2)])
    assert alone["best_uptime"] is None and alone["worst_accuracy"] is None  # no best without another to beat
    tied = state_of([summary("a", "up", 1.0, False, None), summary("b", "up", 1.0, False, None)])
    assert tied["best_uptime"] is None  # all at 100 %: no best, and no worst


def test_a_summary_says_how_much_of_each_window_was_watched_and_keeps_its_own_calls_out_of_the_failures():
    from figures import as_json
    from history import History
    from metrics.summary import summarize

    # Watched for 40 days: a crawl every 6 hours, one down crawl 3 days ago, and two failed calls the monitor made
    # for itself (an old window of the backfill, a panel ticket) in the latest crawl.
    calls = [p for n in range(160) for p in crawl(NOW - timedelta(days=40) + timedelta(hours=6 * n), "http_5xx" if n == 148 else "ok")]
    latest = calls[-1]["crawl"]
    calls += [probe(NOW, "backfill", "timeout", crawl=latest, target="2026-10-01T00:00:00Z/2026-10-02T00:00:00Z"),
              probe(NOW, "panel", "http_5xx", crawl=latest)]
    site = as_json(summarize(History.of({"probes": calls}, NOW + timedelta(minutes=5)), NOW + timedelta(minutes=5)))
    e = site["details"]["e"]
    first = "2026-10-11T12:00:00Z"
    assert e["uptime_coverage"]["30d"] == {"since": "2026-10-21T12:05:00Z", "until": "2026-11-20T12:05:00Z", "days": 30.0, "span_days": 30.0}
    for window in ("90d", "365d"):  # longer than the history: a figure over the 40 days watched, and said so
        assert e["uptime_coverage"][window] == {"since": first, "until": "2026-11-20T12:05:00Z", "days": 40.0,
                                                "span_days": 90.0 if window == "90d" else 365.0}
    assert e["uptime"]["90d"] == e["uptime"]["365d"] == round(159 / 160, 4)
    assert [f["method"] for f in e["failures"]] == ["services"]  # the down crawl's: not the backfill's, not the panel's
    assert latest == "2026-11-20T06:00:00Z" and e["checked_ago_s"] == 6 * 3600 + 5 * 60  # "Checked 6 hours ago"
    assert site["history"] == {"first_crawl": first, "last_crawl": latest}


def test_a_city_that_cannot_be_read_is_never_called_fresh():
    from figures import as_json
    from history import History
    from metrics.summary import summarize

    for status, latest in (("up", "ok"), ("down", "http_5xx")):
        calls = [p for h in range(1, 100) for p in crawl(hours_ago(h))] + crawl(NOW, latest)
        records = {"probes": calls, "tickets": [{"endpoint": "e", "id": str(n), "crawl": hours_ago(n).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                  "requested": hours_ago(n + 1).strftime("%Y-%m-%dT%H:%M:%SZ"), "status": "open",
                                                  "service_code": "A", "updated": None} for n in range(1, 90)]}
        summary = as_json(summarize(History.of(records, NOW), NOW))["endpoints"][0]
        assert summary["status"] == status
        assert summary["stale"] is (False if status == "up" else None)  # down: "–", never "fresh"


def test_what_refusals_taught_of_the_rate_limit():
    from history.frames import probes_frame
    from metrics.developer import learned_rate

    def call(crawl_at, seconds, outcome="ok", retry=None):
        return probe(crawl_at + timedelta(seconds=seconds), "service_definition", outcome, crawl=crawl_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     http_status=429 if outcome == "rate_limited" else 200, retry_after_s=retry)

    two_days_ago, today = hours_ago(48), hours_ago(2)
    # Refused after 5 calls in a minute two days ago, after 4 today (a call 70 s before is outside its minute).
    calls = ([call(two_days_ago, s) for s in range(0, 50, 10)] + [call(two_days_ago, 51, "rate_limited", 20)]
             + [call(today, 0)] + [call(today, s) for s in (70, 80, 90, 100)] + [call(today, 101, "rate_limited", 36)]
             + [call(hours_ago(24 * 40), 0, "rate_limited", 5)])  # 40 days ago: out of the 30
    assert learned_rate(probes_frame(calls), NOW) == {"refusals": 2, "days": 2, "latest": "2026-11-20T10:01:41Z", "per_minute": 4,
                                                      "retry_after_s": 36.0}
    assert learned_rate(probes_frame(calls[:5]), NOW) is None  # never refused: nothing learned
    # A crawl that began on the first second of the 30 days: its calls before the refusal still count.
    edge = NOW - timedelta(days=30)
    early = [call(edge, s) for s in range(0, 40, 10)] + [call(edge, 41, "rate_limited", 20)]
    assert learned_rate(probes_frame(early), NOW)["per_minute"] == 4


def test_each_city_is_compared_by_its_figure_the_median_and_its_rank():
    from metrics.compare import peers

    def summary(id, uptime, server, risk):
        return summary_of(id, uptime={"30d": uptime}, server_ms={"p50": server} if server else None, accuracy={"risk": risk})

    among, values = peers([summary("a", 1.0, 200, 10), summary("b", 1.0, 100, None), summary("c", 0.9958, 300, 70),
                           summary("d", None, None, 40)])
    assert among["c"]["uptime_30d"] == {"value": 0.9958, "median": 1.0, "rank": 3, "of": 3, "better": "higher"}
    assert among["a"]["uptime_30d"]["rank"] == among["b"]["uptime_30d"]["rank"] == 1  # a tie shares its rank
    assert among["b"]["server_p50"] == {"value": 100, "median": 200, "rank": 1, "of": 3, "better": "lower"}
    assert among["d"]["accuracy_risk"] == {"value": 40, "median": 40, "rank": 2, "of": 3, "better": "lower"}
    assert among["d"]["uptime_30d"] == {"value": None, "median": 1.0, "rank": None, "of": 3, "better": "higher"}
    assert values["uptime_30d"] == [0.9958, 1.0, 1.0] and values["requests_per_day"] == []
