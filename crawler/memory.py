"""What a crawl knows of what data/ holds, read once at its start: four parts, each with one job.

- StoredStates: the latest stored state of every ticket, panel event, twin row, service type and registry entry, so
  that only changes are stored (data/ grows with what happens, not with how often we look).
- PanelTracks: the accuracy panel's tickets as their events left them: which are open, which are due a recheck.
- Coverage: per endpoint, the time its crawls read whole (records/coverage.py), where its backfill goes on from.
- BackfillCursors: per endpoint, where its backfill stands after its latest call.

Memory reads them (with the paces hosts taught, crawler/paces.py) and keeps them up as a crawl stores its records.
Each reads probe calls by their record fields (NotedCall), never by the letters the day files store them under.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from crawler.digest import NOTED_COLUMNS, NotedCall, digests
from crawler.paces import KEPT, Paces
from crawler.plan import BACKFILL_MIN, BACKFILL_SPAN, WINDOW_FAILED, BackfillState, Panel
from crawler.results import EndpointResult
from records import EndpointRecord, EventRecord, ServiceRecord, TicketRecord, TwinRowRecord, iso, terse
from records.coverage import merged, read_whole
from records.read import probe_days, read_data
from vocabulary import day_of, moment

MERGE_AT = 64  # intervals noted for an endpoint before they are merged into runs
TICKET_MEMORY_DAYS = 30  # a ticket unchanged for this long is stored again when next listed
RECHECK_DAYS = (1, 7, 30)  # a closed (or vanished) panel ticket is asked for again this long after
RECHECK_GRACE = timedelta(days=7)  # a recheck not made within this of its time is given up
EVENT_MEMORY_DAYS = max(TICKET_MEMORY_DAYS, max(RECHECK_DAYS) + RECHECK_GRACE.days) + 1
TWIN_MEMORY_DAYS = 45  # a twin's row for a panel ticket is asked for again until closed, for 30 days
MEMORY_DAYS = {"tickets": TICKET_MEMORY_DAYS, "events": EVENT_MEMORY_DAYS, "twin_rows": TWIN_MEMORY_DAYS}  # others: all
STATE = {"tickets": TicketRecord.STATE, "events": EventRecord.STATE, "services": ServiceRecord.STATE,
         "endpoints": EndpointRecord.STATE, "twin_rows": TwinRowRecord.STATE}

Latest = dict[tuple[str, str], tuple[tuple[Any, ...], str]]  # (endpoint, id) -> (its state, the crawl that stored it)


@dataclass
class Track:
    """A panel ticket as last stored: its state (a status, or gone), since when, and when last seen."""

    state: str | None
    since: str
    seen: str
    from_history: bool = False  # first seen closed by the backfill: not rechecked


class PanelTracks:
    """The accuracy panel's tickets, each as its stored events left it."""

    def __init__(self) -> None:
        self.tracks: dict[tuple[str, str], Track] = {}

    def remember(self, key: tuple[str, str], event: dict[str, Any]) -> None:
        """One stored event of a panel ticket, in the order they were stored."""
        track = self.tracks.get(key)
        settled = "gone" if event.get("gone") else event.get("status")
        if track is None or track.state != settled:
            # A ticket the backfill found already closed was never watched closing: nothing to recheck.
            from_history = event.get("via") == "backfill" if track is None else track.from_history
            self.tracks[key] = Track(settled, event["crawl"], event["crawl"], from_history and settled in ("closed", "gone"))
        else:
            track.seen = event["crawl"]

    def panel(self, now: datetime) -> dict[str, Panel]:
        """Per endpoint, what the accuracy panel asks for this crawl: the tickets last seen open (oldest
        first), and those closed or gone that are due a look RECHECK_DAYS after, the most overdue first."""
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


class StoredStates:
    """The latest stored state of each record of the kinds stored as changes; a ticket (or panel event) unchanged for
    TICKET_MEMORY_DAYS is forgotten, and stored again when next listed. The panel's events go on to its tracks."""

    def __init__(self, data_dir: str | Path, now: datetime, tracks: PanelTracks):
        self.data_dir, self.now, self.tracks = data_dir, now, tracks
        self.latest: dict[str, Latest] = {}

    def of(self, kind: str) -> Latest:
        """The latest state of every record of a kind, read from data/ the first time it is asked for."""
        if kind not in self.latest:
            days = MEMORY_DAYS.get(kind)
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
            self.tracks.remember(key, d)

    def changed(self, kind: str, new: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None
                ) -> list[dict[str, Any]]:
        """The new records whose state differs from the latest stored one with the same key (or that keep
        says to store anyway); remembered."""
        latest = self.of(kind)
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

    def gone(self, listed: dict[str, list[ServiceRecord]], crawl: str) -> list[dict[str, Any]]:
        """Services still listed in what was stored, missing from this crawl's service list."""
        latest = self.of("services")
        now_listed = {(endpoint, s.id) for endpoint, services in listed.items() for s in services}
        out = []
        for (endpoint, code), (state, _) in list(latest.items()):
            if endpoint in listed and (endpoint, code) not in now_listed and state[STATE["services"].index("listed")]:
                name, group, metadata, _ = state
                out.append(ServiceRecord(crawl=crawl, endpoint=endpoint, id=code, name=name, group=group, metadata=metadata,
                                         listed=False).to_dict())
        return out


class Coverage:
    """Per endpoint, the intervals its crawls read whole (their listings, their backfill's whole windows)."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[tuple[str, str]]] = {}

    def add(self, endpoint: str, runs: Iterable[tuple[str, str]]) -> None:
        """Intervals read whole, kept short: a month of crawls is a few runs, not 1,440 intervals."""
        mine = self.intervals.setdefault(endpoint, [])
        mine.extend(runs)
        if len(mine) > MERGE_AT:
            self.intervals[endpoint] = merged(mine)

    def note(self, call: NotedCall) -> None:
        """What one call read whole, if anything."""
        if interval := read_whole(call.crawl, call.method, call.page, call.outcome, call.error, call.target):
            self.add(call.endpoint, [interval])


class BackfillCursors:
    """Per endpoint, where its backfill stands after its latest call, with that call's crawl and window: what the next
    crawl goes on with (probe.next_window: halved at the cap or when it failed, doubled when it held little), so a busy
    city's backfill does not start again from a day every crawl and never get anywhere; never again further back than
    a window the server refused; and past a window that failed even at its shortest."""

    def __init__(self) -> None:
        self.at: dict[str, tuple[str, str, BackfillState]] = {}

    def note(self, call: NotedCall) -> None:
        """One backfill call: a window's first page says whether it was cut; its requests are those of all its pages."""
        target, outcome, page = call.target, call.outcome, call.page
        if call.method != "backfill" or not target or "/" not in target or not (outcome in ("ok", "http_4xx") or outcome in WINDOW_FAILED):
            return
        start, end = target.split("/", 1)
        crawled, last, state = self.at.get(call.endpoint, ("", "", BackfillState()))
        if crawled > call.crawl:
            return
        length = moment(end) - moment(start)
        if outcome == "http_4xx":
            state = replace(state, floor=max(state.floor or end, end))
        elif outcome in WINDOW_FAILED:
            if page not in (1, None):
                return  # a later page failed: the window's first page has said what it held
            skipped = ((start, end),) if length <= BACKFILL_MIN else ()
            state = replace(state, length=length, items=0, capped=False, failed=True, skipped=state.skipped + skipped)
        elif page in (1, None) or (crawled, last) != (call.crawl, target):
            state = replace(state, length=length, items=call.items or 0, capped=call.error is not None, failed=False,
                            ignored="date_filter_ignored" in call.findings)
        else:
            state = replace(state, items=state.items + (call.items or 0))
        self.at[call.endpoint] = (call.crawl, target, state)

    def states(self) -> dict[str, BackfillState]:
        """Per endpoint, where its backfill goes on from."""
        return {endpoint: state for endpoint, (_, _, state) in self.at.items()}


class Memory:
    """The four parts, read from data/ once (the probes' older days from their digests in cache, crawler/digest.py),
    then kept up by the crawl that uses them."""

    def __init__(self, data_dir: str | Path, now: datetime, cache: Path | None = None):
        self.data_dir, self.now, self.cache = data_dir, now, cache
        self.tracks = PanelTracks()
        self.states = StoredStates(data_dir, now, self.tracks)
        self.coverage = Coverage()
        self.backfill = BackfillCursors()
        self.paces = Paces()  # what hosts taught of their pace with a 429, kept for a day (crawler/paces.py)
        self.read = False  # whether the probes' part (coverage, backfill, paces) has been read

    def changed(self, kind: str, new: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None
                ) -> list[dict[str, Any]]:
        """StoredStates.changed."""
        return self.states.changed(kind, new, keep)

    def gone(self, listed: dict[str, list[ServiceRecord]], crawl: str) -> list[dict[str, Any]]:
        """StoredStates.gone."""
        return self.states.gone(listed, crawl)

    def panel(self, now: datetime) -> dict[str, Panel]:
        """PanelTracks.panel, its events read first."""
        self.states.of("events")
        return self.tracks.panel(now)

    def covered(self) -> dict[str, list[tuple[str, str]]]:
        """Per endpoint, the intervals its crawls read whole, as far back as the backfill reaches: where it goes on from.
        Read from data/'s probe lines once (never expanded into records: a quarter of a year of them)."""
        if not self.read:
            self.read = True
            days = [(self.now - timedelta(days=n)).date() for n in range((BACKFILL_SPAN + timedelta(days=2)).days)]
            # The last KEPT days whole, for the paces refusals taught; of the days before, a digest each (kept in the
            # cache between runs): the crawl's start stays quick when a hundred endpoints fill the quarter (make bench).
            recent = days[:KEPT.days + 1]
            for _, lines in probe_days(self.data_dir, recent, []):  # its day file, or its month's archive
                for call in _noted(lines):
                    self._note(call)
                for endpoint, crawl, calls in terse.refusals(lines):
                    self.paces.learn(endpoint, crawl, calls)
            for _, digest in digests(self.data_dir, days[len(recent):], self.cache):
                for endpoint, runs in digest.intervals.items():
                    self.coverage.add(endpoint, runs)
                for call in digest.backfill:
                    self._note(call)
        return self.coverage.intervals

    @property
    def backfilled(self) -> dict[str, BackfillState]:
        """BackfillCursors.states, the probes read first."""
        self.covered()
        return self.backfill.states()

    def _note(self, call: NotedCall) -> None:
        self.coverage.note(call)
        self.backfill.note(call)

    def note_coverage(self, results: Iterable[EndpointResult]) -> None:
        """Remember what a crawl's results read whole, where their backfill stands, and what a refusal taught."""
        self.covered()
        for result in results:
            for p in result.probes:
                self._note(NotedCall(p.endpoint, p.crawl, p.method, p.page, p.outcome, p.error, p.target, p.items, p.findings))
            if any(p.outcome == "rate_limited" for p in result.probes):  # only a refusal teaches a pace
                first = result.probes[0]
                self.paces.learn(first.endpoint, first.crawl, [(terse.seconds_after(p.probed_at, p.crawl), p.outcome) for p in result.probes])


def _noted(lines: list[terse.Line]) -> Iterator[NotedCall]:
    """Every call of these lines, as the fields covered() notes."""
    cols = terse.columns(lines)
    return (NotedCall(*call) for call in zip(*(cols[name] for name in NOTED_COLUMNS)))


@lru_cache(maxsize=None)
def _state_of(kind: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """What of a record of this kind is its state, as a tuple (in C: a crawl of a thousand endpoints compares a month of tickets)."""
    fields = STATE[kind]
    if len(fields) == 1:
        return lambda d: (d[fields[0]],)
    return itemgetter(*fields)


def _key(d: dict[str, Any]) -> tuple[str, str]:
    return (d["endpoint"], d.get("id", ""))
