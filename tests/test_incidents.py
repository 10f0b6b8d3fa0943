"""Incidents as GitHub issues: derived from the data (metrics/incidents.py), planned against the issues there are, and
done through the REST API of a loopback stand-in for GitHub (tests/fake_github.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from incidents import main
from metrics.incidents import down_incidents
from records import iso
from tests.conftest import ROOT, entry, read_lines, record_validator
from tests.fake_github import TOKEN, fake_github

REPO = "open311status/open311-status"
START = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
SLOT = timedelta(minutes=30)
ENV = {"GITHUB_TOKEN": TOKEN}


def write_crawls(data: Path, pattern: str, first: int = 0, endpoint: str = "chicago", tickets: bool = True) -> datetime:
    """One crawl a slot from START + first slots: u up, d down (http_5xx), t down (timeout), . no crawl; each up crawl
    lists the requests of the day, one new every slot while tickets is true. Returns the last slot's time."""
    probes, crawls, seen = [], [], []
    moment = START
    for i, kind in enumerate(pattern, start=first):
        moment = START + i * SLOT
        stamp = iso(moment)
        if kind == ".":
            continue
        crawls.append({"bytes": 1, "calls": 2, "crawl": stamp, "crawler": "test", "endpoints": 1, "finished": stamp, "scheduled": stamp, "v": 1})
        if kind == "u":
            calls = [{"m": "services", "ms": 100, "b": 500, "n": 5, "c": "application/json"},
                     {"m": "requests", "t": 1, "ms": 100, "b": 900, "n": 3, "p": 1}]
            if tickets:
                seen.append({"crawl": stamp, "endpoint": endpoint, "id": f"T{i}", "requested": iso(moment - timedelta(minutes=5)),
                             "service_code": "pothole", "status": "open", "updated": None, "v": 1})
        else:
            outcome, status = {"d": ("http_5xx", 503), "t": ("timeout", None)}[kind]
            calls = [{"m": "services", "o": outcome, "s": status, "ms": 100, "b": 0, "a": 2}]
        probes.append({"v": 2, "crawl": stamp, "endpoint": endpoint, "crawler": "test", "calls": calls})
    known = [{"base_url": "https://example.org/open311/v2/", "country": "USA", "crawl": iso(START), "endpoint": endpoint, "format": "json",
              "jurisdiction_id": None, "name": "Chicago, IL", "platform": "in-house", "timezone": "America/Chicago", "v": 1}] if first == 0 else []
    for kind, lines in (("probes", probes), ("crawls", crawls), ("tickets", seen), ("endpoints", known)):
        for line in lines:
            path = data / kind / line["crawl"][:4] / f"{line['crawl'][:10]}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as f:
                f.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
    return moment


@pytest.fixture
def world(tmp_path):
    (tmp_path / "endpoints.yaml").write_text(yaml.safe_dump([entry(id="chicago", name="Chicago, IL", maintainers=["chi-311", "Ana-Lopez"])]))
    return tmp_path


def run(world: Path, api: str, now: datetime, *extra: str, env: dict | None = None, sleeps: list | None = None) -> tuple[int, str, str]:
    out, err = [], []
    import contextlib
    import io

    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = main(["--data", str(world / "data"), "--endpoints", str(world / "endpoints.yaml"), "--repo", REPO, "--api-url", api,
                     "--now", iso(now), "--site-url", "https://example.org/status/", "--summary", str(world / "summary.md"), *extra],
                    clock=lambda: now, env=ENV if env is None else env, sleep=(sleeps if sleeps is not None else []).append)
    out.append(o.getvalue())
    err.append(e.getvalue())
    return code, out[0], err[0]


def digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() + str(p).encode() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def test_an_outage_opens_one_issue_and_a_rerun_adds_nothing(world):
    now = write_crawls(world / "data", "uuuudd")
    with fake_github(REPO, iso(now)) as (api, github):
        code, out, _ = run(world, api, now)
        assert code == 0
        [issue] = github.issues.values()
        assert issue["title"] == "Chicago, IL is down (http_5xx) since 2026-12-01 12:00 UTC"
        assert [label["name"] for label in issue["labels"]] == ["incident", "chicago"]
        assert issue["body"] == (
            "Chicago, IL was down at 2 consecutive crawls from 2026-12-01 12:00 UTC: GET services failed with http_5xx.\n\n"
            "Its page: https://example.org/status/endpoints/chicago.html\n"
            "This issue closes by itself after 2 consecutive crawls that find it up.\n\n"
            "cc @chi-311 @Ana-Lopez\n\n<!-- open311-status incident: chicago/down/2026-12-01T12:00:00Z -->")
        assert out == "open #1: Chicago, IL is down (http_5xx) since 2026-12-01 12:00 UTC\n"
        writes = len(github.writes())
        assert run(world, api, now)[:2] == (0, "")  # the rerun finds its issue by label and marker
        assert len(github.writes()) == writes and len(github.issues) == 1
    [logged] = read_lines(world / "data", "incidents")
    record_validator("incidents").validate(logged)
    assert (logged["action"], logged["issue"], logged["incident"], logged["url"]) == (
        "opened", 1, "chicago/down/2026-12-01T12:00:00Z", f"https://github.com/{REPO}/issues/1")


def test_recovery_closes_the_issue_with_how_long_it_lasted(world):
    data = world / "data"
    now = write_crawls(data, "uudddt")
    with fake_github(REPO, iso(now)) as (api, github):
        code, out, _ = run(world, api, now)  # timeout already seen: the title says the first class, a comment the change
        assert out.splitlines()[1] == "comment on #1: Since 2026-12-01 12:30 UTC GET services fails with timeout (it was http_5xx)."
        [change] = github.comments[1]
        assert change["body"].startswith("Since 2026-12-01 12:30 UTC GET services fails with timeout (it was http_5xx).")
        now = write_crawls(data, "uu", first=6)
        github.now = iso(now)
        code, out, _ = run(world, "http://127.0.0.1:9/", now, "--dry-run", env={})  # the log says issue #1 is open
        assert (code, out.splitlines()) == (0, [
            "would comment on #1: Resolved: Chicago, IL was up again at 2026-12-01 13:00 UTC, after 2 h down (4 failed crawls: "
            "http_5xx, then timeout).",
            "would close #1: Resolved: Chicago, IL was up again at 2026-12-01 13:00 UTC, after 2 h down (4 failed crawls: "
            "http_5xx, then timeout)."])
        code, out, _ = run(world, api, now)
        assert code == 0
        issue = github.issues[1]
        assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
        assert github.comments[1][-1]["body"].startswith(
            "Resolved: Chicago, IL was up again at 2026-12-01 13:00 UTC, after 2 h down (4 failed crawls: http_5xx, then timeout).")
        assert run(world, api, now)[1] == ""  # closed once
    closed = [r for r in read_lines(data, "incidents") if r["action"] == "closed"]
    assert [(r["end"], r["issue"]) for r in closed] == [("2026-12-01T13:00:00Z", 1)]


def test_flapping_gives_one_issue_reopened(world):
    data = world / "data"
    now = write_crawls(data, "uudd")
    with fake_github(REPO, iso(now)) as (api, github):
        run(world, api, now)
        now = write_crawls(data, "uu", first=4)
        github.now = iso(now)
        run(world, api, now)
        assert github.issues[1]["state"] == "closed"
        now = write_crawls(data, "dd", first=6)  # back down an hour after it closed
        github.now = iso(now)
        code, out, _ = run(world, api, now)
        assert code == 0 and len(github.issues) == 1
        assert github.issues[1]["state"] == "open"
        assert out.splitlines()[0] == "reopen #1: Chicago, IL is down (http_5xx) since 2026-12-01 11:00 UTC"
        assert github.comments[1][-1]["body"].startswith("Reopened: down again at 2026-12-01 13:30 UTC, less than 6 h after it closed.")
        assert run(world, api, now)[1] == ""
    assert [r["action"] for r in read_lines(data, "incidents")] == ["opened", "commented", "closed", "reopened", "commented"]


def test_a_stale_endpoint_opens_its_own_kind_of_incident(world):
    data = world / "data"
    write_crawls(data, "u" * 96)  # two days of a request every half hour
    now = write_crawls(data, "u" * 24, first=96, tickets=False)  # then none for 12 hours, while the API answers
    with fake_github(REPO, iso(now)) as (api, github):
        code, out, _ = run(world, api, now)
        assert code == 0
        [issue] = github.issues.values()
        assert issue["title"] == "Chicago, IL has had no new request since 2026-12-03 09:25 UTC"
        assert "<!-- open311-status incident: chicago/stale/2026-12-03T09:25:00Z -->" in issue["body"]
        assert "when one usually comes every 0.5 h" in issue["body"]
        now = write_crawls(data, "uu", first=120)
        github.now = iso(now)
        run(world, api, now)
        assert github.issues[1]["state"] == "closed"
        assert github.comments[1][-1]["body"].startswith("Resolved: Chicago, IL listed new requests again by 2026-12-03 22:00 UTC")


def test_a_secondary_rate_limit_is_waited_out_and_a_5xx_tried_again(world):
    now = write_crawls(world / "data", "uudd")
    sleeps: list[float] = []
    with fake_github(REPO, iso(now)) as (api, github):
        github.fail_next("POST", f"/repos/{REPO}/issues", 403, {"Retry-After": "7"}, "You have exceeded a secondary rate limit.")
        github.fail_next("POST", f"/repos/{REPO}/issues", 502, {}, "Server Error")
        code, out, err = run(world, api, now, sleeps=sleeps)
        assert (code, err) == (0, "")
        assert len(github.issues) == 1
        assert [s for s in sleeps if s > 1] == [7.0, 2.0]  # Retry-After, then the 5xx's pause
        github.fail_next("GET", f"/repos/{REPO}/issues", 403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"},
                         "API rate limit exceeded")
        code, out, err = run(world, api, now)
        assert code == 1
        assert "GitHub's rate limit: HTTP 403 API rate limit exceeded; it asks to wait" in err


def test_github_failing_is_reported_and_never_loses_data(world):
    data = world / "data"
    now = write_crawls(data, "uudd")
    before = digest(data)
    with fake_github(REPO, iso(now)) as (api, github):
        for _ in range(3):
            github.fail_next("POST", f"/repos/{REPO}/issues", 503, {}, "Service Unavailable")
        code, out, err = run(world, api, now)
        assert code == 1 and github.issues == {}
        assert err == f"open311-status incidents: GitHub failed POST /repos/{REPO}/issues (HTTP 503 Service Unavailable), 3 times\n"
        assert "**GitHub failed:**" in (world / "summary.md").read_text()
        assert digest(data) == before


def test_a_bad_token_gives_a_clear_error_and_the_data_is_untouched(world):
    data = world / "data"
    now = write_crawls(data, "uudd")
    before = digest(data)
    with fake_github(REPO, iso(now)) as (api, github):
        code, out, err = run(world, api, now, env={"GITHUB_TOKEN": "ghs_wrong-token-secret"})
        assert code == 1 and github.issues == {}
    assert err == (f"open311-status incidents: GitHub refused the token (HTTP 401 Bad credentials): GITHUB_TOKEN must be a token of "
                   f"{REPO} with issues: write (the crawl workflow's own)\n")
    assert "ghs_wrong-token-secret" not in out + err + (world / "summary.md").read_text()
    assert digest(data) == before
    code, out, err = run(world, api, now, env={})
    assert (code, err) == (1, "open311-status incidents: GITHUB_TOKEN is not set (or use --dry-run); nothing was done\n")


def test_a_second_issue_of_one_incident_is_closed_as_a_duplicate(world):
    now = write_crawls(world / "data", "uudd")
    with fake_github(REPO, iso(now)) as (api, github):
        run(world, api, now)
        twin = dict(github.issues[1], number=2, html_url=f"https://github.com/{REPO}/issues/2")  # as a run alongside would open it
        github.issues[2], github.comments[2] = twin, []
        code, out, _ = run(world, api, now)
        assert out == "close #2 as a duplicate: Chicago, IL is down (http_5xx) since 2026-12-01 11:00 UTC\n"
        assert (github.issues[1]["state"], github.issues[2]["state"], github.issues[2]["state_reason"]) == ("open", "closed", "not_planned")


def test_two_runs_at_once_leave_one_issue(world):
    import threading

    import requests

    now = write_crawls(world / "data", "uudd")
    barrier = threading.Barrier(2)

    class Together(requests.Session):
        """Each run's session: its first issue is opened only once both runs have listed the issues and found none."""

        def request(self, method, url, *args, **kwargs):
            if method == "POST" and url.endswith("/issues") and not getattr(self, "met", False):
                self.met = True
                barrier.wait(timeout=10)
            return super().request(method, url, *args, **kwargs)

    with fake_github(REPO, iso(now)) as (api, github):
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(
            main(["--data", str(world / "data"), "--endpoints", str(world / "endpoints.yaml"), "--repo", REPO, "--api-url", api,
                  "--now", iso(now)], clock=lambda: now, env=ENV, session=Together(), sleep=lambda s: None))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [0, 0]
        assert len(github.issues) == 2  # both opened one ...
        assert [i["number"] for i in github.issues.values() if i["state"] == "open"] == [1]  # ... and the second is closed
        assert github.issues[2]["state_reason"] == "not_planned" and github.comments[2] == [{"body": "Duplicate of #1."}]
    assert [(r["action"], r["issue"]) for r in read_lines(world / "data", "incidents")] == [("opened", 1)]


def test_the_dry_run_needs_no_token_and_does_nothing(world):
    data = world / "data"
    now = write_crawls(data, "uudd")
    before = digest(data)
    code, out, err = run(world, "http://127.0.0.1:9/", now, "--dry-run", env={})
    assert (code, err) == (0, "")
    assert out == "would open a new issue: Chicago, IL is down (http_5xx) since 2026-12-01 11:00 UTC\n"
    assert digest(data) == before


@pytest.mark.parametrize("command", [["-m", "incidents"], ["-m", "cli", "incidents"]])
def test_both_spellings_of_the_command(world, command):
    now = write_crawls(world / "data", "uudd")
    result = subprocess.run([sys.executable, *command, "--data", "data", "--repo", REPO, "--now", iso(now), "--dry-run"],
                            cwd=world, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "would open a new issue: Chicago, IL is down (http_5xx) since 2026-12-01 11:00 UTC\n"


def statuses(*rows: tuple[int, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"endpoint": "x", "crawl": [pd.Timestamp(START + n * SLOT) for n, _, _ in rows],
                         "status": [s for _, s, _ in rows], "failure": [f for _, _, f in rows]})


def test_unknown_and_missing_crawls_neither_open_nor_close():
    found = down_incidents("x", statuses((0, "down", "dns"), (1, "unknown", None), (4, "down", "dns"), (5, "up", None),
                                         (6, "unknown", None), (7, "degraded", None), (8, "down", "tls")))
    [incident] = found
    assert (incident["start"], incident["opened"], incident["end"], incident["closed"]) == (
        "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z", "2026-12-01T12:30:00Z", "2026-12-01T13:30:00Z")
    assert down_incidents("x", statuses((0, "down", "dns"), (1, "up", None), (2, "down", "dns"))) == []  # never twice in a row


def test_the_site_links_each_outage_to_its_issue_and_the_feeds_carry_the_incident(world, tmp_path):
    import build

    data = world / "data"
    write_crawls(data, "u" * 96)
    now = write_crawls(data, "uddddu", first=96)
    with fake_github(REPO, iso(now)) as (api, github):
        run(world, api, now - SLOT)  # while it lasts
    now = write_crawls(data, "u", first=102)
    assert build.main(["--data", str(data), "--out", str(tmp_path / "site"), "--now", iso(now)]) == 0
    site = tmp_path / "site"
    detail = json.loads((site / "api" / "chicago.json").read_text())
    [incident] = detail["incidents"]
    url = f"https://github.com/{REPO}/issues/1"
    assert incident == {"id": "chicago/down/2026-12-03T10:30:00Z", "kind": "down", "start": "2026-12-03T10:30:00Z",
                        "end": "2026-12-03T12:30:00Z", "title": "Chicago, IL is down (http_5xx) since 2026-12-03 10:30 UTC",
                        "heading": "Resolved: Chicago, IL was down (http_5xx) from 2026-12-03 10:30 UTC to 2026-12-03 12:30 UTC (2 h)",
                        "summary": "Chicago, IL was down at 2 consecutive crawls from 2026-12-03 10:30 UTC: GET services failed with http_5xx. "
                                   "Resolved: Chicago, IL was up again at 2026-12-03 12:30 UTC, after 2 h down (4 failed crawls: http_5xx).",
                        "issue": {"number": 1, "url": url}}
    [outage] = detail["outages"]
    assert outage["incident"] == {"id": incident["id"], "title": incident["title"], "heading": incident["heading"], "url": url}
    page = (site / "endpoints" / "chicago.html").read_text()
    # Over, it is headed as resolved, with its span, never "is down since"; the outage row links to it and to its issue.
    assert ('<li id="incident-down-2026-12-03T10-30-00Z"><strong>Resolved: Chicago, IL was down (http_5xx) from 2026-12-03 10:30 UTC '
            f'to 2026-12-03 12:30 UTC (2 h)</strong> · <a href="{url}">issue #1</a>') in page
    assert f'<td><a href="#incident-down-2026-12-03T10-30-00Z">resolved</a> · <a href="{url}">issue</a></td></tr>' in page
    for feed in ("chicago.xml", "outages.xml"):
        text = (site / "feeds" / feed).read_text()
        assert f'<link rel="related" href="{url}"/>' in text
        assert ("Incident: Resolved: Chicago, IL was down (http_5xx) from 2026-12-03 10:30 UTC to 2026-12-03 12:30 UTC (2 h). "
                "Chicago, IL was down at 2 consecutive crawls") in text


def test_a_stale_incident_is_an_entry_of_the_feeds(world, tmp_path):
    import build

    data = world / "data"
    write_crawls(data, "u" * 96)
    now = write_crawls(data, "u" * 24, first=96, tickets=False)
    assert build.main(["--data", str(data), "--out", str(tmp_path / "site"), "--now", iso(now)]) == 0
    text = (tmp_path / "site" / "feeds" / "chicago.xml").read_text()
    assert ("<entry><id>tag:open311-status,2026:incident:chicago/stale/2026-12-03T09:25:00Z</id>"
            "<title>Chicago, IL has had no new request since 2026-12-03 09:25 UTC (ongoing)</title>") in text


def test_an_outage_longer_than_the_days_read_keeps_its_issue(world):
    now = write_crawls(world / "data", "ddd")
    marker = "<!-- open311-status incident: chicago/down/2026-10-01T00:00:00Z -->"  # opened when it began, 61 days before
    with fake_github(REPO, iso(now)) as (api, github):
        github.issues[1] = {"number": 1, "title": "Chicago, IL is down (http_5xx) since 2026-10-01 00:00 UTC", "body": marker,
                            "state": "open", "closed_at": None, "state_reason": None, "labels": [{"name": "incident"}, {"name": "chicago"}],
                            "html_url": f"https://github.com/{REPO}/issues/1", "updated_at": "2026-10-01T00:30:00Z",
                            "created_at": "2026-10-01T00:30:00Z"}
        github.comments[1] = []
        code, out, _ = run(world, api, now)
        assert (code, out, len(github.issues)) == (0, "", 1)
        now = write_crawls(world / "data", "uu", first=3)
        github.now = iso(now)
        code, out, _ = run(world, api, now)
        assert github.issues[1]["state"] == "closed"
        assert github.comments[1][0]["body"].split("\n")[0] == (
            "Resolved: Chicago, IL was up again at 2026-12-01 11:30 UTC, after 61 d 11 h down (at least 3 failed crawls: http_5xx).")


def test_the_issue_of_an_endpoint_no_longer_watched_is_closed(world):
    now = write_crawls(world / "data", "uudd")
    with fake_github(REPO, iso(now)) as (api, github):
        run(world, api, now)
        registry = yaml.safe_load((world / "endpoints.yaml").read_text())
        registry[0]["retired"] = {"since": "2026-12", "reason": "replaced by a new 311 system"}
        (world / "endpoints.yaml").write_text(yaml.safe_dump(registry))
        code, out, _ = run(world, api, now)
        assert (code, github.issues[1]["state"]) == (0, "closed")
        assert github.comments[1][-1]["body"].startswith("Closed: chicago is no longer watched (retired, or taken out of the registry).")
        assert run(world, api, now)[1] == ""
