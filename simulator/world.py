"""The ground truth of a simulated span: every ticket's real life, every outage, the real latency.

Built once from the scenarios and a seed, before any server answers; the servers only ever read
it (plus what POST adds). export() writes it as files the tests and the accuracy work read:

    truth/cities.json      per city: services, latency medians, outage windows, true uptime
    truth/tickets.jsonl    per ticket: its events (time, status, notes) and its true outcome
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulator.scenario import OUTCOMES, City, Window, moment

SLOT = timedelta(minutes=30)  # flapping is decided per slot of this length
HISTORY_BEFORE = timedelta(days=91)  # tickets exist from this long before the span starts: the backfill reads 90 days
REFERRALS = ["Water Department", "State Highway Authority", "Parks and Recreation", "a private owner"]


def rng(*parts: Any) -> random.Random:
    """A random generator seeded by its purpose, so the same scenario always makes the same world."""
    return random.Random(int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big"))


def unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) for these parts."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big") / 2**64


draw_of = lru_cache(maxsize=1 << 17)(unit)  # unit, once per ticket: the open dataset is made again at every fetch


@lru_cache(maxsize=1 << 17)
def socrata_time(moment: datetime, zone: str) -> str:
    """A time as a Socrata dataset shows it: local, without an offset."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S.000")


@dataclass
class Ticket:
    """A simulated ticket with its whole life decided in advance: what the API shows of it at any moment, and the
    truth."""

    id: str
    service_code: str
    service_name: str
    requested: datetime
    events: list[tuple[datetime, str, str | None]]  # (when, open|closed, status notes)
    outcome: str  # one of scenario.OUTCOMES
    resolved: datetime | None  # when the problem was really dealt with; None if never
    vanished: datetime | None = None
    address: str = ""
    lat: float = 0.0
    long: float = 0.0
    description: str = ""

    def history(self, at: datetime) -> list[tuple[datetime, str, str | None]]:
        """The extensions' notes[] up to at: (when, opened | closed | follow_on_created, text)."""
        out = []
        for when, status, notes in self.events:
            if when > at:
                break
            if self.outcome == "work_order" and status == "closed":
                out.append((when, "follow_on_created", notes))
            out.append((when, "opened" if status == "open" else "closed", notes))
        return out

    def state(self, at: datetime) -> tuple[datetime, str, str | None] | None:
        """The last event at or before at; None if the ticket is not (or no longer) listed then."""
        if at < self.requested or (self.vanished is not None and at >= self.vanished):
            return None
        last = self.events[0]
        for event in self.events:
            if event[0] > at:
                break
            last = event
        return last


@dataclass
class CityTruth:
    """A city's tickets and failure windows: what its server answers from, and what the site is checked against."""

    city: City
    tickets: list[Ticket]
    windows: list[Window]  # when the city does not answer, sorted
    bad_data: list[datetime] = field(default_factory=list)  # a listing whose dates hold one of these answers 500
    _requested: list[datetime] = field(default_factory=list)
    by_id: dict[str, Ticket] = field(default_factory=dict)
    _changes: list[tuple[datetime, int]] = field(default_factory=list)  # (event time, ticket index), for changed()
    _change_times: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tickets.sort(key=lambda t: t.requested)
        self._changes = []
        self._requested = [t.requested for t in self.tickets]
        self.by_id = {t.id: t for t in self.tickets}

    def between(self, start: datetime, end: datetime) -> list[Ticket]:
        """Tickets requested in [start, end), oldest first."""
        return self.tickets[bisect.bisect_left(self._requested, start):bisect.bisect_left(self._requested, end)]

    def changed(self, after: datetime, before: datetime, now: datetime) -> list[Ticket]:
        """Tickets whose state at now was reached in [after, before], newest request first (updated_after)."""
        if not self._changes:
            self._changes = sorted((when, n) for n, t in enumerate(self.tickets) for when, _, _ in t.events)
            self._change_times = [when for when, _ in self._changes]
        lo, hi = bisect.bisect_left(self._change_times, after), bisect.bisect_right(self._change_times, before)
        out = []
        for n in sorted({n for _, n in self._changes[lo:hi]}, reverse=True):
            state = self.tickets[n].state(now)
            if state is not None and after <= state[0] <= before:
                out.append(self.tickets[n])
        return out

    def failure(self, at: datetime) -> str | None:
        """How the city fails a call at this moment, or None if it answers."""
        for window in self.windows:
            if window.start > at:
                break
            if window.holds(at):
                return window.kind
        return None

    def add(self, ticket: Ticket) -> None:
        """A ticket made by POST requests."""
        self.tickets.append(ticket)
        self.__post_init__()


class World:
    """Every city of a scenario over a span of time, made once from its seeds. Tickets exist from `before` the
    start (a benchmark of a thousand cities that keep a few days makes only those)."""
    def __init__(self, cities: list[City], start: datetime, end: datetime, before: timedelta = HISTORY_BEFORE):
        self.start, self.end = start, end
        self.cities = {c.id: c for c in cities}
        self.truth = {c.id: CityTruth(c, make_tickets(c, start - before, end), make_windows(c, start, end),
                                      [moment(b, start) for b in c.bad_data]) for c in cities}
        self.hidden = {c.id: make_hidden(c, start - before, end) for c in cities if c.open_data}

    def twin_rows(self, city_id: str, now: datetime) -> list[dict[str, Any]]:
        """The city's open dataset as it stands at now: every API ticket (a vanished one as cancelled), and
        the tickets of types the API does not offer. Socrata-style: local times without an offset."""
        c = self.cities[city_id]
        share = float((c.open_data or {}).get("open311_share", 0.3))

        def local(moment: datetime | None) -> str | None:
            return None if moment is None else socrata_time(moment, c.timezone)

        rows = []
        for t in self.truth[city_id].between(self.start - HISTORY_BEFORE, now):
            draw = draw_of(c.seed, "channel", t.id)
            channel = "Mobile/Open311" if draw < share else "Phone" if draw < share + (1 - share) * 0.7 else "Web"
            closed, reason = None, None
            if t.vanished is not None and t.vanished <= now:
                closed, reason = t.vanished, "Cancelled: invalid request"
            elif t.outcome == "work_order":
                closed, reason = (t.resolved, "Work completed") if t.resolved and t.resolved <= now else (None, None)
            elif (event := t.state(now)) is not None and event[1] == "closed":
                closed = event[0]
                reason = {"duplicate": "Duplicate", "referral": "Referred to another agency",
                          "empty_notes": "Duplicate" if unit(c.seed, "hidden reason", t.id) < 0.4 else "Completed"}.get(t.outcome, "Completed")
            rows.append({"case_id": t.id, "opened": local(t.requested), "closed_at": local(closed), "state": "Closed" if closed else "Open",
                         "case_type": t.service_name, "channel": channel, "resolution": reason})
        for ticket_id, name, requested, closed in self.hidden.get(city_id, []):
            if requested <= now:
                done = closed if closed <= now else None
                rows.append({"case_id": ticket_id, "opened": local(requested), "closed_at": local(done), "state": "Closed" if done else "Open",
                             "case_type": name, "channel": "Phone", "resolution": "Information provided" if done else None})
        return [{k: v for k, v in r.items() if v is not None} for r in rows]  # as Socrata: empty cells left out

    def export(self, folder: str | Path) -> Path:
        """The ground truth as files (truth/cities.json, truth/tickets.jsonl), to check the site against."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cities = {}
        for city_id, truth in self.truth.items():
            c = truth.city
            cities[city_id] = {
                "name": c.name, "services": len(c.services), "service_codes": [s.code for s in c.services],
                "definitions": sum(1 for s in c.services if s.attributes),
                "latency_ms": {"services": c.latency_ms, "requests": c.latency_ms * c.requests_latency_factor},
                "outages": [{"start": _iso(w.start), "end": _iso(w.end), "kind": w.kind} for w in truth.windows],
                "uptime": uptime(truth.windows, self.start, self.end),
                "requests_per_day": len(truth.between(self.start, self.end)) / ((self.end - self.start) / timedelta(days=1)),
            }
        (folder / "cities.json").write_text(json.dumps({"start": _iso(self.start), "end": _iso(self.end), "cities": cities}, indent=1))
        with open(folder / "tickets.jsonl", "w") as f:
            for city_id, truth in self.truth.items():
                for t in truth.tickets:
                    f.write(json.dumps({
                        "city": city_id, "id": t.id, "service_code": t.service_code, "requested": _iso(t.requested),
                        "outcome": t.outcome, "resolved": _iso(t.resolved) if t.resolved else None,
                        "vanished": _iso(t.vanished) if t.vanished else None,
                        "events": [[_iso(w), s, n] for w, s, n in t.events],
                    }) + "\n")
        return folder


def _iso(m: datetime) -> str:
    return m.strftime("%Y-%m-%dT%H:%M:%SZ") if m.utcoffset() == timedelta(0) else m.isoformat()


def uptime(windows: list[Window], start: datetime, end: datetime) -> float:
    """Share of [start, end) outside every window."""
    down = timedelta(0)
    for w in merge(windows):
        lo, hi = max(w.start, start), min(w.end, end)
        if hi > lo:
            down += hi - lo
    return 1 - down / (end - start)


def merge(windows: list[Window]) -> list[Window]:
    """Overlapping windows as one, so a moment is in at most one failure."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if out and w.start <= out[-1].end:
            last = out[-1]
            out[-1] = Window(last.start, max(last.end, w.end), last.kind)
        else:
            out.append(w)
    return out


def make_windows(city: City, start: datetime, end: datetime) -> list[Window]:
    """A city's failure windows over the span: outages, nightly maintenance, flapping, its death."""
    windows = [Window(moment(o["start"], start), moment(o["start"], start) + timedelta(hours=o["hours"]), o["kind"]) for o in city.outages]
    if city.daily_outage:
        tz = ZoneInfo(city.timezone)
        hour, minute = map(int, city.daily_outage["start"].split(":"))
        day = (start - timedelta(days=1)).astimezone(tz).replace(hour=hour, minute=minute, second=0, microsecond=0)
        while day < end:
            windows.append(Window(day, day + timedelta(hours=city.daily_outage["hours"]), city.daily_outage["kind"]))
            day = (day + timedelta(days=1)).replace(hour=hour, minute=minute)  # wall clock: DST keeps the local hour
    if city.flapping:
        slot = start - timedelta(seconds=start.timestamp() % SLOT.total_seconds())
        while slot < end:
            if unit(city.seed, "flap", slot.isoformat()) < city.flapping["share"]:
                windows.append(Window(slot, slot + SLOT, city.flapping["kind"]))
            slot += SLOT
    if city.dies:
        windows.append(Window(moment(city.dies, start), end + timedelta(days=3650), "refused"))
    return sorted(windows, key=lambda w: w.start)


def _poisson(r: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(r.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def make_tickets(city: City, start: datetime, end: datetime) -> list[Ticket]:
    """A city's tickets over the span, arriving by hour and weekday, each with its whole life decided."""
    tz = ZoneInfo(city.timezone)
    hour_mean = sum(city.by_hour) / 24
    day_mean = sum(city.by_weekday) / 7
    shares = [s.share for s in city.services]
    out: list[Ticket] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    number = 0
    while hour < end:
        local = hour.astimezone(tz)
        mean = city.requests_per_day / 24 * city.by_hour[local.hour] / hour_mean * city.by_weekday[local.weekday()] / day_mean
        r = rng(city.seed, "arrivals", hour.isoformat())
        for _ in range(_poisson(r, mean)):
            number += 1
            requested = hour + timedelta(seconds=r.randrange(3600))
            service = r.choices(city.services, weights=shares)[0]
            out.append(lifecycle(city, service, f"{city.id[:3].upper()}-{requested:%y%m%d}-{number:05d}", requested, r))
        hour += timedelta(hours=1)
    return out


def make_hidden(city: City, start: datetime, end: datetime) -> list[tuple[str, str, datetime, datetime]]:
    """Tickets of the types only the city's dataset has: (id, type, requested, closed), a steady trickle."""
    out = []
    for n, kind in enumerate((city.open_data or {}).get("hidden_types", [])):
        hour = start.replace(minute=0, second=0, microsecond=0)
        number = 0
        while hour < end:
            r = rng(city.seed, "hidden", kind["name"], hour.isoformat())
            for _ in range(_poisson(r, city.requests_per_day * kind["share"] / 24)):
                number += 1
                requested = hour + timedelta(seconds=r.randrange(3600))
                out.append((f"{city.id[:3].upper()}-H{n}-{number:05d}", kind["name"], requested, requested + timedelta(minutes=r.uniform(1, 30))))
            hour += timedelta(hours=1)
    return out


def lifecycle(city: City, service: Any, ticket_id: str, requested: datetime, r: random.Random, outcome: str | None = None) -> Ticket:
    """One ticket's true life: how long the work really took, and what the API will say."""
    close = timedelta(hours=service.close_hours * math.exp(r.gauss(0, 1.0)))
    pick = r.random()
    if outcome is None:
        outcome = "honest"
        for name in OUTCOMES[1:]:
            share = city.closure.get(name, 0.0)
            if pick < share:
                outcome = name
                break
            pick -= share
    opened = (requested, "open", None)
    events: list[tuple[datetime, str, str | None]] = [opened]
    resolved: datetime | None = requested + close
    vanished = None
    if outcome == "honest":
        events.append((requested + close, "closed", f"Completed: {service.name.lower()} dealt with."))
    elif outcome == "work_order":  # closed at once: only an internal work order exists
        events.append((requested + timedelta(minutes=r.uniform(1, 15)), "closed", f"Work order WO-{r.randrange(10**6):06d} created."))
    elif outcome == "empty_notes":
        events.append((requested + close, "closed", None))
    elif outcome == "duplicate":
        events.append((requested + timedelta(minutes=r.uniform(10, 360)), "closed", "Duplicate of an earlier request."))
        resolved = None
    elif outcome == "referral":
        events.append((requested + timedelta(hours=r.uniform(1, 48)), "closed", f"Referred to {r.choice(REFERRALS)}."))
        resolved = None
    elif outcome == "reopened":
        first = requested + close * 0.3
        again = first + timedelta(hours=r.uniform(6, 72))
        events += [(first, "closed", "Completed."), (again, "open", "Reopened: the problem is still there."),
                   (again + close, "closed", "Completed after a second visit.")]
        resolved = again + close
    elif outcome == "vanish":
        vanished = requested + timedelta(hours=r.uniform(1, 120))
        resolved = None
    elif outcome == "never_updated":
        resolved = None
    lat, lon = city.center
    return Ticket(
        id=ticket_id, service_code=service.code, service_name=service.name, requested=requested, events=events, outcome=outcome,
        resolved=resolved, vanished=vanished, address=f"{r.randrange(1, 4000)} {r.choice(['Main', 'Oak', 'Elm', 'Lake', 'Park'])} St",
        lat=round(lat + r.uniform(-0.1, 0.1), 6), long=round(lon + r.uniform(-0.1, 0.1), 6),
        description=f"{service.name} reported by a resident.",
    )
