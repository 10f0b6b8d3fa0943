"""How much an endpoint is used, and whether its data is fresh, from the ticket records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from metrics.coverage import Coverage
from records import iso

SERVICE_SPAN = timedelta(days=7)
PATTERN_SPAN = timedelta(days=28)  # four of each weekday
FRESHNESS_SPAN = timedelta(days=30)
STALE_FACTOR = 3.0  # newest request older than this many usual gaps ...
STALE_MIN = timedelta(hours=6)  # ... and older than this: flagged
MIN_WEEKDAY_DAYS = 0.25  # a weekday covered less than this (six hours in all) has no rate: too little to divide by
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def requested_within(tickets: pd.DataFrame, part: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    """The distinct tickets requested in the part [start, end): what every windowed figure of the requests counts."""
    start, end = part
    return tickets[(tickets["requested"] >= start) & (tickets["requested"] < end)].drop_duplicates("id")


def by_service(tickets: pd.DataFrame, coverage: Coverage, now: datetime) -> list[dict[str, Any]]:
    """Requests a day per service_code over the covered part of the 7 days before now (divided by its days,
    never by days not seen whole), busiest first; empty when none of them is covered."""
    part = coverage.part_of(now, SERVICE_SPAN)
    if part is None:
        return []
    counts = requested_within(tickets, part)["service_code"].fillna("(none)").value_counts()
    days = (part[1] - part[0]) / pd.Timedelta(days=1)
    return sorted(({"service_code": str(code), "per_day": round(n / days, 2)} for code, n in counts.items()),
                  key=lambda d: (-d["per_day"], d["service_code"]))


def weekday_pattern(tickets: pd.DataFrame, coverage: Coverage, now: datetime, timezone: str) -> list[dict[str, Any]] | None:
    """Requests a day by local weekday over the covered part of the 28 days before now: each weekday's requests over
    the covered days that fell on it (per_day None for a weekday none of whose time was covered). None without any
    request in the covered part."""
    part = coverage.part_of(now, PATTERN_SPAN)
    if part is None:
        return None
    recent = requested_within(tickets, part)
    if recent.empty:
        return None
    zone = ZoneInfo(timezone)
    counts = recent["requested"].dt.tz_convert(zone).dt.day_of_week.value_counts()
    days = weekday_days(part, zone)
    return [{"weekday": name, "per_day": round(float(counts.get(n, 0)) / days[n], 2) if days[n] >= MIN_WEEKDAY_DAYS else None}
            for n, name in enumerate(WEEKDAYS)]


def weekday_days(part: tuple[pd.Timestamp, pd.Timestamp], zone: ZoneInfo) -> list[float]:
    """How many days of the part fell on each local weekday (Monday first), counting calendar days as the city
    lives them, 23 or 25 hours long when the clocks change."""
    start, end = part
    days = [0.0] * 7
    day = start.tz_convert(zone).normalize()
    while day < end:
        following = (day + pd.DateOffset(days=1)).normalize()
        length = (following - day) / pd.Timedelta(days=1)
        overlap = min(following, end) - max(day, start)
        days[day.day_of_week] += overlap / pd.Timedelta(days=1) / length
        day = following
    return days


def freshness(tickets: pd.DataFrame, coverage: Coverage, now: datetime) -> dict[str, Any] | None:
    """Age of the newest request against the usual gap between requests (their 95th percentile over the covered
    part of 30 days). An API can answer every call while it has stopped receiving or publishing requests: a data
    outage no HTTP check sees. Stale is judged as of the latest whole listing, so that an API we could not read is
    never called stale for the time we did not see it. None without any request."""
    known = tickets[tickets["requested"] <= pd.Timestamp(now)].drop_duplicates("id")
    if known.empty:
        return None
    newest = known["requested"].max()
    age = pd.Timestamp(now) - newest
    part = coverage.part_of(now, FRESHNESS_SPAN)
    gaps = requested_within(known, part)["requested"].sort_values().diff().dropna() if part else pd.Series([], dtype="timedelta64[ns]")
    # pandas-stubs do not type the quantile of a Series of timedeltas
    usual: pd.Timedelta | None = gaps.quantile(0.95) if len(gaps) >= 5 else None  # type: ignore[misc,assignment]  # (see above)
    seen_age = None if coverage.through is None else coverage.through - newest
    stale = None if usual is None or seen_age is None else bool(seen_age > max(usual * STALE_FACTOR, pd.Timedelta(STALE_MIN)))
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
