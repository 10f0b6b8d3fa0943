"""Incidents: the outages worth telling people about, and the words they are told in.

An incident is what the crawl workflow opens a GitHub issue for (incidents/), and what the site and
the Atom feeds show beside the outages. Two kinds:

    down    two consecutive known crawls down; it ends at the first of two consecutive crawls that
            are not down, and the issue closes at the second
    stale   the API answers, but has had no new request for far longer than usual (the site's
            stale flag, metrics.utilization.freshness); it ends when two consecutive crawls are fresh

An incident that closed less than REOPEN_WITHIN before the next one would open is reopened instead
(flapping gives one issue). Crawls that never happened are not in the statuses at all, and unknown
ones are skipped: neither opens nor closes anything.

Every incident has an id, endpoint/kind/start, that later crawls never change (a stale incident's
start is its newest request, which stays the same while it lasts): it is the marker by which a
rerun finds the issue it already opened. Pure: no network, no clock but the now passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from records import iso
from vocabulary import STAMP

REOPEN_WITHIN = timedelta(hours=6)
OPEN_AFTER = 2  # consecutive down crawls
CLOSE_AFTER = 2  # consecutive crawls up (or fresh)
KINDS = ("down", "stale")


def incident_id(endpoint: str, kind: str, start: str) -> str:
    """The marker of an incident: the same in every run, and in the issue's body."""
    return f"{endpoint}/{kind}/{start}"


def down_incidents(endpoint: str, statuses: pd.DataFrame) -> list[dict[str, Any]]:
    """The down incidents of one endpoint's crawls (endpoint, crawl, status, failure; in time order), oldest first.

    Each: {"id", "endpoint", "kind": "down", "start" (the first down crawl), "opened" (the second, when it was
    known), "end" (the first crawl up again) and "closed" (the second), both None while it lasts, "reopened" (when
    it came back within REOPEN_WITHIN of closing), "failures" ([{"at", "failure"}]: the class when it opened and
    each change), "crawls" (down crawls)}."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    downs: list[tuple[str, str]] = []  # the run of down crawls not yet an incident
    ups: list[str] = []  # the run of crawls up while one is open
    for at, status, failure in _relevant(statuses):
        failure = failure if isinstance(failure, str) else "unknown"
        if status != "down":
            downs = []
            if current is not None:
                ups.append(at)
                if len(ups) == CLOSE_AFTER:
                    current["end"], current["closed"] = ups[0], at
                    current = None
            continue
        ups = []
        if current is not None:
            current["crawls"] += 1
            if current["failures"][-1]["failure"] != failure:
                current["failures"].append({"at": at, "failure": failure})
            continue
        downs.append((at, failure))
        if len(downs) < OPEN_AFTER:
            continue
        last = out[-1] if out else None
        if last is not None and reopens(last["closed"], at):
            current = last
            current["end"] = current["closed"] = None
            current["reopened"].append(at)
        else:
            current = {"id": incident_id(endpoint, "down", downs[0][0]), "endpoint": endpoint, "kind": "down", "start": downs[0][0],
                       "opened": at, "end": None, "closed": None, "reopened": [], "failures": [], "crawls": 0}
            out.append(current)
        for moment, cls in downs:
            current["crawls"] += 1
            if not current["failures"] or current["failures"][-1]["failure"] != cls:
                current["failures"].append({"at": moment, "failure": cls})
        downs = []
    return out


def _relevant(statuses: pd.DataFrame) -> list[tuple[str, str, Any]]:
    """The known crawls that can open, continue or close an incident: those down and the two after each (a crawl up
    after two up is in no incident). A year of crawls is 17,520 an endpoint; an endpoint that is seldom down has few."""
    status = statuses["status"].to_numpy(dtype=object)
    known = (status != "unknown") & (status != "maintenance")  # planned maintenance opens no incident, nor closes one
    status = status[known]
    down = status == "down"
    keep = down.copy()
    keep[1:] |= down[:-1]
    keep[2:] |= down[:-2]
    crawls = statuses["crawl"][known][keep]
    stamps = crawls.dt.strftime(STAMP).tolist() if len(crawls) else []
    return list(zip(stamps, status[keep].tolist(), statuses["failure"].to_numpy(dtype=object)[known][keep].tolist()))


def stale_incident(endpoint: str, fresh: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The stale incident going on at now, from the site's freshness figure at now; None when the endpoint is
    fresh or cannot be judged."""
    if not fresh or fresh.get("stale") is not True:
        return None
    return {"id": incident_id(endpoint, "stale", fresh["newest"]), "endpoint": endpoint, "kind": "stale", "start": fresh["newest"],
            "opened": iso(now), "end": None, "closed": None, "reopened": [], "failures": [], "crawls": 0,
            "usual_gap_hours": fresh.get("usual_gap_hours")}


def fresh_again(fresh_now: dict[str, Any] | None, fresh_before: dict[str, Any] | None) -> bool:
    """Whether a stale incident may close: fresh at the last two crawls (unknown is neither)."""
    return all(f is not None and f.get("stale") is False for f in (fresh_now, fresh_before))


def reopens(closed: str | None, at: str) -> bool:
    """Whether an incident closed at closed (None: it is open) is reopened by one opening at at, rather than replaced."""
    return closed is not None and pd.Timestamp(at) - pd.Timestamp(closed) < REOPEN_WITHIN


# -- the words -----------------------------------------------------------------------------------


def _when(stamp: str) -> str:
    """2026-12-01T14:00:00Z as 2026-12-01 14:00 UTC."""
    return f"{stamp[:10]} {stamp[11:16]} UTC"


def duration(seconds: float) -> str:
    """A duration as people say it: 45 min, 3 h 20 min, 2 d 4 h."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def title(incident: dict[str, Any], name: str) -> str:
    """The issue's title, e.g. "Chicago, IL is down (http_5xx) since 2026-12-01 14:00 UTC"."""
    if incident["kind"] == "stale":
        return f"{name} has had no new request since {_when(incident['start'])}"
    return f"{name} is down ({incident['failures'][0]['failure']}) since {_when(incident['start'])}"


def seen(incident: dict[str, Any], name: str) -> str:
    """What was seen when it opened: the issue's first paragraph, and the site's first sentences."""
    if incident["kind"] == "stale":
        usual = incident.get("usual_gap_hours")
        return (f"{name} answers, but has listed no new service request since {_when(incident['start'])}"
                + (f", when one usually comes every {usual:g} h" if usual is not None else "") + ". "
                "Requests may not be reaching the API, or it may have stopped publishing them.")
    return (f"{name} was down at {OPEN_AFTER} consecutive crawls from {_when(incident['start'])}: "
            f"GET services failed with {incident['failures'][0]['failure']}.")


def opening(incident: dict[str, Any], name: str, page: str | None, maintainers: tuple[str, ...] = ()) -> str:
    """The issue's first words: what was seen, where to look, and who asked to be told. Only our own words and
    the registry's: nothing an endpoint sent goes into an issue."""
    lines = [seen(incident, name), ""]
    if page:
        lines.append(f"Its page: {page}")
    lines.append(f"This issue closes by itself after {CLOSE_AFTER} consecutive crawls "
                 + ("that find a new request." if incident["kind"] == "stale" else "that find it up."))
    if maintainers:
        lines += ["", "cc " + " ".join(f"@{handle}" for handle in maintainers)]
    return "\n".join(lines)


def change(incident: dict[str, Any], index: int) -> str:
    """A comment on a change of failure class while an incident lasts."""
    before, now = incident["failures"][index - 1], incident["failures"][index]
    return f"Since {_when(now['at'])} GET services fails with {now['failure']} (it was {before['failure']})."


def reopening(incident: dict[str, Any], at: str) -> str:
    """A comment on an incident that came back within REOPEN_WITHIN of closing."""
    what = "stale again: no new request" if incident["kind"] == "stale" else "down again"
    return f"Reopened: {what} at {_when(at)}, less than {REOPEN_WITHIN.total_seconds() / 3600:g} h after it closed."


def closing(incident: dict[str, Any], name: str) -> str:
    """The last comment: how long it lasted and what was seen."""
    end = incident["end"] or incident["closed"]
    lasted = duration((pd.Timestamp(end) - pd.Timestamp(incident["start"])).total_seconds())
    if incident["kind"] == "stale":
        return (f"Resolved: {name} listed new requests again by {_when(end)}, after none since {_when(incident['start'])} "
                f"({lasted}).")
    if not incident["failures"]:
        return f"Resolved: {name} was up again at {_when(end)}, after {lasted} down."
    seen = ", then ".join(f["failure"] for f in incident["failures"])
    flaps = f", reopened {len(incident['reopened'])} time{'s' * (len(incident['reopened']) != 1)}" if incident["reopened"] else ""
    counted = f"{'at least ' if incident.get('partial') else ''}{incident['crawls']} failed crawl{'s' * (incident['crawls'] != 1)}"
    return f"Resolved: {name} was up again at {_when(end)}, after {lasted} down ({counted}: {seen}{flaps})."


def heading(incident: dict[str, Any], name: str) -> str:
    """What the site heads an incident with: its title while it lasts; once over, "Resolved" and its span, for the
    title ("is down since") would read as current."""
    end = incident["end"] or incident.get("closed")
    if not end:
        return title(incident, name)
    failures = incident.get("failures") or []
    what = ("had no new request" if incident["kind"] == "stale"
            else f"was down ({failures[0]['failure']})" if failures else "was down")
    lasted = duration((pd.Timestamp(end) - pd.Timestamp(incident["start"])).total_seconds())
    return f"Resolved: {name} {what} from {_when(incident['start'])} to {_when(end)} ({lasted})"


def text(incident: dict[str, Any], name: str) -> dict[str, str]:
    """The incident as the site and the feeds show it: its title, its heading on the site and a sentence of what
    happened."""
    words = seen(incident, name)
    if incident["end"] or incident["closed"]:
        words += " " + closing(incident, name)
    return {"title": title(incident, name), "heading": heading(incident, name), "summary": words}


# -- on the site ---------------------------------------------------------------------------------


def for_site(endpoint: str, name: str, statuses: pd.DataFrame, fresh: dict[str, Any] | None, log: list[dict[str, Any]],
             now: datetime) -> list[dict[str, Any]]:
    """One endpoint's incidents as its page, its api/<id>.json and the feeds show them, newest first: those of the
    statuses (a year), the stale one going on, and the stale ones of the log (the incidents command's record of what
    it did on GitHub). Each: {"id", "kind", "start", "end", "title", "summary", "issue": {"number", "url"} or None}.

    An issue belongs to the incident of its kind whose time holds the start it was opened for (a run reads a month,
    so an outage longer than that was opened with a later start than the year's)."""
    found = down_incidents(endpoint, statuses)
    stale = stale_incident(endpoint, fresh, now)
    found += [stale] if stale else []
    logged: dict[str, dict[str, Any]] = {}
    for record in sorted(log, key=lambda r: r["crawl"]):
        logged[record["incident"]] = record
    out = []
    for incident in found:
        issue = next((r for r in logged.values() if r["kind"] == incident["kind"] and _holds(incident, r["start"])), None)
        if issue is not None:
            logged.pop(issue["incident"])
        out.append({"id": incident["id"], "kind": incident["kind"], "start": incident["start"], "end": incident["end"], **text(incident, name),
                    "issue": _issue(issue)})
    for record in logged.values():  # stale incidents that ended, and what the statuses no longer reach
        if record["kind"] == "down" and any(_holds(i, record["start"]) for i in found if i["kind"] == "down"):
            continue
        summary = ""
        if record["kind"] == "stale":
            summary = text({"kind": "stale", "start": record["start"], "end": record["end"], "closed": record["end"]}, name)["summary"]
        out.append({"id": record["incident"], "kind": record["kind"], "start": record["start"], "end": record["end"],
                    "title": record["title"], "heading": heading(record, name) if record["end"] else record["title"],
                    "summary": summary, "issue": _issue(record)})
    return sorted(out, key=lambda i: i["start"], reverse=True)


def _issue(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The issue of a log line; its url only when it is a web address (a line of data/ is not trusted to be one)."""
    if record is None:
        return None
    url = record["url"] if str(record["url"]).startswith(("https://", "http://")) else None
    return {"number": record["issue"], "url": url}


def _holds(incident: dict[str, Any], moment: str) -> bool:
    return incident["start"] <= moment and (incident["end"] is None or moment < incident["end"])


def link_outages(outages: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outages, each with the down incident it was part of ({"id", "title", "heading", "url"}: url None while it
    has no issue), None for one too short to be an incident."""
    downs = [i for i in incidents if i["kind"] == "down"]
    out = []
    for outage in outages:
        incident = next((i for i in downs if _holds(i, outage["start"])), None)
        out.append({**outage, "incident": None if incident is None else
                    {"id": incident["id"], "title": incident["title"], "heading": incident["heading"],
                     "url": incident["issue"]["url"] if incident["issue"] else None}})
    return out
