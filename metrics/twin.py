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
from datetime import datetime, timedelta
from typing import Any

from metrics import closure
from metrics.stats import MIN_N, share

WINDOW = timedelta(days=30)
SAME_CLOSE = timedelta(hours=1)
SETTLE = timedelta(days=1)  # a twin ticket is expected in the API's listing once it is this old
NOT_A_FIX = {"DUPLICATE", "NO_VIOLATION", "REFERRED", "NOT_RESPONSIBLE", "INSUFFICIENT_INFO", "DEFERRED", "AUTOMATED"}
SILENT = {"EMPTY", "BOILERPLATE", "COMPLETED", "OTHER"}  # an API note that does not tell a non-fix
OBSERVED = ("fixed", "partly_fixed", "not_fixed", "cannot_tell")


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _name(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def twin_figures(endpoint: str, records: dict[str, list[dict[str, Any]]], now: datetime, min_n: int = MIN_N) -> dict[str, Any] | None:
    """Every twin figure of one endpoint, as plain data; None when it has no twin records."""
    start = (now - WINDOW).strftime("%Y-%m-%d")
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    days: dict[str, dict[str, Any]] = {}
    for d in sorted((d for d in records.get("twins", []) if d["endpoint"] == endpoint and d["crawl"] <= stamp), key=lambda d: d["crawl"]):
        if d["day"] >= start:
            days[d["day"]] = d  # the latest fetch of a day stands
    if not days:
        return None
    columns = set(next(reversed(days.values()))["columns"])
    rows = _latest([r for r in records.get("twin_rows", []) if r["endpoint"] == endpoint and r["crawl"] <= stamp])
    events = _by_id([e for e in records.get("events", []) if e["endpoint"] == endpoint and e["crawl"] <= stamp])
    listed = {t["id"] for t in records.get("tickets", []) if t["endpoint"] == endpoint and t["crawl"] <= stamp} | set(events)
    total = sum(d["rows"] for d in days.values())

    # Exposure: a twin type is offered when the API's service list names it, or a ticket in both links it.
    types: Counter[str] = Counter()
    for d in days.values():
        types.update({k: v for k, v in (d["by_service"] or {}).items() if k})
    offered_names = {_name(s["name"]) for s in _latest_services(records.get("services", []), endpoint, stamp)}
    linked = {_name(r["service"]) for r in rows.values() if r["id"] in events and r["service"]}
    offered = [t for t in types if _name(t) in offered_names | linked]
    measurable_types = "service" in columns
    exposure = share(len(offered), len(types), measurable_types, min_n=1)
    exposed = share(sum(types[t] for t in offered), sum(types.values()), measurable_types, min_n=1)

    # Adoption, overall and by month.
    counted = [d for d in days.values() if d["open311"] is not None]
    adoption = share(sum(d["open311"] for d in counted), sum(d["rows"] for d in counted), bool(counted), min_n=1)
    months: dict[str, list[int]] = {}
    for d in counted:
        month = months.setdefault(d["day"][:7], [0, 0])
        month[0] += d["open311"]
        month[1] += d["rows"]
    by_month = [{"month": m, **share(hits, n, min_n=1)} for m, (hits, n) in sorted(months.items())]

    # Completeness: the twin's panel tickets of the window, a day old or more and of a type the API offers
    # (the others are what exposure counts), that the API listed.
    offered_set = {_name(t) for t in offered}
    settled = [r for r in rows.values() if r["requested"] and r["requested"][:10] >= start
               and now - _time(r["requested"]) >= SETTLE  # type: ignore[operator]
               and (not measurable_types or _name(r["service"]) in offered_set)]
    # Not measurable when the API listed nothing at all: that is an outage, not a gap in what it shows.
    completeness = share(sum(r["id"] in listed for r in settled), len(settled), bool(listed), min_n=min_n)

    # Agreement on the tickets in both, and the outcomes the API's notes hide.
    both = [(r, events[r["id"]]) for r in settled if r["id"] in events]
    closed_col = "closed" in columns or "status" in columns
    agree, hidden, reasoned = 0, 0, 0
    for row, history in both:
        twin_closed = bool(row["closed"]) or (row["status"] or "").casefold() in ("closed", "completed", "resolved", "canceled", "cancelled")
        closing = next((e for e in history if e["status"] == "closed"), None)
        api_closed = history[-1]["status"] == "closed"
        same = twin_closed == api_closed
        if same and twin_closed and row["closed"] and closing is not None:
            api_time = _time(closing["updated"]) or _time(closing["crawl"])
            same = abs(api_time - _time(row["closed"])) <= SAME_CLOSE  # type: ignore[operator]
        agree += same
        if twin_closed and api_closed and row["reason"] and closing is not None:
            reasoned += 1
            hidden += closure.classify(row["reason"]) in NOT_A_FIX and closure.classify(closing["notes"]) in SILENT
    agreement = share(agree, len(both), closed_col, min_n=min_n)
    hidden_outcomes = share(hidden, reasoned, "reason" in columns, min_n=min_n)

    return {
        "days": len(days), "tickets": total, "truncated_days": sum(d["truncated"] for d in days.values()),
        "bad_rows": sum(d["bad_rows"] for d in days.values()), "columns": sorted(columns),
        "types": len(types), "offered_types": sorted(offered), "hidden_types": [t for t, _ in types.most_common() if t not in offered][:20],
        "exposure": exposure, "exposed_tickets": exposed,
        "adoption": adoption, "adoption_by_month": by_month,
        "completeness": completeness, "agreement": agreement, "hidden_outcomes": hidden_outcomes,
        "audits": audit_figures(endpoint, records, now, min_n),
    }


def audit_figures(endpoint: str, records: dict[str, list[dict[str, Any]]], now: datetime, min_n: int = MIN_N) -> dict[str, Any] | None:
    """Field audits of one endpoint (with or without a twin): the latest visit to each ticket; None without any."""
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    audits = _latest_audits([a for a in records.get("audits", []) if a["endpoint"] == endpoint and a["imported"] <= stamp])
    if not audits:
        return None
    events = _by_id([e for e in records.get("events", []) if e["endpoint"] == endpoint and e["crawl"] <= stamp and e["id"] in audits])
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


def _latest_services(services: list[dict[str, Any]], endpoint: str, stamp: str) -> list[dict[str, Any]]:
    latest = _latest([s for s in services if s["endpoint"] == endpoint and s["crawl"] <= stamp])
    return [s for s in latest.values() if s["listed"]]


def _latest_audits(audits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for a in sorted(audits, key=lambda a: (a["date"], a["imported"])):
        out[a["id"]] = a  # the latest look at a ticket stands
    return out


def contract(f: dict[str, Any] | None) -> dict[str, Any] | None:
    """The "twin" entry of api/endpoints.json (null without a twin)."""
    if f is None:
        return None
    return {"tickets": f["tickets"], "exposure_share": f["exposure"]["value"], "exposed_ticket_share": f["exposed_tickets"]["value"],
            "adoption_share": f["adoption"]["value"], "completeness_share": f["completeness"]["value"],
            "agreement_share": f["agreement"]["value"], "hidden_outcome_share": f["hidden_outcomes"]["value"],
            "audited_fixed_share": f["audits"]["fixed"]["value"] if f["audits"] else None}
