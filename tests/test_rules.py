"""The one status rule (records/status.py): for one crawl (the crawler's console line) and a frame of many (the site)."""

import pytest

from history.frames import crawl_statuses, probes_frame
from records import ProbeRecord
from records.status import crawl_status


def p(method="services", outcome="ok", ms=100, second=0, page=None, endpoint="e", crawl="2026-11-20T12:00:00Z"):
    return ProbeRecord(crawl=crawl, endpoint=endpoint, method=method, format="json", probed_at=f"2026-11-20T12:00:{second:02d}Z",
                       outcome=outcome, http_status=None, elapsed_ms=ms, bytes=0, items=None, error=None, crawler="t",
                       page=page).to_dict()


CASES = {
    "up": [p(), p("requests", page=1, second=1)],
    "retried, then up": [p(outcome="http_5xx"), p(second=1), p("requests", page=1, second=2)],
    "fell back to xml": [p(outcome="http_4xx"), p(second=1), p("requests", page=1, second=2)],
    "down": [p(outcome="timeout"), p(outcome="timeout", second=1)],
    "requests failed": [p(), p("requests", outcome="http_5xx", page=1, second=1)],
    "requests never asked": [p()],
    "slow services": [p(ms=1500), p("requests", page=1, second=1)],
    "slow first services, fast retry": [p(ms=1500), p(second=1), p("requests", page=1, second=2)],
    "slow requests": [p(), p("requests", ms=6000, page=1, second=1)],
    "page 2 failed": [p(), p("requests", page=1, second=1), p("requests", outcome="timeout", page=2, second=2)],
    "rate limited": [p(outcome="rate_limited")],
    "refused": [p(outcome="refused", ms=None)],
    "needs a key": [p(outcome="no_key", ms=None)],
    "only a definition": [p("service_definition")],
    "old record without page": [p(), p("requests", second=1)],
}
EXPECTED = {
    "up": "up", "retried, then up": "up", "fell back to xml": "up", "down": "down", "requests failed": "degraded",
    "requests never asked": "degraded", "slow services": "degraded", "slow first services, fast retry": "degraded",
    "slow requests": "degraded", "page 2 failed": "up", "rate limited": "degraded", "refused": "unknown", "needs a key": "unknown",
    "only a definition": "unknown", "old record without page": "up",
}


@pytest.mark.parametrize("case", CASES)
def test_the_rules(case):
    assert crawl_status(CASES[case]) == EXPECTED[case]


def test_the_history_version_agrees_with_the_plain_one():
    records = []
    for n, probes in enumerate(CASES.values()):
        records += [{**r, "endpoint": f"e{n:02d}"} for r in probes]
    statuses = crawl_statuses(probes_frame(records))
    got = dict(zip(statuses["endpoint"], statuses["status"]))
    assert got == {f"e{n:02d}": EXPECTED[case] for n, case in enumerate(CASES)}


def test_late_and_skipped_crawls_are_gaps_in_the_schedule():
    from datetime import datetime, timedelta, timezone

    from metrics.status import schedule

    def c(scheduled, started):
        return {"scheduled": f"2026-11-20T{scheduled}:00Z", "crawl": f"2026-11-20T{started}:00Z"}

    crawls = [c("12:00", "12:04"), c("12:30", "12:47"), c("13:30", "13:36")]  # 13:00 never ran
    now = datetime(2026, 11, 20, 13, 59, tzinfo=timezone.utc)
    assert schedule(crawls, now, timedelta(hours=2)) == {"slots": 4, "crawled": 3, "skipped": 1, "late_median_s": 360.0}
    assert schedule([], now, timedelta(hours=1)) == {"slots": 2, "crawled": 0, "skipped": 2, "late_median_s": None}
