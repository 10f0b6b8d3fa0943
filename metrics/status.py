"""Endpoint status per crawl, and the windows computed from it.

Rules (one crawl of one endpoint):
    unknown   no GET services call was made, or it was refused by the address guard
    down      GET services did not return a well-formed service list
    degraded  services answered, but GET requests failed, or services took over SLOW_MS
    up        otherwise
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

SLOW_MS = 1000  # as status.open311.org: a call over a second is slow
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}
STATUSES = ("up", "degraded", "down", "unknown")


def probes_frame(probes: list[dict[str, Any]]) -> pd.DataFrame:
    columns = ["endpoint", "crawl", "method", "probed_at", "outcome", "http_status", "elapsed_ms", "items", "error"]
    frame = pd.DataFrame.from_records(probes, columns=columns)
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["probed_at"] = pd.to_datetime(frame["probed_at"], utc=True, format="ISO8601")
    frame["elapsed_ms"] = pd.to_numeric(frame["elapsed_ms"], errors="coerce").astype("float64")
    return frame


def crawl_statuses(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (endpoint, crawl) with its status, sorted by time."""
    if probes.empty:
        return pd.DataFrame({"endpoint": pd.Series(dtype=str), "crawl": pd.Series(dtype="datetime64[ns, UTC]"),
                             "status": pd.Series(dtype=str)})
    first = probes.drop_duplicates(["endpoint", "crawl", "method"])
    wide = first.pivot(index=["endpoint", "crawl"], columns="method", values=["outcome", "elapsed_ms"])
    services = wide["outcome"].get("services", pd.Series(None, index=wide.index, dtype=object))
    requests = wide["outcome"].get("requests", pd.Series(None, index=wide.index, dtype=object))
    services_ms = wide["elapsed_ms"].get("services", pd.Series(float("nan"), index=wide.index))
    status = pd.Series("up", index=wide.index, dtype=object)
    status[(requests != "ok") | (services_ms > SLOW_MS)] = "degraded"
    status[services != "ok"] = "down"
    status[services.isna() | (services == "refused")] = "unknown"
    out = status.rename("status").reset_index()
    return out.sort_values(["endpoint", "crawl"], kind="stable").reset_index(drop=True)


def in_window(times: pd.Series, now: datetime, span: timedelta) -> pd.Series:
    """(now - span, now]: a crawl at exactly now counts, one at exactly now - span does not."""
    return (times > pd.Timestamp(now - span)) & (times <= pd.Timestamp(now))


def uptime(statuses: pd.DataFrame, now: datetime, span: timedelta) -> float | None:
    """Share of the known crawls in the window that were not down; None without any."""
    known = statuses[in_window(statuses["crawl"], now, span) & (statuses["status"] != "unknown")]
    if known.empty:
        return None
    return round(float((known["status"] != "down").mean()), 4)


def daily_uptime(statuses: pd.DataFrame, now: datetime, days: int) -> list[dict[str, Any]]:
    """The status bar: one entry per UTC day ending with now's day, oldest first."""
    last = pd.Timestamp(now).normalize()
    known = statuses[(statuses["status"] != "unknown") & (statuses["crawl"] <= pd.Timestamp(now))]
    by_day = {day.date(): group for day, group in known.groupby(known["crawl"].dt.normalize())["status"]}
    out = []
    for offset in range(days - 1, -1, -1):
        day = last - pd.Timedelta(days=offset)
        s = by_day.get(day.date())
        if s is not None:
            out.append({"day": day.date().isoformat(), "uptime": round(float((s != "down").mean()), 4),
                        "crawls": int(len(s)), "down": int((s == "down").sum()), "degraded": int((s == "degraded").sum())})
        else:
            out.append({"day": day.date().isoformat(), "uptime": None, "crawls": 0, "down": 0, "degraded": 0})
    return out
