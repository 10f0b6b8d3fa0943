"""One crawl: probe every endpoint, hosts at once, then append what was seen to data/.

Each host gets one worker, which probes its endpoints one after another through one Client:
a host never sees two connections from us, and the registry's min_interval_s holds across
the endpoints it serves (SeeClickFix serves dozens). Hosts run concurrently, so a crawl takes
about as long as its slowest host. A failure of an endpoint is a record; an exception is a
bug of ours, collected and reported after every other endpoint's records are written.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.client import Client, redact
from crawler.memory import Memory
from crawler.plan import BackfillState, Panel, slot_of, spread
from crawler.probe import probe_endpoint
from crawler.results import EndpointResult, not_sent
from records import CrawlRecord, EndpointRecord, iso, store, terse
from registry import Endpoint
from vocabulary import CADENCE, CRAWLS_PER_DAY, CRON_OFFSET, day_of

MAX_WORKERS = 1024  # one per host; threads wait on sockets and timers, not the CPU
# Calls on the wire at once, across the hosts: few enough that no city's answer waits on our parsing or on its own
# server's queue, enough that a thousand endpoints are crawled in a minute or two (make bench: benchmarks/load.py).
IN_FLIGHT = 32


@dataclass
class CrawlReport:
    """One crawl as it went: each endpoint's result, the bugs of ours met, the files appended."""

    crawl: str
    scheduled: str
    results: dict[str, EndpointResult] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # endpoint id -> traceback
    written: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def scheduled_slot(moment: datetime) -> datetime:
    """The cron slot (:07 or :37, timing.py) a crawl started at moment was due in: GitHub starts scheduled
    runs late, never early."""
    seconds, offset = CADENCE.total_seconds(), CRON_OFFSET.total_seconds()
    return datetime.fromtimestamp((moment.timestamp() - offset) // seconds * seconds + offset, tz=moment.tzinfo)


def shard_of(host: str, shards: int) -> int:
    """Which of `shards` crawler runs (1..shards) crawls this host: a stable draw, the same on every runner,
    and per host so that one host's pacing stays with one runner."""
    return int.from_bytes(hashlib.sha256(host.encode()).digest()[:8], "big") % shards + 1


def due(endpoint: Endpoint, moment: datetime) -> bool:
    """Whether an endpoint is crawled at this moment: every crawl, or a retired one in one crawl a day
    (at a slot fixed per endpoint, so that they do not all fall in one crawl)."""
    return endpoint.retired is None or slot_of(moment) == spread(endpoint.id) % CRAWLS_PER_DAY


def by_host(endpoints: list[Endpoint]) -> dict[str, list[Endpoint]]:
    """The endpoints grouped by host, in registry order: one worker, one connection and one pace per host."""
    hosts: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        hosts.setdefault(endpoint.host, []).append(endpoint)
    return hosts


Outcome = tuple[Endpoint, "EndpointResult | None", "str | None"]  # an endpoint, its result, or the trace of our bug


@dataclass
class HostCrawl:
    """What every host's worker needs in one crawl: the moment, its clients, the keys, the panel."""

    now: datetime
    client_factory: Callable[..., Client]
    env: Mapping[str, str]
    panel: dict[str, Panel]
    secrets: tuple[str, ...]  # every key in the environment: never written, wherever it turns up
    progress: Callable[[Endpoint, EndpointResult | None], None] | None = None
    covered: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # Memory.covered
    backfilled: dict[str, BackfillState] = field(default_factory=dict)  # Memory.backfilled
    slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(IN_FLIGHT))  # calls in flight
    paces: dict[str, float] = field(default_factory=dict)  # Memory.paces: what a host taught with a 429 lately

    def host(self, group: list[Endpoint]) -> list[Outcome]:
        """One host's endpoints, one after another through one client, within the host's budget."""
        try:
            # The registry's pace, or the slower one the host taught with a 429 lately (crawler/paces.py).
            client = self.client_factory(max([e.interval for e in group] + [self.paces.get(e.id, 0.0) for e in group]), host=group[0].host)
        except Exception:
            trace = redact(traceback.format_exc(), self.secrets)
            return [(e, None, trace) for e in group]
        host_deadline = client.clock() + client.limits.host_s
        client.slots = self.slots
        out = []
        with client:
            for endpoint in group:
                out.append(self.endpoint(endpoint, client, host_deadline))
                if self.progress is not None:
                    self.progress(endpoint, out[-1][1])
        return out

    def endpoint(self, endpoint: Endpoint, client: Client, host_deadline: float) -> Outcome:
        """One endpoint's probe; a bug of ours is kept as its trace, so the crawl goes on and fails loudly at the end."""
        key = self.env.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
        try:
            if endpoint.needs_key and not key:
                return endpoint, not_sent(endpoint, self.now, "no_key", f"needs a key: {endpoint.api_key_env} is not set, "
                                                                         "and the endpoint requires one; not called"), None
            result = probe_endpoint(endpoint, client, self.now, client.clock(), key or None, host_deadline,
                                    self.panel.get(endpoint.id), self.covered.get(endpoint.id, []), self.backfilled.get(endpoint.id))
            if endpoint.api_key_env and not key:
                result.notes.append(f"{endpoint.api_key_env} is not set: crawled without a key")
            return endpoint, result, None
        except Exception:
            return endpoint, None, redact(traceback.format_exc(), self.secrets)


def every_host(run: HostCrawl, endpoints: list[Endpoint]) -> list[Outcome]:
    """Every host at once, one worker each. The workers wait at a gate until all are started: otherwise
    the first ones take the CPU while the rest are still being made, and the last host starts late."""
    hosts = by_host(endpoints)
    gate = threading.Event()

    def at_the_gate(group: list[Endpoint]) -> list[Outcome]:
        gate.wait()
        return run.host(group)

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(hosts)))) as pool:
        futures = [pool.submit(at_the_gate, group) for group in hosts.values()]
        gate.set()
        return [outcome for future in futures for outcome in future.result()]


def crawl(
    endpoints: list[Endpoint],
    data_dir: str | Path,
    now: datetime,
    client_factory: Callable[..., Client],
    env: Mapping[str, str] = os.environ,
    scheduled: datetime | None = None,
    progress: Callable[[Endpoint, EndpointResult | None], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    memory: Memory | None = None,
    durable: bool = True,
    in_flight: int = IN_FLIGHT,
    cache: Path | None = None,
) -> CrawlReport:
    """Probe the endpoints due now and append the records. client_factory(interval, host=...) makes one host's Client.

    memory carries what was stored across crawls made by one process (the simulator's month of
    crawls); without it, the latest stored states are read from data/. durable=False skips
    fsync, for scratch data only. in_flight bounds the calls on the wire at once, across the hosts. cache is where
    the memory keeps its digests of older days between runs (crawler/digest.py); without it, they are read from data/.
    """
    report = CrawlReport(crawl=iso(now), scheduled=iso(scheduled or scheduled_slot(now)))
    started = clock()
    memory = memory or Memory(data_dir, now, cache)
    secrets = tuple(v for v in (env.get(e.api_key_env, "") for e in endpoints if e.api_key_env) if v)
    covered = memory.covered()
    run = HostCrawl(now, client_factory, env, memory.panel(now), secrets, progress, covered, memory.backfilled,
                    threading.BoundedSemaphore(in_flight), memory.paces.at(now))
    for endpoint, result, bug in every_host(run, [e for e in endpoints if due(e, now)]):
        if result is not None:
            report.results[endpoint.id] = result
        if bug is not None:
            report.bugs[endpoint.id] = bug
    report.seconds = clock() - started
    memory.note_coverage(report.results.values())
    store_crawl(report, endpoints, memory, data_dir, now, durable)
    return report


def store_crawl(report: CrawlReport, endpoints: list[Endpoint], memory: Memory, data_dir: str | Path, now: datetime,
                durable: bool) -> None:
    """Append what the crawl saw: a probe line per endpoint, and of tickets, panel events, services and registry
    entries only what changed since they were last stored; then the crawl's own line."""
    order = {e.id: i for i, e in enumerate(endpoints)}
    results = [report.results[i] for i in sorted(report.results, key=order.__getitem__)]
    probes = [p for r in results for p in r.probes]

    def write(kind: str, records: list[dict[str, Any]]) -> None:
        report.written.extend(store.append(data_dir, kind, records, lambda r: day_of(r["crawl"]), durable=durable))

    write("probes", terse.pack([p.to_dict() for p in probes]))  # one line per endpoint: records/terse.py
    write("tickets", memory.changed("tickets", [t.to_dict() for r in results for t in r.tickets]))
    write("events", memory.changed("events", [e.to_dict() for r in results for e in r.events], keep=lambda d: d["via"] == "recheck"))
    listed = {endpoint_id: r.services for endpoint_id, r in report.results.items() if r.services is not None}
    write("services", memory.changed("services", [s.to_dict() for group in listed.values() for s in group]
                                     + memory.gone(listed, report.crawl)))
    write("endpoints", memory.changed("endpoints", [endpoint_record(e, report.crawl).to_dict() for e in endpoints]))
    write("crawls", [CrawlRecord(
        crawl=report.crawl, scheduled=report.scheduled, finished=iso(now + timedelta(seconds=report.seconds)),
        endpoints=len(endpoints), calls=len(probes), bytes=sum(p.bytes for p in probes), crawler=__version__).to_dict()])


def endpoint_record(e: Endpoint, crawl_stamp: str) -> EndpointRecord:
    """The registry entry as stored with the crawl, so the history names what was measured even after the registry moves on."""
    return EndpointRecord(
        crawl=crawl_stamp, endpoint=e.id, name=e.name, country=e.country, base_url=e.base_url, format=e.format,
        platform=e.platform, timezone=e.timezone, jurisdiction_id=e.jurisdiction_id,
        location=list(e.location) if e.location else None, retired=e.retired.to_dict() if e.retired else None,
        maintenance=[m.to_dict() for m in e.maintenance] or None, access=e.access(),
    )
