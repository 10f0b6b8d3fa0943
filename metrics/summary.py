"""Per-endpoint figures for the site and api/endpoints.json, computed from the records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd

from figures import EndpointFigures, EndpointSummary, SiteFigures, fields_of, in_league
from history import History
from metrics import accuracy, closure, incidents, maintenance, twin
from metrics.compare import peers, percentiles, platforms, state_of, uptime_ranks
from metrics.coverage import Coverage, requests_coverage
from metrics.developer import build_on
from metrics.quality import comprehensiveness_of, conformance_of, recent_calls
from metrics.status import STATUS_BAR_DAYS, WINDOWS, in_window, schedule, status_figures
from metrics.utilization import FRESHNESS_SPAN, PATTERN_SPAN, SERVICE_SPAN, by_service, catalogue, freshness, requested_within, weekday_pattern
from records import iso, methods, parse_moment

LATENCY_SPAN = timedelta(days=7)
UTILIZATION_SPAN = timedelta(days=7)
CHART_SPAN = timedelta(days=30)
RECENT_FAILURES = 20
READABLE = ("up", "degraded")  # a city whose latest crawl could read it: whether its requests are fresh is known
_NO_STATUSES = pd.DataFrame({"endpoint": [], "crawl": pd.Series([], dtype="datetime64[ns, UTC]"), "status": [], "failure": []})


def latencies(probes: pd.DataFrame, now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """For every endpoint at once, over the successful services and requests calls of the 7 days before now:
    {(endpoint, method): {"total": {"p50", "p95"}, "server": {"p50", "p95"} | None, "rtt": {"p50"} | None}}, quantiles
    by linear interpolation. total is what the call took from the runner; server the server's own time (the time to
    the first byte less a round trip, crawler/stopwatch.py), over the calls that have it (crawler 0.7.0 on); rtt one
    round trip."""
    ok = probes[probes["method"].isin(methods.APP) & (probes["outcome"] == "ok")
                & in_window(probes["probed_at"], now, LATENCY_SPAN) & probes["elapsed_ms"].notna()]
    # One pass for the three: each column's quantiles leave out its own nulls (calls before crawler 0.7.0 have no server time).
    table = ok.groupby(["endpoint", "method"], observed=True)[["elapsed_ms", "server_ms", "rtt_ms"]].quantile(np.array([0.5, 0.95])).unstack()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, row in table.iterrows():
        e, m = cast(tuple[str, str], key)

        def quantiles(column: str, which: tuple[float, ...], row: pd.Series = row) -> dict[str, float] | None:
            if pd.isna(row[(column, 0.5)]):
                return None
            return {f"p{round(q * 100)}": round(float(row[(column, q)]), 1) for q in which}
        out[(str(e), str(m))] = {"total": quantiles("elapsed_ms", (0.5, 0.95)), "server": quantiles("server_ms", (0.5, 0.95)),
                                 "rtt": quantiles("rtt_ms", (0.5,))}
    return out


def latencies_daily(probes: pd.DataFrame, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """p50 per UTC day and method (services, requests) of successful calls, the total and the server's own time (None
    for a day without it), the 30 days before now, for every endpoint."""
    ok = probes[probes["method"].isin(methods.APP) & (probes["outcome"] == "ok") & in_window(probes["probed_at"], now, CHART_SPAN)]
    daily = ok.groupby([ok["endpoint"], ok["probed_at"].dt.normalize(), "method"], observed=True)[["elapsed_ms", "server_ms"]].median()
    out: dict[str, list[dict[str, Any]]] = {}
    for key, row in daily.iterrows():
        endpoint, day, method = cast(tuple[str, pd.Timestamp, str], key)
        server = None if pd.isna(row["server_ms"]) else round(float(row["server_ms"]), 1)
        out.setdefault(str(endpoint), []).append({"day": day.date().isoformat(), "method": method,
                                                  "p50": round(float(row["elapsed_ms"]), 1), "server_p50": server})
    return out


def latency_entry(latency: dict[str, Any] | None) -> dict[str, Any]:
    """An endpoint's (or one method's) latency as api/endpoints.json gives it: latency_ms (the total), server_ms and
    rtt_ms; each null without a call to measure."""
    latency = latency or {}
    return {"latency_ms": latency.get("total"), "server_ms": latency.get("server"), "rtt_ms": latency.get("rtt")}


def service_count(probes: pd.DataFrame) -> int | None:
    """The number of services in the latest service list of the calls, or None."""
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
    """The tickets as a table with parsed times, for the per-endpoint utilization figures."""
    frame = pd.DataFrame.from_records(tickets, columns=["endpoint", "id", "crawl", "requested", "status", "service_code"])
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["requested"] = pd.to_datetime(frame["requested"], utc=True, format="ISO8601", errors="coerce")
    return frame


def requests_per_day(tickets: pd.DataFrame, coverage: Coverage, now: datetime) -> float | None:
    """Distinct requests with requested_datetime in the covered part of the 7 days before now, over the days
    covered (7 once the whole week is): never divided by days that were not observed. None when none is covered."""
    part = coverage.part_of(now, UTILIZATION_SPAN)
    if part is None:
        return None
    start, end = part
    return round(len(requested_within(tickets, part)) / ((end - start) / pd.Timedelta(days=1)), 2)


def daily_requests(tickets: pd.DataFrame, coverage: Coverage, now: datetime) -> list[dict[str, Any]]:
    """Requests per UTC day of the 30 days before now, for the chart (distinct ids, by requested time), with the share
    of each day that was covered: a day none of which was seen whole is left out, never shown as a day of none."""
    part = coverage.part_of(now, CHART_SPAN)
    if part is None:
        return []
    start, end = part
    recent = requested_within(tickets, part)
    counts = recent.groupby(recent["requested"].dt.normalize())["id"].count()
    out, day = [], start.normalize()
    while day < end:
        following = day + pd.Timedelta(days=1)
        covered = (min(following, end) - max(day, start)) / pd.Timedelta(days=1)
        out.append({"day": day.date().isoformat(), "requests": int(counts.get(day, 0)), "covered": round(covered, 2)})
        day = following
    return out


def windows(coverage: Coverage, now: datetime) -> dict[str, Any]:
    """For each windowed figure of the requests, the part of its window it was taken over (metrics.coverage.Coverage.window),
    so that a page says when a figure rests on fewer days than its name."""
    return {"requests_per_day": coverage.window(now, UTILIZATION_SPAN), "by_service": coverage.window(now, SERVICE_SPAN),
            "weekday_pattern": coverage.window(now, PATTERN_SPAN), "freshness": coverage.window(now, FRESHNESS_SPAN),
            "daily_requests": coverage.window(now, CHART_SPAN)}


def split_by_endpoint(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One pass over the frame, rather than a scan of it for every endpoint."""
    return {str(key): group for key, group in frame.groupby("endpoint", sort=False)}


@dataclass(frozen=True, kw_only=True)
class Shared:
    """The figures computed for every endpoint at once (each a single pass over the history), from which
    each endpoint's own are put together."""

    now: datetime
    ids: list[str]
    meta: dict[str, dict[str, Any]]  # each endpoint's latest registry entry
    calls: dict[str, pd.DataFrame]
    tickets: dict[str, pd.DataFrame]
    no_calls: pd.DataFrame
    no_tickets: pd.DataFrame
    crawled: dict[str, dict[str, Any]]  # metrics.status.status_figures
    latency: dict[tuple[str, str], dict[str, Any]]  # latencies()
    latency_daily: dict[str, list[dict[str, Any]]]
    recent: dict[str, Any]  # metrics.quality.recent_calls
    services: dict[str, list[dict[str, Any]]]
    truthfulness: dict[str, dict[str, Any]]  # metrics.accuracy
    twins: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]  # metrics.twin.every_endpoint
    old_counts: Mapping[str, tuple[str, int]]
    statuses: dict[str, pd.DataFrame]  # each endpoint's crawls: endpoint, crawl, status, failure
    incident_log: dict[str, list[dict[str, Any]]]  # each endpoint's lines of data/incidents


def summarize(history: History, now: datetime) -> SiteFigures:
    """Everything the site shows (figures.SiteFigures), every window ending at now."""
    shared = share_out(history, now)
    pairs = [endpoint_figures(endpoint_id, shared) for endpoint_id in shared.ids]
    endpoints = sorted((summary for summary, _ in pairs), key=lambda e: (e.name.casefold(), e.id))
    watched = in_league(endpoints)  # a retired endpoint is compared with nobody
    ranks = percentiles(watched)
    among, spread = peers(watched)
    details = {detail.id: replace(detail, compare=ranks.get(detail.id, {}), peers=among.get(detail.id)) for _, detail in pairs}
    crawls = list(history.records["crawls"])
    made = history.statuses.loc[history.statuses["crawl"] <= pd.Timestamp(now), "crawl"]  # every crawl any endpoint was in
    return SiteFigures(
        generated_at=iso(now), endpoints=endpoints, details=details, platforms=platforms(watched), state=state_of(watched),
        peer_values=spread, uptime_ranks=uptime_ranks(watched),
        closure=closure.scores(), risk_weights=accuracy.RISK_WEIGHTS,  # the methodology page's
        history={"first_crawl": iso(made.min()) if len(made) else None, "last_crawl": iso(made.max()) if len(made) else None},
        crawls={name: schedule(crawls, now, WINDOWS[name]) for name in ("24h", "7d")})


def share_out(history: History, now: datetime) -> Shared:
    """Every figure that is computed for all endpoints at once."""
    records, calls = history.records, history.calls
    tickets = tickets_frame(list(records["tickets"]))
    meta: dict[str, dict[str, Any]] = {}
    for entry in sorted(records["endpoints"], key=lambda e: e["crawl"]):
        meta[entry["endpoint"]] = entry
    statuses = maintenance.declared(history.statuses, records["endpoints"])  # down inside a declared window: maintenance
    ids = sorted(set(meta) | set(calls["endpoint"].unique()) | set(statuses["endpoint"].unique()))
    services: dict[str, list[dict[str, Any]]] = {}
    for record in records["services"]:
        services.setdefault(record["endpoint"], []).append(record)
    return Shared(
        now=now, ids=ids, meta=meta, calls=split_by_endpoint(calls), tickets=split_by_endpoint(tickets), no_calls=calls.iloc[0:0],
        no_tickets=tickets.iloc[0:0], crawled=status_figures(statuses, now, STATUS_BAR_DAYS, ids), latency=latencies(calls, now),
        latency_daily=latencies_daily(calls, now), recent=recent_calls(calls, now), services=services,
        truthfulness=accuracy.accuracy(list(records["events"]), now), twins=twin.every_endpoint(records, now),
        old_counts=history.service_counts, statuses={str(k): g for k, g in statuses.groupby("endpoint", sort=False, observed=True)},
        incident_log=_by_endpoint(records["incidents"]))


def _by_endpoint(records: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        out.setdefault(record["endpoint"], []).append(record)
    return out


def endpoint_figures(endpoint_id: str, shared: Shared) -> tuple[EndpointSummary, EndpointFigures]:
    """One endpoint's entry of api/endpoints.json, and the detail of its page and api/<id>.json (compared with
    nobody yet: summarize compares them)."""
    now = shared.now
    calls = shared.calls.get(endpoint_id, shared.no_calls)
    tickets = shared.tickets.get(endpoint_id, shared.no_tickets)
    info = shared.meta.get(endpoint_id, {})
    figures = shared.crawled[endpoint_id]
    quality = conformance_of(shared.recent[endpoint_id]) if endpoint_id in shared.recent else None
    covered = requests_coverage(calls, now)
    fresh = freshness(tickets, covered, now)
    twin_detail, audits = shared.twins.get(endpoint_id, (None, None))
    listed = service_count(calls)
    implemented = comprehensiveness_of(shared.recent[endpoint_id]) if endpoint_id in shared.recent else None
    latency = {m: latency_entry(shared.latency.get((endpoint_id, m))) for m in ("services", "requests")}
    summary = EndpointSummary(
        id=endpoint_id, name=info.get("name", endpoint_id), country=info.get("country"),
        platform=info.get("platform"), base_url=info.get("base_url"), status=figures["status"],
        last_checked=figures["last_checked"], uptime=figures["uptime"], uptime_coverage=figures["watched"],
        **latency["services"],
        service_count=listed if listed is not None else shared.old_counts.get(endpoint_id, (None, None))[1],
        requests_per_day=requests_per_day(tickets, covered, now),
        coverage={"requests_since": iso(covered.since) if covered.since is not None else None},
        needs_key=needs_key(calls, figures["last_checked"]),
        retired=retirement(info.get("retired")), conformance=quality["score"] if quality else None,
        stale=fresh["stale"] if fresh and figures["status"] in READABLE else None,
        accuracy=accuracy.api_entry(shared.truthfulness.get(endpoint_id)),
        twin=twin.api_entry(twin_detail), build_on=build_on(info.get("access"), implemented, calls, now),
    )
    detail = _detail(info, calls, figures, tickets, covered, now, latency, shared.latency_daily.get(endpoint_id, []), implemented)
    statuses = shared.statuses.get(endpoint_id, _NO_STATUSES)
    found = incidents.for_site(endpoint_id, summary.name, statuses, fresh, shared.incident_log.get(endpoint_id, []), now)
    regular = maintenance.regular_hours(statuses, info.get("timezone") or "UTC", now) \
        if figures["crawl_counts"]["30d"]["down"] >= maintenance.REGULAR_LEAST else None  # most endpoints: a glance
    return summary, EndpointFigures(
        **fields_of(summary), **detail, outages=incidents.link_outages(figures["outages"], found),
        maintenance=info.get("maintenance"), regular_hours=regular, incidents=found, conformance_detail=quality,
        freshness=fresh, catalogue=catalogue(shared.services.get(endpoint_id, []), detail["by_service"]),
        accuracy_detail=shared.truthfulness.get(endpoint_id), twin_detail=twin_detail, audits=audits, compare={}, peers=None)


def _detail(info: dict[str, Any], probes: pd.DataFrame, figures: dict[str, Any], tickets: pd.DataFrame, covered: Coverage, now: datetime,
            by_method: dict[str, Any], daily: list[dict[str, Any]], implemented: dict[str, Any] | None) -> dict[str, Any]:
    recent = probes[in_window(probes["probed_at"], now, CHART_SPAN) & ~probes["method"].isin(methods.OWN)]  # the last 20 failed calls of 30 days
    failures = recent[recent["outcome"] != "ok"].sort_values("probed_at", kind="stable").tail(RECENT_FAILURES).iloc[::-1]
    return {
        "format": info.get("format"),
        "timezone": info.get("timezone"),
        "jurisdiction_id": info.get("jurisdiction_id"),
        "location": info.get("location"),
        "checked_ago_s": int((now - parse_moment(figures["last_checked"])).total_seconds()) if figures["last_checked"] else None,
        "status_days": figures["status_days"],
        "crawl_counts": figures["crawl_counts"],
        "latency_by_method": by_method,
        "latency_daily": daily,
        "comprehensiveness": implemented,
        "by_service": by_service(tickets, covered, now),
        "weekday_pattern": weekday_pattern(tickets, covered, now, info.get("timezone") or "UTC"),
        "windows": windows(covered, now),
        "daily_requests": daily_requests(tickets, covered, now),
        "failures": [
            {"probed_at": iso(r.probed_at), "method": r.method, "outcome": r.outcome,
             "http_status": None if pd.isna(r.http_status) else int(r.http_status),
             "error": None if pd.isna(r.error) else str(r.error)}
            for r in cast(Iterable[Any], failures.itertuples())  # its columns by name
        ],
    }
