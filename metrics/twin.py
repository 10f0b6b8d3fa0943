"""What the API hides: an endpoint compared with its open-data twin, and with what people saw on the street.

From the twin's daily counts (records "twins"), its rows of the accuracy panel's tickets
("twin_rows"), the API's tickets, panel events and service list, and field audits ("audits"):

  exposure      the twin's ticket types the API offers (its service list names them, or a ticket in
                both links them), and the share of the twin's tickets of those types;
  adoption      the share of the twin's tickets that came through Open311 or an app, overall and by month;
  completeness  the share of the twin's panel tickets, requested at least a day ago, of types the API
                offers, that the API listed;
  agreement     (ACCURACY.md M13) on panel tickets in both: the same status, and when both closed, closing
                times within an hour; and hidden outcomes: closings the twin gives a reason that is not a fix
                (duplicate, no violation, referred ...) while the API's note says nothing of it;
  audits        of the audited tickets (closed by the API: one the panel saw open on the day of the visit
                is left out), the share people found fixed.

Exposure and adoption count every ticket of the twin (a census): their intervals say how sure a
month's share is of the city's habit. The others are estimates from the panel and are suppressed
below MIN_N. A figure is "not measurable" when the twin has no column for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from metrics import closure
from metrics.stats import MIN_N, share
from vocabulary import iso, moment, moment_or_none

WINDOW = timedelta(days=30)
SAME_CLOSE = timedelta(hours=1)
SETTLE = timedelta(days=1)  # a twin ticket is expected in the API's listing once it is this old
NOT_A_FIX = {"DUPLICATE", "NO_VIOLATION", "REFERRED", "NOT_RESPONSIBLE", "INSUFFICIENT_INFO", "DEFERRED", "AUTOMATED"}
SILENT = {"EMPTY", "BOILERPLATE", "COMPLETED", "OTHER"}  # an API note that does not tell a non-fix
OBSERVED = ("fixed", "partly_fixed", "not_fixed", "cannot_tell")


def _name(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


KINDS = ("twins", "twin_rows", "events", "tickets", "services", "audits")  # what the figures of one endpoint read


def by_endpoint(records: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each endpoint's records of the kinds the figures read, in one pass over each list (not one per endpoint)."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind in KINDS:
        for record in records.get(kind, ()):
            out.setdefault(record["endpoint"], {k: [] for k in KINDS})[kind].append(record)
    return out


def every_endpoint(records: Mapping[str, Sequence[dict[str, Any]]], now: datetime, min_n: int = MIN_N
                   ) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """For every endpoint with records: (its twin figures or None, its audit figures or None)."""
    return {endpoint: (figures(mine, now, min_n), audit_figures_of(mine, now, min_n))
            for endpoint, mine in by_endpoint(records).items()}


def twin_figures(endpoint: str, records: Mapping[str, Sequence[dict[str, Any]]], now: datetime, min_n: int = MIN_N
                 ) -> dict[str, Any] | None:
    """Every twin figure of one endpoint, as plain data; None when it has no twin records."""
    return figures(by_endpoint(records).get(endpoint, {k: [] for k in KINDS}), now, min_n)


def figures(mine: dict[str, list[dict[str, Any]]], now: datetime, min_n: int = MIN_N) -> dict[str, Any] | None:
    """The twin figures from one endpoint's records (by_endpoint); None when it has no twin days in the window."""
    start = (now - WINDOW).strftime("%Y-%m-%d")
    stamp = iso(now)
    days: dict[str, dict[str, Any]] = {}
    for d in sorted((d for d in mine["twins"] if d["crawl"] <= stamp), key=lambda d: d["crawl"]):
        if d["day"] >= start:
            days[d["day"]] = d  # the latest fetch of a day stands
    if not days:
        return None
    columns = set(next(reversed(days.values()))["columns"])
    rows = _latest([r for r in mine["twin_rows"] if r["crawl"] <= stamp])
    events = _by_id([e for e in mine["events"] if e["crawl"] <= stamp])
    listed = {t["id"] for t in mine["tickets"] if t["crawl"] <= stamp} | set(events)
    types: Counter[str] = Counter()
    for d in days.values():
        types.update({k: v for k, v in (d["by_service"] or {}).items() if k})
    # A twin type is offered when the API's service list names it, or a ticket in both links it.
    offered_names = {_name(s["name"]) for s in _latest_services(mine["services"], stamp)}
    linked = {_name(r["service"]) for r in rows.values() if r["id"] in events and r["service"]}
    offered = [t for t in types if _name(t) in offered_names | linked]
    measurable_types = "service" in columns
    settled = _settled(rows, offered, measurable_types, start, now)
    # Not measurable when the API listed nothing at all: that is an outage, not a gap in what it shows.
    completeness = share(sum(r["id"] in listed for r in settled), len(settled), bool(listed), min_n=min_n)
    return {
        "days": len(days), "tickets": sum(d["rows"] for d in days.values()),
        "truncated_days": sum(d["truncated"] for d in days.values()), "bad_rows": sum(d["bad_rows"] for d in days.values()),
        "columns": sorted(columns), "types": len(types), "offered_types": sorted(offered),
        "hidden_types": [t for t, _ in types.most_common() if t not in offered][:20],
        "exposure": share(len(offered), len(types), measurable_types, min_n=1),
        "exposed_tickets": share(sum(types[t] for t in offered), sum(types.values()), measurable_types, min_n=1),
        **_adoption(days), "completeness": completeness,
        **_agreement([(r, events[r["id"]]) for r in settled if r["id"] in events], columns, min_n),
        "audits": audit_figures_of(mine, now, min_n),
    }


def _adoption(days: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The share of the twin's tickets that came through Open311 or an app, overall and by month."""
    counted = [d for d in days.values() if d["open311"] is not None]
    months: dict[str, list[int]] = {}
    for d in counted:
        month = months.setdefault(d["day"][:7], [0, 0])
        month[0] += d["open311"]
        month[1] += d["rows"]
    return {"adoption": share(sum(d["open311"] for d in counted), sum(d["rows"] for d in counted), bool(counted), min_n=1),
            "adoption_by_month": [{"month": m, **share(hits, n, min_n=1)} for m, (hits, n) in sorted(months.items())]}


def _settled(rows: dict[str, dict[str, Any]], offered: list[str], measurable_types: bool, start: str, now: datetime
             ) -> list[dict[str, Any]]:
    """The twin's panel tickets of the window, a day old or more and of a type the API offers (the others
    are what exposure counts): those the API should have listed by now."""
    offered_set = {_name(t) for t in offered}
    return [r for r in rows.values() if r["requested"] and r["requested"][:10] >= start
            and now - moment(r["requested"]) >= SETTLE
            and (not measurable_types or _name(r["service"]) in offered_set)]


def _agreement(both: list[tuple[dict[str, Any], list[dict[str, Any]]]], columns: set[str], min_n: int) -> dict[str, Any]:
    """On the tickets in both: the same status (and closing times within SAME_CLOSE), and the outcomes the
    API's notes hide (a reason that is not a fix, behind a note that says nothing of it).

    The twin and the API are compared as they stood at one moment, the later of the two that both were
    seen at or after: the twin's latest fetch and the API's latest change seen (same_moment). Comparing the
    twin's row with a later look at the API, or the reverse, would count the tickets the city closed in
    between as disagreements, blaming the city for our own lag."""
    agree, hidden, reasoned, compared = 0, 0, 0, 0
    for row, history in both:
        at = same_moment(row, history)
        twin_closed = _twin_closed(row, at)
        api = as_of(history, at)
        if twin_closed is None or not api:
            continue  # neither side can say how the ticket stood then
        compared += 1
        closing = next((e for e in api if e["status"] == "closed"), None)
        api_closed = api[-1]["status"] == "closed"
        same = twin_closed == api_closed
        if same and twin_closed and row["closed"] and closing is not None:
            api_time = moment_or_none(closing["updated"]) or moment(closing["crawl"])
            same = abs(api_time - moment(row["closed"])) <= SAME_CLOSE
        agree += same
        if twin_closed and api_closed and row["reason"] and closing is not None:
            reasoned += 1
            hidden += closure.classify(row["reason"]) in NOT_A_FIX and closure.classify(closing["notes"]) in SILENT
    return {"agreement": share(agree, compared, "closed" in columns or "status" in columns, min_n=min_n),
            "hidden_outcomes": share(hidden, reasoned, "reason" in columns, min_n=min_n)}


def same_moment(row: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """The latest moment both sides are known at: the earlier of the twin row's fetch and the API's last change seen."""
    return str(min(row["crawl"], history[-1]["crawl"]))


def as_of(history: list[dict[str, Any]], moment: str) -> list[dict[str, Any]]:
    """The API's events of a ticket that had happened by moment, by the API's own time (updated, else when seen):
    what the API would have answered then."""
    return [e for e in history if (e["updated"] or e["crawl"]) <= moment]


def _twin_closed(row: dict[str, Any], moment: str) -> bool | None:
    """Whether the twin had the ticket closed at moment, by its own closing time; None when the row cannot tell
    (closed, without a time, and fetched only after moment)."""
    if row["closed"]:
        return bool(row["closed"] <= moment)
    if (row["status"] or "").casefold() in ("closed", "completed", "resolved", "canceled", "cancelled"):
        return True if row["crawl"] <= moment else None
    return False


def audit_figures(endpoint: str, records: Mapping[str, Sequence[dict[str, Any]]], now: datetime, min_n: int = MIN_N
                  ) -> dict[str, Any] | None:
    """Field audits of one endpoint (with or without a twin): the latest visit to each ticket; None without any."""
    return audit_figures_of(by_endpoint(records).get(endpoint, {k: [] for k in KINDS}), now, min_n)


def audit_figures_of(mine: dict[str, list[dict[str, Any]]], now: datetime, min_n: int = MIN_N) -> dict[str, Any] | None:
    """The audit figures from one endpoint's records (by_endpoint)."""
    stamp = iso(now)
    audits = _latest_audits([a for a in mine["audits"] if a["imported"] <= stamp])
    if not audits:
        return None
    events = _by_id([e for e in mine["events"] if e["crawl"] <= stamp and e["id"] in audits])
    # An audit is of a ticket the API showed closed; one the panel saw still open on the day of the visit is left out.
    audited = [a for a in audits.values() if a["observed"] != "cannot_tell" and not _open_on(events.get(a["id"]), a["date"])]
    return {"fixed": share(sum(a["observed"] == "fixed" for a in audited), len(audited), min_n=min_n),
            "observed": dict(Counter(a["observed"] for a in audits.values())), "n": len(audits)}


def _open_on(history: list[dict[str, Any]] | None, day: str) -> bool:
    """The panel's last look at a ticket up to the end of that day saw it open."""
    seen = [e for e in history or [] if e["crawl"][:10] <= day and not e.get("gone")]
    return bool(seen) and seen[-1]["status"] != "closed"


def _latest(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["crawl"]):
        out[r["id"]] = r
    return out


def _by_id(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(events, key=lambda e: e["crawl"]):
        out.setdefault(e["id"], []).append(e)
    return out


def _latest_services(services: list[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
    latest = _latest([s for s in services if s["crawl"] <= stamp])
    return [s for s in latest.values() if s["listed"]]


def _latest_audits(audits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for a in sorted(audits, key=lambda a: (a["date"], a["imported"])):
        out[a["id"]] = a  # the latest look at a ticket stands
    return out


def api_entry(f: dict[str, Any] | None) -> dict[str, Any] | None:
    """The "twin" entry of api/endpoints.json (null without a twin)."""
    if f is None:
        return None
    return {"tickets": f["tickets"], "exposure_share": f["exposure"]["value"], "exposed_ticket_share": f["exposed_tickets"]["value"],
            "adoption_share": f["adoption"]["value"], "completeness_share": f["completeness"]["value"],
            "agreement_share": f["agreement"]["value"], "hidden_outcome_share": f["hidden_outcomes"]["value"],
            "audited_fixed_share": f["audits"]["fixed"]["value"] if f["audits"] else None}
