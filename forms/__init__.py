"""open311-status forms: what the issue forms' workflow (.github/workflows/forms.yml) does with a new issue.

    open311-status forms add --issue N [--allow-loopback]      an "Add an endpoint" issue: check the URL once, answer
    open311-status forms report --issue N --endpoints FILE     an "I see it too" issue: onto the open incident, if any

The issue's text comes from the environment (ISSUE_BODY), never from the command line or a script: the workflow passes
it as a variable, as GitHub's guidance on script injection asks. GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL as
in a workflow. What a form's fields are called is read from its own YAML in .github/ISSUE_TEMPLATE/, so the form and
this reading cannot drift apart. Exit 0 when the answer was posted, 1 when GitHub would not take it, 2 for a bad
command line or environment.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from check import LIMITS, candidate, check, render, slug
from crawler.client import Client, make_client, user_agent
from incidents.github import API_URL, GitHub, IssueTrackerError
from registry import Endpoint, RegistryError, load_registry, parse_registry, url_problem

FORMS = Path(__file__).resolve().parent.parent / ".github" / "ISSUE_TEMPLATE"
NO_RESPONSE = "_No response_"  # what GitHub writes for an optional field left empty


def answers_of(form: str, body: str) -> dict[str, str]:
    """An issue form's answers by field id. GitHub writes each answered field as '### <label>' and its value below;
    the labels are the form's own (FORMS/<form>.yml). An unanswered field is absent."""
    labels = {item["attributes"]["label"]: item["id"]
              for item in yaml.safe_load((FORMS / f"{form}.yml").read_text())["body"] if "id" in item}
    out: dict[str, str] = {}
    for part in re.split(r"^### ", body.replace("\r\n", "\n"), flags=re.M)[1:]:
        label, _, value = part.partition("\n")
        value = value.strip()
        if label.strip() in labels and value and value != NO_RESPONSE:
            out[labels[label.strip()]] = value
    return out


def fence(text: str) -> str:
    """Text shown as it is, in a code block that nothing in it can close (it may hold what a server or a stranger wrote)."""
    return "```\n" + text.replace("```", "'''") + "\n```"


def code(text: str) -> str:
    """A stranger's short text as inline code that it cannot leave (no backtick, one line, at most 200 characters)."""
    return "`" + " ".join(text.replace("`", "'").split())[:200] + "`"


def proposed(fields: dict[str, str]) -> tuple[Endpoint | None, str | None]:
    """The candidate entry an Add an endpoint issue proposes (the form's answers over check's TODOs), or why not."""
    url = fields.get("base_url", "")
    url = url if url.endswith("/") else url + "/"
    problem = url_problem(url)
    if problem:
        return None, f"The base URL {code(url)} cannot be checked: {problem}."
    made = candidate(url, fields.get("jurisdiction_id"), fields.get("format", "json"))
    answers: dict[str, str] = {key: fields[key] for key in ("name", "country", "platform", "timezone", "source") if key in fields}
    if "timezone" in answers and not known_zone(answers["timezone"]):
        del answers["timezone"]  # checked as UTC meanwhile; the entry's problems will name it
    ident = slug(answers.get("name", "").split(",")[0])
    values: dict[str, Any] = {**vars(made), **answers, **({"id": ident} if re.fullmatch(r"[a-z][a-z0-9_]{1,47}", ident) else {})}
    return Endpoint(**values), None


def known_zone(name: str) -> bool:
    """Whether a time zone is an IANA name this machine knows."""
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


def registry_problems(entry: dict[str, Any]) -> list[str]:
    """What the registry's own check says of an entry, one line each (empty when it may be pasted as it is)."""
    try:
        parse_registry(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True), "entry")
    except RegistryError as e:
        return [line for line in str(e).splitlines() if line.strip()]
    return []


def answer_to_add(fields: dict[str, str], client_factory: Callable[..., Client], now: datetime, allow_loopback: bool) -> str:
    """The comment an Add an endpoint issue gets: the check's report and the entry to paste, or why it was not run."""
    endpoint, problem = proposed(fields)
    if endpoint is None:
        return f"{problem}\n\nEdit the issue with a corrected URL (http or https, ending in `/`), and it is checked again."
    with client_factory(endpoint.interval, allow_loopback=allow_loopback, limits=LIMITS, host=endpoint.host) as client:
        report = check(endpoint, client, now)
    entry = {**report["entry"], **({"timezone": fields["timezone"]} if "timezone" in fields else {})}
    problems = registry_problems(entry)
    verdict = "**Usable.**" if report["usable"] else "**Not usable** as it answered now: the failed calls below say why."
    lines = [f"Checked {code(endpoint.base_url)} once at {report['checked_at']}. {verdict}", "", fence(render(report)), ""]
    if report["usable"]:
        lines += ["The entry to add to `endpoints.yaml`, in a pull request:", "",
                  fence(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=100).rstrip()), ""]
        lines.append("It is valid as it stands." if not problems else
                     "Before it is valid, fix what the registry's check says of it:\n\n" + fence("\n".join(problems)))
    lines.append("Edit the issue to check again.")
    return "\n".join(lines)


def answer_to_report(fields: dict[str, str], issue: int, ids: set[str], tracker: GitHub) -> str:
    """Put an I see it too report where it belongs: on the endpoint's open incident if there is one (and close this
    issue, pointing there), else leave it open as the endpoint's report. Returns what was done, in a line."""
    endpoint = fields.get("endpoint", "").strip()
    if endpoint not in ids:
        tracker.comment(issue, f"There is no endpoint {code(endpoint[:60])} in `endpoints.yaml`. Its id is the last part of its page's "
                               "address on the site (`endpoints/ID.html`): edit the issue with it.")
        return f"#{issue}: unknown endpoint"
    open_incidents = tracker.issues("open", label=endpoint)
    if not open_incidents:
        tracker.comment(issue, f"No incident is open for `{endpoint}` now: this issue stays open as its report. "
                               "If the monitor finds it down or stale, its incident issue will link here.")
        return f"#{issue}: kept, no incident open for {endpoint}"
    incident = open_incidents[0]["number"]
    report = "\n\n".join(f"**{label}**\n\n{fence(fields[key])}" for key, label in (("kind", "What"), ("details", "Details"))
                         if key in fields)
    tracker.comment(incident, f"Seen too, reported in #{issue}:\n\n{report}")
    tracker.comment(issue, f"Thank you: an incident is open for `{endpoint}`, #{incident}, and your report is now a comment "
                           "there. Follow that issue for its news; this one is closed to keep them in one place.")
    tracker.set_state(issue, "closed", "not_planned")
    return f"#{issue}: onto incident #{incident}"


def parser() -> argparse.ArgumentParser:
    """The command line (open311-status forms and python -m forms)."""
    p = argparse.ArgumentParser(prog="open311-status forms", description=__doc__.splitlines()[0])
    p.add_argument("form", choices=("add", "report"), help="add: an Add an endpoint issue; report: an I see it too issue")
    p.add_argument("--issue", type=int, required=True, metavar="N", help="the issue's number")
    p.add_argument("--endpoints", default="endpoints.yaml", metavar="FILE", help="the registry (report: the known ids)")
    p.add_argument("--allow-loopback", action="store_true", help="permit 127.0.0.0/8 and ::1 (tests)")
    return p


def main(argv: list[str], clock: Callable[[], datetime], env: Mapping[str, str] = os.environ, session: Any = None,
         client_factory: Callable[..., Client] | None = None) -> int:
    """Answer one issue, as the form's workflow does."""
    args = parser().parse_args(argv)
    missing = [name for name in ("ISSUE_BODY", "GITHUB_REPOSITORY", "GITHUB_TOKEN") if not env.get(name)]
    if missing:
        print(f"open311-status forms: {', '.join(missing)} not set (the workflow passes them)", file=sys.stderr)
        return 2
    tracker = GitHub(env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"], env.get("GITHUB_API_URL") or API_URL,
                     **({"session": session} if session is not None else {}))
    try:
        if args.form == "add":
            factory = client_factory or partial(make_client, agent=user_agent(env))
            tracker.comment(args.issue, answer_to_add(answers_of("add-endpoint", env["ISSUE_BODY"]), factory, clock(), args.allow_loopback))
            print(f"#{args.issue}: answered")
        else:
            try:
                ids = {e.id for e in load_registry(args.endpoints)}
            except RegistryError as e:
                print(str(e), file=sys.stderr)
                return 2
            print(answer_to_report(answers_of("endpoint-misbehaves", env["ISSUE_BODY"]), args.issue, ids, tracker))
    except IssueTrackerError as e:
        print(f"open311-status forms: GitHub ({e.failure}): {e}", file=sys.stderr)
        return 1
    return 0
