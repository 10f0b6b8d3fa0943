"""Endpoint status per crawl, and the windows computed from it.

The rules are in metrics/rules.py; crawl_statuses applies them to a whole history at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from records import iso

from metrics.rules import REQUESTS_SLOW_MS, SLOW_MS

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90),
           "365d": timedelta(days=365)}


def probes_frame(probes: list[dict[str, Any]]) -> pd.DataFrame:
    columns = ["endpoint", "crawl", "method", "probed_at", "outcome", "http_status", "elapsed_ms", "items", "error", "page",
               "format", "findings", "target"]
    frame = pd.DataFrame.from_records(probes, columns=columns)
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["probed_at"] = pd.to_datetime(frame["probed_at"], utc=True, format="ISO8601")
    frame["elapsed_ms"] = pd.to_numeric(frame["elapsed_ms"], errors="coerce").astype("float64")
    for column in ("method", "outcome", "format"):  # few distinct values: comparisons on codes, not strings
        frame[column] = frame[column].astype("category")
    return frame


def _first_ok_ms(rows: pd.DataFrame, index: pd.MultiIndex) -> pd.Series:
    ok = rows[rows["outcome"] == "ok"].sort_values("probed_at", kind="stable").drop_duplicates(["endpoint", "crawl"])
    return ok.set_index(["endpoint", "crawl"])["elapsed_ms"].reindex(index)


def crawl_statuses(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (endpoint, crawl) with its status (metrics/rules.py), sorted by time."""
    if probes.empty:
        return pd.DataFrame({"endpoint": pd.Series(dtype=str), "crawl": pd.Series(dtype="datetime64[ns, UTC]"),
                             "status": pd.Series(dtype=str), "failure": pd.Series(dtype=object)})
    keys = ["endpoint", "crawl"]
    index = pd.MultiIndex.from_frame(probes[keys].drop_duplicates())
    services = probes[probes["method"] == "services"]
    requests = probes[probes["method"] == "requests"]
    listed = requests[requests["page"].isna() | (requests["page"] == 1)]
    flags = services.assign(
        ok=services["outcome"] == "ok", limited=services["outcome"] == "rate_limited", refused=services["outcome"] == "refused",
    ).groupby(keys)[["ok", "limited", "refused"]].agg(["any", "all"]).reindex(index)
    called = flags[("ok", "any")].notna()
    answered = flags[("ok", "any")].fillna(False).astype(bool)
    limited = flags[("limited", "any")].fillna(False).astype(bool)
    all_refused = flags[("refused", "all")].fillna(False).astype(bool)
    services_ms = _first_ok_ms(services, index)
    requests_ms = _first_ok_ms(listed, index)
    status = pd.Series("up", index=index, dtype=object)
    status[requests_ms.isna() | (services_ms > SLOW_MS) | (requests_ms > REQUESTS_SLOW_MS)] = "degraded"
    status[~answered] = "down"
    status[~answered & limited] = "degraded"
    status[~called | all_refused] = "unknown"
    last = services.sort_values("probed_at", kind="stable").drop_duplicates(keys, keep="last").set_index(keys)["outcome"]
    failure = last.reindex(index).where(status == "down")  # the class of the last failed attempt of a down crawl
    out = pd.DataFrame({"status": status, "failure": failure}).reset_index()
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


CADENCE = timedelta(minutes=30)  # the crawl workflow's cron (tests/test_workflows.py holds them together)


def schedule(crawls: list[dict[str, Any]], now: datetime, span: timedelta) -> dict[str, Any]:
    """The cron slots in (now - span, now]: how many had a crawl, and how late crawls started.

    A slot without a crawl is a gap: the endpoints' status for it is unknown, never down.
    """
    start = now - span
    slots = int(span / CADENCE)
    made = {c["scheduled"] for c in crawls if iso(start) < c["scheduled"] <= iso(now)}
    late = sorted(
        (datetime.fromisoformat(c["crawl"].replace("Z", "+00:00")) - datetime.fromisoformat(c["scheduled"].replace("Z", "+00:00"))).total_seconds()
        for c in crawls if iso(start) < c["scheduled"] <= iso(now)
    )
    median = None
    if late:
        middle = len(late) // 2
        median = late[middle] if len(late) % 2 else (late[middle - 1] + late[middle]) / 2
    return {"slots": slots, "crawled": min(len(made), slots), "skipped": max(0, slots - len(made)), "late_median_s": median}


def outages(statuses: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """Runs of down crawls of one endpoint, newest first: from the first down crawl to the next
    known crawl that was not down (end None while it lasts; its duration then runs to now), with
    the most frequent failure class of the run. Unknown crawls neither start nor end an outage."""
    known = statuses[(statuses["status"] != "unknown") & (statuses["crawl"] <= pd.Timestamp(now))].sort_values("crawl", kind="stable")
    out: list[dict[str, Any]] = []
    start, failures = None, []
    for moment, status, failure in zip(known["crawl"], known["status"], known.get("failure", [None] * len(known))):
        if status == "down":
            start = moment if start is None else start
            failures.append(failure if isinstance(failure, str) else "unknown")
        elif start is not None:
            out.append(_outage(start, moment, failures, now))
            start, failures = None, []
    if start is not None:
        out.append(_outage(start, None, failures, now))
    return out[::-1]


def _outage(start: pd.Timestamp, end: pd.Timestamp | None, failures: list[str], now: datetime) -> dict[str, Any]:
    counts = pd.Series(failures).value_counts()
    top = sorted(counts[counts == counts.max()].index)[0]  # ties: alphabetical, so the output is reproducible
    until = end if end is not None else pd.Timestamp(now)
    return {"start": iso(start), "end": iso(end) if end is not None else None,
            "duration_s": int((until - start).total_seconds()), "failure": top, "crawls": len(failures)}


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
