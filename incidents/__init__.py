"""open311-status incidents: each outage an issue on GitHub, opened, commented on and closed as the crawls see it.

    open311-status incidents --data DIR --repo OWNER/NAME [--api-url URL] [--now ISO8601] [--dry-run]

After each crawl (the crawl workflow's merge job): the incidents of the last days (metrics/incidents.py) against the
repository's issues labelled `incident` (incidents/plan.py), then what differs is done through the GitHub REST API
(incidents/github.py) with the token in GITHUB_TOKEN, and each thing done is appended to data/incidents/ so the site
links every outage to its issue. --dry-run says what it would do, from the data alone, with no token and no network.

Exit 0 when everything was done (or nothing was needed); 1 when GitHub failed us, after reporting it (the crawl's
data is committed before this runs, and what was done before the failure is still logged); 2 for a bad command line
or registry. Nothing here ever prints the token.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

import history
from incidents.github import API_URL, GitHub, IssueTrackerError
from incidents.plan import Action, Watched, from_log, marked, plan, said
from metrics import incidents as derive
from metrics import maintenance
from metrics.coverage import requests_coverage
from metrics.summary import tickets_frame
from metrics.utilization import freshness
from records import IncidentRecord, iso, parse_moment, store
from registry import Endpoint, RegistryError, load_registry

DAYS_READ = timedelta(days=31)  # the statuses looked at, and the month freshness is judged on
CLOSED_SINCE = timedelta(days=2)  # closed issues listed: enough to reopen within REOPEN_WITHIN after a missed run or two


@dataclass
class Report:
    """What a run did or would do, a line each, and the failure that stopped it."""

    done: list[str] = field(default_factory=list)
    failure: str | None = None

    def markdown(self, dry_run: bool) -> str:
        """The report as a GitHub job summary."""
        out = ["## Incidents" + (" (dry run)" if dry_run else ""), ""]
        out += [f"- {line.replace('`', chr(39))}" for line in self.done] or ["Nothing to do: every incident's issue is as it should be."]
        if self.failure:
            out += ["", f"**GitHub failed:** {self.failure.replace('`', chr(39))}. The crawl's data is committed; the next run tries again."]
        return "\n".join(out + [""])


def view(past: history.History, registry: list[Endpoint], now: datetime, site_url: str | None) -> list[Watched]:
    """Each watched endpoint's incidents from the last DAYS_READ of data/, and what it has recovered from."""
    declared = maintenance.declared(past.statuses, past.records["endpoints"])  # down inside a declared window: no incident
    statuses = {str(k): g for k, g in declared.groupby("endpoint", sort=False, observed=True)}
    calls = {str(k): g for k, g in past.calls.groupby("endpoint", sort=False, observed=True)}
    tickets = tickets_frame(list(past.records["tickets"]))
    out = []
    for entry in registry:
        if entry.retired is not None:
            continue
        mine = statuses.get(entry.id, past.statuses.iloc[0:0])
        e = Watched(entry.id, entry.name, f"{site_url}endpoints/{entry.id}.html" if site_url else None, entry.maintainers)
        downs = derive.down_incidents(entry.id, mine)
        e.known = {i["id"]: i for i in downs}
        e.ongoing = [i for i in downs if i["closed"] is None]
        known = mine[~mine["status"].isin(["unknown", "maintenance"])]
        if not e.ongoing and len(known) >= derive.CLOSE_AFTER and (known["status"].tail(derive.CLOSE_AFTER) != "down").all():
            e.recovered["down"] = iso(known["crawl"].iloc[-derive.CLOSE_AFTER])
        own_calls, own_tickets = calls.get(entry.id, past.calls.iloc[0:0]), tickets[tickets["endpoint"] == entry.id]
        crawled = sorted(set(own_calls["crawl"]))[-derive.CLOSE_AFTER:]
        fresh = [_freshness(own_calls, own_tickets, moment) for moment in crawled]
        if fresh and (stale := derive.stale_incident(entry.id, fresh[-1], now)):
            e.ongoing.append(stale)
            e.known[stale["id"]] = stale
        elif len(fresh) == derive.CLOSE_AFTER and derive.fresh_again(fresh[-1], fresh[0]):
            e.recovered["stale"] = iso(crawled[0])
        out.append(e)
    return out


def _freshness(calls: pd.DataFrame, tickets: pd.DataFrame, moment: pd.Timestamp) -> dict[str, Any] | None:
    """The site's freshness figure as of a crawl, from what had been seen by then."""
    seen = tickets[tickets["crawl"] <= moment]
    return freshness(seen, requests_coverage(calls, moment.to_pydatetime()), moment.to_pydatetime())


def run(data_dir: str | Path, registry: list[Endpoint], now: datetime, tracker: GitHub | None, site_url: str | None = None,
        durable: bool = True) -> Report:
    """Plan and, with a tracker, do: the issues brought in line with the incidents, each thing done logged to data/.
    Without a tracker (the dry run) the issues are those the data's log remembers, and nothing is done."""
    past = history.load(data_dir, now, probe_span=DAYS_READ, kinds=("tickets", "crawls", "incidents", "endpoints"))
    endpoints = view(past, registry, now, site_url)
    report = Report()
    day_before = (now - timedelta(days=1)).date().isoformat()  # the latest crawl of the last day or so; else the run's own moment
    last_crawl = max((c["crawl"] for c in past.records["crawls"] if c["crawl"] >= day_before), default=iso(now))
    try:
        issues = from_log(list(past.records["incidents"])) if tracker is None else (
            tracker.issues("open") + tracker.issues("closed", since=iso(now - CLOSED_SINCE)))
        actions = plan(endpoints, issues, now)
        if tracker is None:
            report.done = [a.line() for a in actions]
            return report
        comments: dict[int, list[dict[str, Any]]] = {}
        opened: dict[str, dict[str, Any]] = {}  # incident id -> the issue this run opened for it
        for action in actions:
            action.issue = action.issue or opened.get(action.incident["id"])
            line = _do(tracker, action, comments, data_dir, last_crawl, durable)
            if action.do == "open" and action.issue:
                opened[action.incident["id"]] = action.issue
            if line:
                report.done.append(line)
    except IssueTrackerError as e:
        report.failure = str(e)
    return report


def _do(tracker: GitHub, action: Action, comments: dict[int, list[dict[str, Any]]], data_dir: str | Path, crawl: str,
        durable: bool) -> str | None:
    """One action on GitHub, skipped when it is done already; logged. Its line, or None when skipped."""
    issue = action.issue
    if action.do == "open":
        labels = ["incident", action.endpoint]
        issue = tracker.create(action.title, action.body, labels)
        # A run alongside may have opened one too: the lowest number stays, the other is closed at once.
        first = min((i for i in tracker.issues("open", label=action.endpoint) if marked(i) == marked(issue)),
                    key=lambda i: i["number"], default=issue)
        if first["number"] != issue["number"]:
            tracker.comment(issue["number"], f"Duplicate of #{first['number']}.")
            tracker.set_state(issue["number"], "closed", "not_planned")
            action.issue = first
            return f"close #{issue['number']} as a duplicate of #{first['number']}, opened alongside: {action.title}"
        action.issue = issue
        comments[issue["number"]] = []
        _log_action(data_dir, crawl, action, "opened", durable)
        return action.line()
    assert issue is not None
    number = issue["number"]
    if action.do == "comment":
        if number not in comments:
            comments[number] = tracker.comments(number)
        if action.event and said(comments[number], action.event):
            return None
        tracker.comment(number, action.body)
        comments[number].append({"body": action.body})
        _log_action(data_dir, crawl, action, "commented", durable)
        return action.line()
    if action.do == "reopen":
        tracker.set_state(number, "open")
        issue["state"] = "open"
        _log_action(data_dir, crawl, action, "reopened", durable)
        return action.line()
    if action.do == "duplicate":
        tracker.comment(number, action.body)
    tracker.set_state(number, "closed", "not_planned" if action.do == "duplicate" else "completed")
    issue["state"] = "closed"
    if action.do == "close":
        _log_action(data_dir, crawl, action, "closed", durable)
    return action.line()


def _log_action(data_dir: str | Path, crawl: str, action: Action, done: str, durable: bool) -> None:
    incident, issue = action.incident, action.issue or {}
    failures = incident.get("failures") or []
    record = IncidentRecord(crawl=crawl, endpoint=action.endpoint, incident=incident["id"], kind=incident["kind"], start=incident["start"],
                            end=incident.get("end") if done == "closed" else None, action=done, issue=int(issue["number"]),
                            url=str(issue.get("html_url") or ""), title=str(issue.get("title") or action.title),
                            failure=failures[-1]["failure"] if failures else None)
    store.append(data_dir, "incidents", [record.to_dict()], day_of=lambda r: parse_moment(r["crawl"]).date(), durable=durable)


def main(argv: list[str], clock: Callable[[], datetime], env: Mapping[str, str], session: Any = None,
         sleep: Callable[[float], None] | None = None) -> int:
    """The command line (open311-status incidents, python -m incidents)."""
    p = argparse.ArgumentParser(prog="open311-status incidents", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the repository whose issues are the incident log")
    p.add_argument("--endpoints", default="endpoints.yaml", metavar="FILE", help="the registry (default: endpoints.yaml)")
    p.add_argument("--api-url", default=API_URL, metavar="URL", help=f"the GitHub REST API (default: {API_URL})")
    p.add_argument("--now", type=parse_moment, metavar="ISO8601", help="default: the clock")
    p.add_argument("--site-url", metavar="URL", help="where the site is published, for each issue's link to its endpoint's page")
    p.add_argument("--dry-run", action="store_true", help="say what would be opened, commented on and closed; needs no token")
    p.add_argument("--summary", metavar="FILE", help="append a Markdown report (a GitHub job summary) to FILE")
    args = p.parse_args(argv)
    if "/" not in args.repo.strip("/") or args.repo.count("/") != 1:
        p.error(f"--repo must be OWNER/NAME; got {args.repo!r}")
    try:
        registry = load_registry(args.endpoints)
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        return 2
    tracker = None
    if not args.dry_run:
        token = env.get("GITHUB_TOKEN", "").strip()
        if not token:
            print("open311-status incidents: GITHUB_TOKEN is not set (or use --dry-run); nothing was done", file=sys.stderr)
            return 1
        options: dict[str, Any] = {"session": session} if session is not None else {}
        if sleep is not None:
            options["sleep"] = sleep
        tracker = GitHub(args.repo, token, args.api_url, **options)
    site_url = args.site_url if not args.site_url or args.site_url.endswith("/") else args.site_url + "/"
    report = run(args.data, registry, args.now or clock(), tracker, site_url)
    for line in report.done:
        print(("would " if args.dry_run else "") + line)
    if report.failure:
        print(f"open311-status incidents: {report.failure}", file=sys.stderr)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(report.markdown(args.dry_run))
    return 1 if report.failure else 0
