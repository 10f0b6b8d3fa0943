"""One crawl: probe every endpoint at once, then append what was seen to data/.

Endpoints are probed concurrently (each endpoint's calls one after another, so one host
never sees two connections from us), and a crawl takes about as long as its slowest
endpoint. A failure of an endpoint is a record; an exception is a bug of ours, collected and
reported after every other endpoint's records are written.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.probe import EndpointResult, probe_endpoint
from crawler.registry import Endpoint
from records import EndpointRecord, iso, store
from records.read import read_data

if TYPE_CHECKING:  # the session is made by probe.make_session; this module never opens one
    import requests

TICKET_MEMORY_DAYS = 30  # a ticket unchanged for this long is stored again when next listed
MAX_WORKERS = 128  # threads wait on sockets, not the CPU


@dataclass
class CrawlReport:
    crawl: str
    results: dict[str, EndpointResult] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # endpoint id -> traceback
    written: list[Path] = field(default_factory=list)


def _day(stamp: str) -> date:
    return date.fromisoformat(stamp[:10])


def crawl(
    endpoints: list[Endpoint],
    data_dir: str | Path,
    now: datetime,
    session_factory: Callable[[], requests.Session],
) -> CrawlReport:
    report = CrawlReport(crawl=iso(now))

    def one(endpoint: Endpoint) -> tuple[str, EndpointResult | None, str | None]:
        try:
            with session_factory() as session:
                return endpoint.id, probe_endpoint(endpoint, session, now), None
        except Exception:  # a bug of ours: keep crawling the others, fail loudly at the end
            return endpoint.id, None, traceback.format_exc()

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(endpoints)))) as pool:
        for endpoint_id, result, bug in pool.map(one, endpoints):
            if result is not None:
                report.results[endpoint_id] = result
            if bug is not None:
                report.bugs[endpoint_id] = bug

    probes = [p for r in report.results.values() for p in r.probes]
    tickets = [t for r in report.results.values() for t in r.tickets]
    report.written += store.append(data_dir, "probes", (p.to_dict() for p in probes), lambda r: _day(r["probed_at"]))
    since = (now - timedelta(days=TICKET_MEMORY_DAYS)).date()
    new_tickets = changed(data_dir, "tickets", tickets, since=since)
    report.written += store.append(data_dir, "tickets", (t.to_dict() for t in new_tickets), lambda r: _day(r["crawl"]))
    new_entries = changed(data_dir, "endpoints", [endpoint_record(e, report.crawl) for e in endpoints])
    report.written += store.append(data_dir, "endpoints", (e.to_dict() for e in new_entries), lambda r: _day(r["crawl"]))
    return report


def endpoint_record(e: Endpoint, crawl_stamp: str) -> EndpointRecord:
    return EndpointRecord(
        crawl=crawl_stamp, endpoint=e.id, name=e.name, country=e.country, base_url=e.base_url, format=e.format,
        platform=e.platform, timezone=e.timezone, jurisdiction_id=e.jurisdiction_id,
    )


def changed(data_dir: str | Path, kind: str, new: list[Any], since: date | None = None) -> list[Any]:
    """The new records whose STATE differs from the latest stored one with the same key.

    Tickets and registry entries are stored as changes, not snapshots, so data/ grows with
    what happens rather than with how often we look.
    """
    if not new:
        return []
    fields = type(new[0]).STATE

    def key(d: dict[str, Any]) -> tuple[str, str]:
        return (d["endpoint"], d.get("id", ""))

    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for r in sorted(read_data(data_dir, since=since, kinds=(kind,)).records[kind], key=lambda r: r["crawl"]):
        latest[key(r)] = tuple(r.get(k) for k in fields)
    out = []
    for record in new:
        d = record.to_dict()
        if latest.get(key(d)) != tuple(d[k] for k in fields):
            out.append(record)
    return out
