"""Per-endpoint figures for the site and api/endpoints.json, computed from the records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from metrics import accuracy, twin
from metrics.compare import percentiles, platforms
from metrics.quality import comprehensiveness_of, conformance_of, recent_calls
from history import History
from metrics.status import STATUS_BAR_DAYS, WINDOWS, in_window, schedule, status_figures
from metrics.utilization import by_service, catalogue, freshness, weekday_pattern
from records import iso

LATENCY_SPAN = timedelta(days=7)
UTILIZATION_SPAN = timedelta(days=7)
CHART_SPAN = timedelta(days=30)
RECENT_FAILURES = 20


def latencies(probes: pd.DataFrame, now: datetime) -> dict[tuple[str, str], dict[str, float]]:
    """p50 and p95 (linear interpolation) of the successful services and requests calls of the 7 days
    before now, for every endpoint at once: {(endpoint, method): {"p50", "p95"}}."""
    ok = probes[probes["method"].isin(["services", "requests"]) & (probes["outcome"] == "ok")
                & in_window(probes["probed_at"], now, LATENCY_SPAN) & probes["elapsed_ms"].notna()]
    table = ok.groupby(["endpoint", "method"], observed=True)["elapsed_ms"].quantile([0.5, 0.95]).unstack()
    return {(str(e), str(m)): {"p50": round(float(row[0.5]), 1), "p95": round(float(row[0.95]), 1)} for (e, m), row in table.iterrows()}


def latencies_daily(probes: pd.DataFrame, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """p50 per UTC day and method (services, requests) of successful calls, the 30 days before now, for every endpoint."""
    ok = probes[probes["method"].isin(["services", "requests"]) & (probes["outcome"] == "ok") & in_window(probes["probed_at"], now, CHART_SPAN)]
    daily = ok.groupby([ok["endpoint"], ok["probed_at"].dt.normalize(), "method"], observed=True)["elapsed_ms"].median()
    out: dict[str, list[dict[str, Any]]] = {}
    for (endpoint, day, method), ms in daily.items():
        out.setdefault(str(endpoint), []).append({"day": day.date().isoformat(), "method": method, "p50": round(float(ms), 1)})
    return out


def _or(value: Any, fallback: Any) -> Any:
    return value if value is not None else fallback


def service_count(probes: pd.DataFrame) -> int | None:
    ok = probes[(probes["method"] == "services") & (probes["outcome"] == "ok")]
    if ok.empty:
        return None
    return int(ok.sort_values("probed_at", kind="stable").iloc[-1]["items"])


def needs_key(probes: pd.DataFrame, last_checked: str | None) -> bool:
    """Whether the latest crawl made no call because the endpoint requires an API key the deployment has not got."""
    if last_checked is None:
        return False
    latest = probes[(probes["method"] == "services") & (probes["crawl"] == pd.Timestamp(last_checked))]
    return not latest.empty and bool((latest["outcome"] == "no_key").all())


def retirement(retired: dict[str, str] | None) -> dict[str, str | None] | None:
    """{since, reason, successor (or null)} of a retired endpoint; None for a live one."""
    return {"since": retired["since"], "reason": retired["reason"], "successor": retired.get("successor")} if retired else None


def tickets_frame(tickets: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(tickets, columns=["endpoint", "id", "crawl", "requested", "status", "service_code"])
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["requested"] = pd.to_datetime(frame["requested"], utc=True, format="ISO8601", errors="coerce")
    return frame


def requests_per_day(tickets: pd.DataFrame, probes: pd.DataFrame, now: datetime) -> float | None:
    """Distinct requests with requested_datetime in [now - 7 d, now), over 7; None if no listing succeeded then."""
    listed = probes[(probes["method"] == "requests") & (probes["outcome"] == "ok") & in_window(probes["probed_at"], now, UTILIZATION_SPAN)]
    if listed.empty:
        return None
    start, end = pd.Timestamp(now - UTILIZATION_SPAN), pd.Timestamp(now)
    recent = tickets[(tickets["requested"] >= start) & (tickets["requested"] < end)]
    return round(recent["id"].nunique() / UTILIZATION_SPAN.days, 2)


def daily_requests(tickets: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    start = pd.Timestamp(now - CHART_SPAN)
    recent = tickets[(tickets["requested"] >= start) & (tickets["requested"] < pd.Timestamp(now))].drop_duplicates("id")
    counts = recent.groupby(recent["requested"].dt.normalize())["id"].count()
    return [{"day": day.date().isoformat(), "requests": int(n)} for day, n in counts.items()]


def split_by_endpoint(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One pass over the frame, rather than a scan of it for every endpoint."""
    return {str(key): group for key, group in frame.groupby("endpoint", sort=False)}


def summarize(history: History, now: datetime) -> dict[str, Any]:
    """Everything the site shows, as plain data: {"generated_at", "endpoints": [...], "details": {id: ...}, "crawls",
    "platforms"}, every window ending at now."""
    stamp = iso(now)
    records = history.records
    probes_all, statuses_all, old_counts = history.calls, history.statuses, history.service_counts
    tickets_all = tickets_frame(list(records["tickets"]))
    meta: dict[str, dict[str, Any]] = {}
    for entry in sorted(records["endpoints"], key=lambda e: e["crawl"]):
        meta[entry["endpoint"]] = entry
    ids = sorted(set(meta) | set(probes_all["endpoint"].unique()) | set(statuses_all["endpoint"].unique()))
    probes_by, tickets_by = (split_by_endpoint(f) for f in (probes_all, tickets_all))
    crawled = status_figures(statuses_all, now, STATUS_BAR_DAYS, ids)
    timing, daily_timing = latencies(probes_all, now), latencies_daily(probes_all, now)
    recent = recent_calls(probes_all, now)
    services_by: dict[str, list[dict[str, Any]]] = {}
    for record in records["services"]:
        services_by.setdefault(record["endpoint"], []).append(record)

    truthfulness = accuracy.accuracy(list(records["events"]), now)

    endpoints, details = [], {}
    for endpoint_id in ids:
        probes = probes_by.get(endpoint_id, probes_all.iloc[0:0])
        tickets = tickets_by.get(endpoint_id, tickets_all.iloc[0:0])
        info = meta.get(endpoint_id, {})
        figures = crawled[endpoint_id]
        summary = {
            "id": endpoint_id,
            "name": info.get("name", endpoint_id),
            "country": info.get("country"),
            "platform": info.get("platform"),
            "base_url": info.get("base_url"),
            "status": figures["status"],
            "last_checked": figures["last_checked"],
            "uptime": figures["uptime"],
            "latency_ms": timing.get((endpoint_id, "services")),
            "service_count": _or(service_count(probes), old_counts.get(endpoint_id, (None, None))[1]),
            "requests_per_day": requests_per_day(tickets, probes, now),
            "needs_key": needs_key(probes, figures["last_checked"]),
            "retired": retirement(info.get("retired")),
        }
        quality = conformance_of(recent[endpoint_id]) if endpoint_id in recent else None
        fresh = freshness(tickets, now)
        summary["conformance"] = quality["score"] if quality else None
        summary["stale"] = fresh["stale"] if fresh else None
        summary["accuracy"] = accuracy.contract(truthfulness.get(endpoint_id))
        twin_detail = twin.twin_figures(endpoint_id, records, now)
        summary["twin"] = twin.contract(twin_detail)
        endpoints.append(summary)
        detail = _detail(info, probes, figures, tickets, now, {m: timing.get((endpoint_id, m)) for m in ("services", "requests")},
                         daily_timing.get(endpoint_id, []), comprehensiveness_of(recent[endpoint_id]) if endpoint_id in recent else None)
        details[endpoint_id] = {**summary, **detail, "conformance_detail": quality, "freshness": fresh,
                                "catalogue": catalogue(services_by.get(endpoint_id, []), detail["by_service"]),
                                "accuracy_detail": truthfulness.get(endpoint_id), "twin_detail": twin_detail,
                                "audits": twin.audit_figures(endpoint_id, records, now)}
    endpoints.sort(key=lambda e: (e["name"].casefold(), e["id"]))
    watched = [e for e in endpoints if not e["retired"]]  # a retired endpoint is compared with nobody
    ranks = percentiles(watched)
    for endpoint_id, detail in details.items():
        detail["compare"] = ranks.get(endpoint_id, {})
    crawls = list(records["crawls"])
    schedules = {name: schedule(crawls, now, WINDOWS[name]) for name in ("24h", "7d")}
    return {"generated_at": stamp, "endpoints": endpoints, "details": details, "crawls": schedules,
            "platforms": platforms(watched)}


def _detail(info: dict[str, Any], probes: pd.DataFrame, figures: dict[str, Any], tickets: pd.DataFrame, now: datetime,
            by_method: dict[str, Any], daily: list[dict[str, Any]], implemented: dict[str, Any] | None) -> dict[str, Any]:
    recent = probes[in_window(probes["probed_at"], now, CHART_SPAN)]  # the last 20 failed calls of 30 days
    failures = recent[recent["outcome"] != "ok"].sort_values("probed_at", kind="stable").tail(RECENT_FAILURES).iloc[::-1]
    return {
        "format": info.get("format"),
        "timezone": info.get("timezone"),
        "jurisdiction_id": info.get("jurisdiction_id"),
        "location": info.get("location"),
        "status_days": figures["status_days"],
        "crawl_counts": figures["crawl_counts"],
        "latency_by_method": by_method,
        "latency_daily": daily,
        "comprehensiveness": implemented,
        "by_service": by_service(tickets, now),
        "weekday_pattern": weekday_pattern(tickets, now, info.get("timezone") or "UTC"),
        "outages": figures["outages"],
        "daily_requests": daily_requests(tickets, now),
        "failures": [
            {"probed_at": iso(r.probed_at), "method": r.method, "outcome": r.outcome,
             "http_status": None if pd.isna(r.http_status) else int(r.http_status),
             "error": None if pd.isna(r.error) else str(r.error)}
            for r in failures.itertuples()
        ],
    }
