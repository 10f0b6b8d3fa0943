"""One crawl: probe every endpoint, hosts at once, then append what was seen to data/.

Each host gets one worker, which probes its endpoints one after another through one Client:
a host never sees two connections from us, and the registry's min_interval_s holds across
the endpoints it serves (SeeClickFix serves dozens). Hosts run concurrently, so a crawl takes
about as long as its slowest host. A failure of an endpoint is a record; an exception is a
bug of ours, collected and reported after every other endpoint's records are written.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.client import Client, redact
from crawler.probe import EndpointResult, probe_endpoint
from crawler.registry import Endpoint
from records import CrawlRecord, EndpointRecord, iso, store
from records.read import read_data

TICKET_MEMORY_DAYS = 30  # a ticket unchanged for this long is stored again when next listed
MAX_WORKERS = 1024  # one per host; threads wait on sockets and timers, not the CPU
CADENCE = timedelta(minutes=30)  # the crawl workflow's cron


@dataclass
class CrawlReport:
    crawl: str
    scheduled: str
    results: dict[str, EndpointResult] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # endpoint id -> traceback
    written: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _day(stamp: str) -> date:
    return date.fromisoformat(stamp[:10])


def scheduled_slot(moment: datetime) -> datetime:
    """The cron slot a crawl started at moment was due in (GitHub starts scheduled runs late)."""
    seconds = CADENCE.total_seconds()
    return datetime.fromtimestamp(moment.timestamp() // seconds * seconds, tz=moment.tzinfo)


def by_host(endpoints: list[Endpoint]) -> dict[str, list[Endpoint]]:
    hosts: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        hosts.setdefault(endpoint.host, []).append(endpoint)
    return hosts


def crawl(
    endpoints: list[Endpoint],
    data_dir: str | Path,
    now: datetime,
    client_factory: Callable[[float], Client],
    env: Mapping[str, str] = os.environ,
    scheduled: datetime | None = None,
    progress: Callable[[Endpoint, EndpointResult | None], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CrawlReport:
    """Probe the endpoints and append the records. client_factory(interval) makes one host's Client."""
    report = CrawlReport(crawl=iso(now), scheduled=iso(scheduled or scheduled_slot(now)))
    started = clock()
    secrets = tuple(v for v in (env.get(e.api_key_env, "") for e in endpoints if e.api_key_env) if v)

    def one_host(group: list[Endpoint]) -> list[tuple[Endpoint, EndpointResult | None, str | None]]:
        out = []
        try:
            client = client_factory(max(e.interval for e in group))
        except Exception:
            trace = redact(traceback.format_exc(), secrets)
            return [(e, None, trace) for e in group]
        host_deadline = client.clock() + client.limits.host_s
        with client.session:
            for endpoint in group:
                key = env.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
                try:
                    result = probe_endpoint(endpoint, client, now, client.clock(), key or None, host_deadline)
                    if endpoint.api_key_env and not key:
                        result.notes.append(f"{endpoint.api_key_env} is not set: crawled without a key")
                    out.append((endpoint, result, None))
                except Exception:  # a bug of ours: keep crawling the others, fail loudly at the end
                    out.append((endpoint, None, redact(traceback.format_exc(), secrets)))
                if progress is not None:
                    progress(endpoint, out[-1][1])
        return out

    hosts = by_host(endpoints)
    # Every worker waits at the gate until all are started: otherwise the first ones take the
    # CPU while the rest are still being created, and the last host starts seconds late.
    gate = threading.Event()

    def at_the_gate(group: list[Endpoint]) -> list[tuple[Endpoint, EndpointResult | None, str | None]]:
        gate.wait()
        return one_host(group)

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(hosts)))) as pool:
        futures = [pool.submit(at_the_gate, group) for group in hosts.values()]
        gate.set()
        for future in futures:
            for endpoint, result, bug in future.result():
                if result is not None:
                    report.results[endpoint.id] = result
                if bug is not None:
                    report.bugs[endpoint.id] = bug
    report.seconds = clock() - started

    order = {e.id: i for i, e in enumerate(endpoints)}
    results = [report.results[i] for i in sorted(report.results, key=order.__getitem__)]
    probes = [p for r in results for p in r.probes]
    tickets = [t for r in results for t in r.tickets]
    report.written += store.append(data_dir, "probes", (p.to_dict() for p in probes), lambda r: _day(r["probed_at"]))
    since = (now - timedelta(days=TICKET_MEMORY_DAYS)).date()
    new_tickets = changed(data_dir, "tickets", tickets, since=since)
    report.written += store.append(data_dir, "tickets", (t.to_dict() for t in new_tickets), lambda r: _day(r["crawl"]))
    new_entries = changed(data_dir, "endpoints", [endpoint_record(e, report.crawl) for e in endpoints])
    report.written += store.append(data_dir, "endpoints", (e.to_dict() for e in new_entries), lambda r: _day(r["crawl"]))
    record = CrawlRecord(
        crawl=report.crawl, scheduled=report.scheduled, finished=iso(now + timedelta(seconds=report.seconds)),
        endpoints=len(endpoints), calls=len(probes), bytes=sum(p.bytes for p in probes), crawler=__version__,
    )
    report.written += store.append(data_dir, "crawls", [record.to_dict()], lambda r: _day(r["crawl"]))
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
