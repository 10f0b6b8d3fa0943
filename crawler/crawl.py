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
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.client import Client, redact
from crawler.digest import digests
from crawler.paces import KEPT, Paces
from crawler.probe import BACKFILL_MIN, BACKFILL_SPAN, WINDOW_FAILED, BackfillState, EndpointResult, Panel, not_sent, probe_endpoint, slot_of, spread
from records import CrawlRecord, EndpointRecord, EventRecord, ServiceRecord, TicketRecord, TwinRowRecord, iso, store, terse
from records.coverage import merged, read_whole
from records.read import probe_days, read_data
from records.terse import seconds_after
from registry import Endpoint
from vocabulary import CADENCE, CRAWLS_PER_DAY, CRON_OFFSET, day_of, moment

MERGE_AT = 64  # intervals noted for an endpoint before they are merged into runs
TICKET_MEMORY_DAYS = 30  # a ticket unchanged for this long is stored again when next listed
RECHECK_DAYS = (1, 7, 30)  # a closed (or vanished) panel ticket is asked for again this long after
RECHECK_GRACE = timedelta(days=7)  # a recheck not made within this of its time is given up
EVENT_MEMORY_DAYS = max(TICKET_MEMORY_DAYS, max(RECHECK_DAYS) + RECHECK_GRACE.days) + 1
TWIN_MEMORY_DAYS = 45  # a twin's row for a panel ticket is asked for again until closed, for 30 days
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
    run = HostCrawl(now, client_factory, env, memory.panel(now), secrets, progress, covered,
                    {e: state for e, (_, _, state) in memory.backfilled.items()}, threading.BoundedSemaphore(in_flight),
                    memory.paces.at(now))
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


STATE = {"tickets": TicketRecord.STATE, "events": EventRecord.STATE, "services": ServiceRecord.STATE,
         "endpoints": EndpointRecord.STATE, "twin_rows": TwinRowRecord.STATE}


class Memory:
    """The latest stored state of every ticket and registry entry, so that only changes are stored.

    Tickets and registry entries are stored as changes, not snapshots, so data/ grows with what
    happens rather than with how often we look. A ticket unchanged for TICKET_MEMORY_DAYS is
    forgotten, and stored again when next listed.
    """

    def __init__(self, data_dir: str | Path, now: datetime, cache: Path | None = None):
        self.data_dir = data_dir
        self.now = now
        self.cache = cache  # where covered() keeps its digests of older days between runs (crawler/digest.py)
        self.latest: dict[str, dict[tuple[str, str], tuple[tuple[Any, ...], str]]] = {}
        self.tracks: dict[tuple[str, str], Track] = {}  # the panel's tickets
        self.intervals: dict[str, list[tuple[str, str]]] | None = None  # what was read whole, per endpoint
        # Per endpoint, where its backfill stands after its latest call, with that call's crawl and window: what the next
        # crawl goes on with.
        self.backfilled: dict[str, tuple[str, str, BackfillState]] = {}
        self.paces = Paces()  # what hosts taught of their pace with a 429, kept for a day (crawler/paces.py)

    def _load(self, kind: str) -> dict[tuple[str, str], tuple[tuple[Any, ...], str]]:
        if kind not in self.latest:
            days = {"tickets": TICKET_MEMORY_DAYS, "events": EVENT_MEMORY_DAYS, "twin_rows": TWIN_MEMORY_DAYS}.get(kind)
            since = (self.now - timedelta(days=days)).date() if days else None
            stored = read_data(self.data_dir, since=since, kinds=(kind,)).records[kind]
            self.latest[kind] = {}
            state_of = _state_of(kind)
            for r in sorted(stored, key=lambda r: r["crawl"]):
                self._remember(kind, r, state_of(r))
        return self.latest[kind]

    def _remember(self, kind: str, d: dict[str, Any], state: tuple[Any, ...]) -> None:
        key = _key(d)
        self.latest[kind][key] = (state, d["crawl"])
        if kind == "events":
            track = self.tracks.get(key)
            settled = "gone" if d.get("gone") else d.get("status")
            if track is None or track.state != settled:
                # A ticket the backfill found already closed was never watched closing: nothing to recheck.
                from_history = d.get("via") == "backfill" if track is None else track.from_history
                self.tracks[key] = Track(settled, d["crawl"], d["crawl"], from_history and settled in ("closed", "gone"))
            else:
                track.seen = d["crawl"]

    def changed(self, kind: str, new: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None
                ) -> list[dict[str, Any]]:
        """The new records whose state differs from the latest stored one with the same key (or that keep
        says to store anyway); remembered."""
        latest = self._load(kind)
        out = []
        state_of, forgets = _state_of(kind), kind in ("tickets", "events")
        cutoffs: dict[str, str] = {}  # per crawl: a record last stored before this day is stored again
        for d in new:
            state = state_of(d)
            seen = latest.get(_key(d))
            stale = False
            if forgets and seen is not None:
                cutoff = cutoffs.get(d["crawl"])
                if cutoff is None:
                    cutoff = cutoffs[d["crawl"]] = (day_of(d["crawl"]) - timedelta(days=TICKET_MEMORY_DAYS)).isoformat()
                stale = seen[1] < cutoff  # ISO times compare as their days do
            if seen is None or seen[0] != state or stale or (keep is not None and keep(d)):
                out.append(d)
                self._remember(kind, d, state)
        return out

    def covered(self) -> dict[str, list[tuple[str, str]]]:
        """Per endpoint, the intervals its crawls read whole (their listings, their backfill's whole windows), as far
        back as the backfill reaches: where it goes on from. Read from data/'s probe lines once (decoded, never expanded
        into records: a quarter of a year of them), then kept up by note_coverage."""
        if self.intervals is None:
            self.intervals = {}
            days = [(self.now - timedelta(days=n)).date() for n in range((BACKFILL_SPAN + timedelta(days=2)).days)]
            # The last KEPT days whole, line by line, for the paces refusals taught; of the days before, a digest each
            # (crawler/digest.py), kept in the cache between runs: the crawl's start stays quick when a hundred
            # endpoints fill the quarter (make bench, benchmarks/years.py).
            recent = days[:KEPT.days + 1]
            for _, lines in probe_days(self.data_dir, recent, []):  # its day file, or its month's archive
                for line in lines:
                    for c in line.calls:
                        self._note(line.endpoint, line.crawl, c.m, c.p, c.o, c.e, c.g, c.n, c.x)
                    if any(c.o == "rate_limited" for c in line.calls):
                        self.paces.learn(line.endpoint, line.crawl, [(c.t, c.o) for c in line.calls])
            for _, digest in digests(self.data_dir, days[len(recent):], self.cache):
                for endpoint, runs in digest.intervals.items():
                    mine = self.intervals.setdefault(endpoint, [])
                    mine.extend(runs)
                    if len(mine) > MERGE_AT:
                        self.intervals[endpoint] = merged(mine)
                for call in digest.backfill:
                    self._note(*call)
        return self.intervals

    def _note(self, endpoint: str, crawl: str, method: str, page: int | None, outcome: str, error: str | None,
              target: str | None, items: int | None, findings: Mapping[str, str]) -> None:
        """Remember what one call read whole, and the window a backfill call leaves its endpoint to go on with."""
        assert self.intervals is not None
        if interval := read_whole(crawl, method, page, outcome, error, target):
            mine = self.intervals.setdefault(endpoint, [])
            mine.append(interval)
            if len(mine) > MERGE_AT:
                self.intervals[endpoint] = merged(mine)  # a month of crawls is a few runs, not 1,440 intervals
        if method == "backfill" and target and "/" in target and (outcome in ("ok", "http_4xx") or outcome in WINDOW_FAILED):
            # The next crawl goes on from the latest window (probe.next_window: halved at the cap or when it failed,
            # doubled when it held little), so a busy city's backfill does not start again from a day every crawl and
            # never get anywhere; never again further back than a window the server refused; and past a window that
            # failed even at its shortest. A window's first page says whether it was cut; its requests are those of
            # all its pages.
            start, end = target.split("/", 1)
            crawled, last, state = self.backfilled.get(endpoint, ("", "", BackfillState()))
            if crawled > crawl:
                return
            length = moment(end) - moment(start)
            if outcome == "http_4xx":
                state = replace(state, floor=max(state.floor or end, end))
            elif outcome in WINDOW_FAILED:
                if page not in (1, None):
                    return  # a later page failed: the window's first page has said what it held
                skipped = ((start, end),) if length <= BACKFILL_MIN else ()
                state = replace(state, length=length, items=0, capped=False, failed=True, skipped=state.skipped + skipped)
            elif page in (1, None) or (crawled, last) != (crawl, target):
                state = replace(state, length=length, items=items or 0, capped=error is not None, failed=False,
                                ignored="date_filter_ignored" in findings)
            else:
                state = replace(state, items=state.items + (items or 0))
            self.backfilled[endpoint] = (crawl, target, state)

    def note_coverage(self, results: Iterable[EndpointResult]) -> None:
        """Remember what a crawl's results read whole."""
        self.covered()
        for result in results:
            for p in result.probes:
                self._note(p.endpoint, p.crawl, p.method, p.page, p.outcome, p.error, p.target, p.items, p.findings)
            if any(p.outcome == "rate_limited" for p in result.probes):  # only a refusal teaches a pace
                first = result.probes[0]
                self.paces.learn(first.endpoint, first.crawl, [(seconds_after(p.probed_at, p.crawl), p.outcome) for p in result.probes])

    def panel(self, now: datetime) -> dict[str, Panel]:
        """Per endpoint, what the accuracy panel asks for this crawl: the tickets last seen open (oldest
        first), and those closed or gone that are due a look RECHECK_DAYS after, the most overdue first."""
        self._load("events")
        open_: dict[str, list[tuple[str, str]]] = {}
        due: dict[str, list[tuple[datetime, str]]] = {}
        past = iso(now - timedelta(days=max(RECHECK_DAYS)) - RECHECK_GRACE)  # closed before this: every recheck is over
        for (endpoint, ticket), track in self.tracks.items():
            if track.state not in ("closed", "gone"):
                open_.setdefault(endpoint, []).append((track.since, ticket))
                continue
            if track.from_history or track.since < past:
                continue
            since, seen = moment(track.since), moment(track.seen)
            for days in RECHECK_DAYS:
                mark = since + timedelta(days=days)
                if mark <= now < mark + RECHECK_GRACE and seen < mark:
                    due.setdefault(endpoint, []).append((mark, ticket))
                    break
        return {endpoint: Panel(open=[t for _, t in sorted(open_.get(endpoint, []))], due=[t for _, t in sorted(due.get(endpoint, []))])
                for endpoint in set(open_) | set(due)}

    def gone(self, listed: dict[str, list[ServiceRecord]], crawl: str) -> list[dict[str, Any]]:
        """Services still listed in what was stored, missing from this crawl's service list."""
        latest = self._load("services")
        now_listed = {(endpoint, s.id) for endpoint, services in listed.items() for s in services}
        out = []
        for (endpoint, code), (state, _) in list(latest.items()):
            if endpoint in listed and (endpoint, code) not in now_listed and state[STATE["services"].index("listed")]:
                name, group, metadata, _ = state
                out.append(ServiceRecord(crawl=crawl, endpoint=endpoint, id=code, name=name, group=group, metadata=metadata,
                                         listed=False).to_dict())
        return out


@dataclass
class Track:
    """A panel ticket as last stored: its state (a status, or gone), since when, and when last seen."""

    state: str | None
    since: str
    seen: str
    from_history: bool = False  # first seen closed by the backfill: not rechecked


@lru_cache(maxsize=None)
def _state_of(kind: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """What of a record of this kind is its state, as a tuple (in C: a crawl of a thousand endpoints compares a month of tickets)."""
    fields = STATE[kind]
    if len(fields) == 1:
        return lambda d: (d[fields[0]],)
    return itemgetter(*fields)


def _key(d: dict[str, Any]) -> tuple[str, str]:
    return (d["endpoint"], d.get("id", ""))
