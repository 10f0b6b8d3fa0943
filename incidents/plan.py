"""What to do on GitHub, from what the data says and the issues there are: pure, so a dry run and a real run plan alike.

An issue is ours when its body holds MARKER with the incident's id (endpoint/kind/start): a rerun, or a run that
overlaps another, finds it there instead of opening a second one. Comments carry an EVENT marker, so that one said
already is not said again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metrics import incidents as words
from records import iso

MARKER = "<!-- open311-status incident: {id} -->"
EVENT = "<!-- open311-status event: {event} -->"
MARKED = re.compile(r"<!-- open311-status incident: ([a-z][a-z0-9_]{1,47})/(down|stale)/([0-9T:-]+Z) -->")


@dataclass
class Watched:
    """One endpoint as the run sees it (beside its registry entry): its incidents, and whether it has recovered from each kind."""

    id: str
    name: str
    page: str | None
    maintainers: tuple[str, ...] = ()
    ongoing: list[dict[str, Any]] = field(default_factory=list)  # at most one of each kind
    known: dict[str, dict[str, Any]] = field(default_factory=dict)  # every incident derived, by id
    recovered: dict[str, str] = field(default_factory=dict)  # kind -> when it ended (two crawls up, or fresh, since)


@dataclass
class Action:
    """One thing to do: open, reopen, comment or close an issue (duplicate: close a second issue of one incident)."""

    do: str  # open | reopen | comment | close | duplicate
    endpoint: str
    incident: dict[str, Any]
    title: str
    body: str
    issue: dict[str, Any] | None = None  # None: not opened yet
    event: str | None = None  # the comment's marker, when it has one

    def line(self) -> str:
        """The action in a line, as the dry run and the job summary say it."""
        where = f"#{self.issue['number']}" if self.issue else "a new issue"
        if self.do in ("open", "reopen"):
            return f"{self.do} {where}: {self.title}"
        if self.do == "duplicate":
            return f"close {where} as a duplicate: {self.title}"
        return f"{'comment on' if self.do == 'comment' else 'close'} {where}: {self.body.splitlines()[0]}"


def marked(issue: dict[str, Any]) -> tuple[str, str, str] | None:
    """The (endpoint, kind, start) an issue's body marks it for; None for an issue that is not ours."""
    found = MARKED.search(issue.get("body") or "")
    return (found.group(1), found.group(2), found.group(3)) if found else None


def marker(issue: dict[str, Any]) -> tuple[str, str, str]:
    """The (endpoint, kind, start) of an issue already known to be ours."""
    found = marked(issue)
    if found is None:
        raise ValueError(f"issue #{issue.get('number')} has no incident marker")
    return found


def plan(endpoints: list[Watched], issues: list[dict[str, Any]], now: datetime) -> list[Action]:
    """The actions that bring the issues in line with the endpoints' incidents. issues: ours, open and recently
    closed, as GitHub lists them (number, state, title, body, closed_at, html_url)."""
    ours: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for issue in sorted(issues, key=lambda i: i["number"]):
        mark = marked(issue)
        if mark:
            ours.setdefault(mark[:2], []).append(issue)
    out: list[Action] = []
    for e in endpoints:
        for kind in words.KINDS:
            out += _of_kind(e, kind, ours.get((e.id, kind), []), now)
    watched = {e.id for e in endpoints}
    for (endpoint, kind), found in ours.items():  # retired, or gone from the registry: nobody will close it otherwise
        for issue in (i for i in found if i["state"] == "open" and endpoint not in watched):
            start = marker(issue)[2]
            incident: dict[str, Any] = {"id": f"{endpoint}/{kind}/{start}", "endpoint": endpoint, "kind": kind, "start": start, "end": None,
                        "failures": []}
            text = f"Closed: {endpoint} is no longer watched (retired, or taken out of the registry)."
            out += [Action("comment", endpoint, incident, issue["title"], _said(text, "unwatched"), issue, "unwatched"),
                    Action("close", endpoint, incident, issue["title"], text, issue)]
    return out


def _of_kind(e: Watched, kind: str, issues: list[dict[str, Any]], now: datetime) -> list[Action]:
    incident = next((i for i in e.ongoing if i["kind"] == kind), None)
    opened = [i for i in issues if i["state"] == "open"]
    out: list[Action] = []
    if incident is None:
        if kind in e.recovered:
            for issue in opened:
                out += _close(e, _incident_of(e, issue, e.recovered[kind]), issue)
        return out
    mine = next((i for i in issues if marked(i) == (e.id, kind, incident["start"])), None)
    # An open issue of the same kind is this incident's, whatever start it marks: the start of an outage longer than
    # the days read, or a stale incident's newest request that moved.
    keep = mine if mine is not None and mine["state"] == "open" else (opened[0] if opened else None)
    for extra in opened:
        if keep is not None and extra is not keep:
            out.append(Action("duplicate", e.id, incident, extra["title"], f"Duplicate of #{keep['number']}.", extra))
    title = words.title(incident, e.name)
    if keep is None:
        recent = mine or next((i for i in reversed(issues) if i["state"] == "closed" and words.reopens(i.get("closed_at"), iso(now))),
                              None)
        if recent is None:
            body = words.opening(incident, e.name, e.page, e.maintainers) + "\n\n" + MARKER.format(id=incident["id"])
            out.append(Action("open", e.id, incident, title, body))
            return out + _changes(e, incident, None, title)
        since = incident["reopened"][-1] if incident["reopened"] else incident["opened"]
        event = f"reopened@{since}"
        out += [Action("reopen", e.id, incident, recent["title"], "", recent),
                Action("comment", e.id, incident, recent["title"], _said(words.reopening(incident, since), event), recent, event)]
        keep = recent
    return out + _changes(e, incident, keep, keep["title"])


def _changes(e: Watched, incident: dict[str, Any], issue: dict[str, Any] | None, title: str) -> list[Action]:
    """A comment for each change of failure class (on the issue the action before opens, when issue is None)."""
    out = []
    for index in range(1, len(incident["failures"])):
        event = f"failure@{incident['failures'][index]['at']}"
        out.append(Action("comment", e.id, incident, title, _said(words.change(incident, index), event), issue, event))
    return out


def _close(e: Watched, incident: dict[str, Any], issue: dict[str, Any]) -> list[Action]:
    event = f"closed@{incident['end']}"
    return [Action("comment", e.id, incident, issue["title"], _said(words.closing(incident, e.name), event), issue, event),
            Action("close", e.id, incident, issue["title"], words.closing(incident, e.name), issue)]


def _incident_of(e: Watched, issue: dict[str, Any], end: str) -> dict[str, Any]:
    """The incident an open issue is for, ended: as derived when its start is among the days read, else from its marker."""
    _, kind, start = marker(issue)
    found = e.known.get(f"{e.id}/{kind}/{start}")
    if found is not None and found["end"]:
        return found
    # Begun before the days read: what those days saw of it, from the start its issue was opened for.
    seen = next((i for i in reversed(list(e.known.values())) if i["kind"] == kind and i["end"] == end), None)
    base = seen or found or {"endpoint": e.id, "kind": kind, "opened": start, "reopened": [], "failures": [], "crawls": 0}
    return {**base, "id": f"{e.id}/{kind}/{start}", "start": start, "end": end, "closed": end, "partial": seen is not None and seen["start"] != start}


def _said(text: str, event: str) -> str:
    return text + "\n\n" + EVENT.format(event=event)


def said(comments: list[dict[str, Any]], event: str) -> bool:
    """Whether a comment with this event's marker is there already."""
    mark = EVENT.format(event=event)
    return any(mark in (c.get("body") or "") for c in comments)


def from_log(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues as the data's incident log remembers them (the dry run's view, with no token): for each issue its
    latest state, in the shape GitHub lists them."""
    issues: dict[int, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["crawl"]):
        issue = issues.setdefault(r["issue"], {"number": r["issue"], "html_url": r["url"], "title": r["title"],
                                               "body": MARKER.format(id=r["incident"]), "state": "open", "closed_at": None})
        if r["action"] == "closed":
            issue.update(state="closed", closed_at=r["crawl"])
        elif r["action"] in ("opened", "reopened"):
            issue.update(state="open", closed_at=None)
    return list(issues.values())
