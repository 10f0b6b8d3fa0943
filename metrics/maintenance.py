"""Planned maintenance in the figures: down crawls inside a declared window are maintenance, and undeclared regular
hours of down crawls are pointed out.

A crawl inside one of its endpoint's declared windows (the registry's maintenance, as the registry said it when the
crawl ran) that found the API down is neither up nor down: it is kept out of uptime like an unknown crawl, ends an
outage rather than making one, opens no incident, and is shown as maintenance. Down outside the windows is down as
before; and when an endpoint's down crawls fall mostly within one band of local hours, day after day, the site says
so, with the evidence, so that its city can declare them (or mend them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from records import iso
from records.maintenance import covers
from vocabulary import STATUSES

REGULAR_SPAN = timedelta(days=30)  # the down crawls looked at for regular hours
REGULAR_MOST_SLOTS = 12  # a band of at most 6 hours (30-minute slots)
REGULAR_SHARE = 0.75  # of the down crawls, inside the band
REGULAR_DAYS = 5  # distinct local days with a down crawl in the band: a habit, not one long outage
REGULAR_LEAST = 8  # down crawls at the least, to say anything


def inside(moments: pd.Series | pd.DatetimeIndex, windows: list[dict[str, Any]], timezone: str) -> np.ndarray:
    """For each UTC moment, whether it falls inside any of the windows, on the wall clock of the endpoint's time zone."""
    local = pd.DatetimeIndex(moments).tz_convert(timezone)
    return covers(np.asarray(local.day_of_week), np.asarray(local.hour * 60 + local.minute), windows)


def declared(statuses: pd.DataFrame, endpoints: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The statuses (endpoint, crawl, status, failure) with every down crawl inside its endpoint's declared maintenance
    labelled maintenance. endpoints: the registry entries as crawled (the endpoints kind), each in effect from its crawl
    until the next one of its endpoint."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(endpoints, key=lambda r: r["crawl"]):
        versions.setdefault(record["endpoint"], []).append(record)
    planned = {e: v for e, v in versions.items() if any(r.get("maintenance") for r in v)}
    if not planned:
        return statuses
    status = statuses["status"].to_numpy(dtype=object).copy()
    down = np.flatnonzero(status == "down")
    endpoint = statuses["endpoint"].to_numpy(dtype=object)[down]
    crawl = statuses["crawl"].iloc[down]
    for name, records in planned.items():
        mine = endpoint == name
        if not mine.any():
            continue
        rows, moments = down[mine], pd.DatetimeIndex(crawl[mine]).as_unit("ns")
        since = pd.DatetimeIndex(pd.to_datetime([r["crawl"] for r in records], utc=True, format="ISO8601")).as_unit("ns")
        which = np.searchsorted(since.asi8, moments.asi8, side="right") - 1  # the entry in effect at each crawl
        for k, record in enumerate(records):
            chosen = which == k
            if record.get("maintenance") and chosen.any():
                status[rows[chosen][inside(moments[chosen], record["maintenance"], record["timezone"])]] = "maintenance"
    out = statuses.copy()
    out["status"] = pd.Categorical(status, categories=STATUSES)
    return out


def regular_hours(statuses: pd.DataFrame, timezone: str, now: datetime) -> dict[str, Any] | None:
    """When one endpoint's down crawls of the 30 days before now (maintenance apart) fall mostly within one band of
    local hours (at most 6 h, at least 75 % of them, on 5 days or more): {"from", "to" (local HH:MM), "down_in_band",
    "down", "days", "span_days"}, the evidence for declaring it; else None."""
    recent = statuses[(statuses["crawl"] > pd.Timestamp(now - REGULAR_SPAN)) & (statuses["crawl"] <= pd.Timestamp(now))]
    down = pd.DatetimeIndex(recent["crawl"][recent["status"].to_numpy(dtype=object) == "down"]).tz_convert(timezone)
    if len(down) < REGULAR_LEAST:
        return None
    slot = np.asarray(down.hour * 2 + down.minute // 30)
    counts = np.bincount(slot, minlength=48)
    # For each length of band, the start holding the most down crawls; the shortest band that holds as many as any does.
    best = [(int(sums.max()), length, int(np.argmax(sums))) for length in range(1, REGULAR_MOST_SLOTS + 1)
            for sums in [np.array([counts[np.arange(start, start + length) % 48].sum() for start in range(48)])]]
    most = max(held for held, _, _ in best)
    held, length, first = next(b for b in best if b[0] == most)
    if held < REGULAR_SHARE * len(down):
        return None
    band = np.isin(slot, np.arange(first, first + length) % 48)
    days = len(set(down[band].date))
    if days < REGULAR_DAYS:
        return None
    start, end = first * 30, (first + length) * 30 % (24 * 60)
    return {"from": f"{start // 60:02d}:{start % 60:02d}", "to": f"{end // 60:02d}:{end % 60:02d}", "down_in_band": held,
            "down": len(down), "days": days, "span_days": REGULAR_SPAN.days, "since": iso(now - REGULAR_SPAN)}
