"""How much an endpoint is used, and whether its data is fresh, from the ticket records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from records import iso

SERVICE_SPAN = timedelta(days=7)
PATTERN_SPAN = timedelta(days=28)  # four of each weekday
FRESHNESS_SPAN = timedelta(days=30)
STALE_FACTOR = 3.0  # newest request older than this many usual gaps ...
STALE_MIN = timedelta(hours=6)  # ... and older than this: flagged
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _distinct(tickets: pd.DataFrame, now: datetime, span: timedelta) -> pd.DataFrame:
    start, end = pd.Timestamp(now - span), pd.Timestamp(now)
    recent = tickets[(tickets["requested"] >= start) & (tickets["requested"] < end)]
    return recent.drop_duplicates("id")


def by_service(tickets: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """Requests a day per service_code over the 7 days before now, busiest first."""
    recent = _distinct(tickets, now, SERVICE_SPAN)
    counts = recent["service_code"].fillna("(none)").value_counts()
    days = SERVICE_SPAN / timedelta(days=1)
    return sorted(({"service_code": str(code), "per_day": round(n / days, 2)} for code, n in counts.items()),
                  key=lambda d: (-d["per_day"], d["service_code"]))


def weekday_pattern(tickets: pd.DataFrame, now: datetime, timezone: str) -> list[dict[str, Any]] | None:
    """Requests a day by local weekday over the 28 days before now; None without any request."""
    recent = _distinct(tickets, now, PATTERN_SPAN)
    if recent.empty:
        return None
    local = recent["requested"].dt.tz_convert(ZoneInfo(timezone))
    counts = local.dt.day_of_week.value_counts()
    weeks = PATTERN_SPAN / timedelta(days=7)
    return [{"weekday": name, "per_day": round(float(counts.get(n, 0)) / weeks, 2)} for n, name in enumerate(WEEKDAYS)]


def freshness(tickets: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """Age of the newest request against the usual gap between requests (their 95th percentile over
    30 days). An API can answer every call while it has stopped receiving or publishing requests:
    a data outage no HTTP check sees. None without any request."""
    known = tickets[tickets["requested"] <= pd.Timestamp(now)].drop_duplicates("id")
    if known.empty:
        return None
    newest = known["requested"].max()
    age = pd.Timestamp(now) - newest
    recent = known[known["requested"] > pd.Timestamp(now - FRESHNESS_SPAN)]["requested"].sort_values()
    gaps = recent.diff().dropna()
    usual = gaps.quantile(0.95) if len(gaps) >= 5 else None
    stale = None if usual is None else bool(age > max(usual * STALE_FACTOR, pd.Timedelta(STALE_MIN)))
    return {"newest": iso(newest), "age_hours": round(age / pd.Timedelta(hours=1), 2),
            "usual_gap_hours": None if usual is None else round(usual / pd.Timedelta(hours=1), 2), "stale": stale}


def catalogue(services: list[dict[str, Any]], usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The current service list of one endpoint (latest record per service_code, still listed), with
    each service's requests a day over 7 days; services that only appear in requests come last."""
    latest: dict[str, dict[str, Any]] = {}
    for record in sorted(services, key=lambda r: r["crawl"]):
        latest[record["id"]] = record
    per_day = {u["service_code"]: u["per_day"] for u in usage}
    rows = [{"service_code": code, "name": r["name"], "group": r["group"], "definition": r["metadata"],
             "per_day": per_day.get(code, 0.0)} for code, r in latest.items() if r["listed"]]
    rows.sort(key=lambda r: (-r["per_day"], r["service_code"]))
    listed = {r["service_code"] for r in rows}
    rows += [{"service_code": code, "name": None, "group": None, "definition": None, "per_day": n}
             for code, n in per_day.items() if code not in listed and code != "(none)"]
    return rows
