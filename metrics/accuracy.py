"""Does an endpoint tell the truth about its tickets? Figures from the accuracy panel's events.

Each figure is a share with n and a 95 % Wilson interval (metrics/stats.py), "not enough data"
below MIN_N cases, and "not measurable" when the API never gives what the figure needs (a city
that sends no status_notes has no explained-closure share, not a share of 0). The numbering
follows ../shared/ACCURACY.md §5.2; the methodology page explains each one and its limits.

A ticket's history is its events in crawl order. Its closing is the first event seen closed; the
closing time is the updated_datetime then given (the crawl's time when there is none), and the
closing note is the status_notes then given. Every figure counts tickets closed, seen or open
in the WINDOW before now.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from metrics import closure
from metrics.stats import share
from vocabulary import iso, moment, moment_or_none

WINDOW = timedelta(days=90)
FAST_CLOSE = timedelta(minutes=10)  # M5: closed this soon after it was requested
REOPEN_WITHIN = timedelta(days=30)  # M7: open again this soon after closing
RECLOSED_AFTER = timedelta(hours=1)  # M7: closed again with an updated time this much later than the closing
SEEN_AGAIN_AFTER = timedelta(days=7)  # M7: a closing counts once it was looked at again this long after
STALE_AFTER = timedelta(days=30)  # M8: open longer than this (or than the p90 time to close, if longer)
SETTLED = timedelta(days=7)  # M12: a ticket counts once it was first seen this long ago
SAMPLE = 10  # closing notes shown per endpoint, a new draw each week
EXPLAINED_NOT = {"EMPTY", "BOILERPLATE"}
UNCLASSIFIED = {"EMPTY", "BOILERPLATE", "OTHER"}  # a note that says nothing a rule can read
WORK_DONE = {"COMPLETED", "ENFORCEMENT"}
# Time to close, for the histogram: bucket edges and labels.
CLOSE_BUCKETS = [(timedelta(minutes=10), "< 10 min"), (timedelta(hours=1), "10-60 min"), (timedelta(hours=4), "1-4 h"),
                 (timedelta(days=1), "4-24 h"), (timedelta(days=3), "1-3 days"), (timedelta(days=7), "3-7 days"),
                 (timedelta(days=30), "7-30 days"), (timedelta.max, "30 days +")]
# The composite risk score: for each part, the share of the endpoints measuring it that do better, weighted.
# From ../shared/ACCURACY.md §5.2 without the parts not built (re-reports M6, batch closing M10), the
# rest scaled to sum to 1. Higher means more reason to doubt what the API says.
RISK_WEIGHTS = {"fast_close_share": 0.25, "unexplained_share": 0.25, "work_order_share": 0.15, "stale_open_share": 0.15,
                "integrity_share": 0.10, "disappeared_share": 0.10}
RISK_MIN_PARTS = 3  # parts measured for a score at all
# Why a part of the risk cannot be measured: the figure it comes from, and what the API withholds.
WITHHELD = {"explained": "the API publishes no closing notes", "work_order": "the API publishes neither closing notes nor their history",
            "fast_close": "the API gives no requested_datetime", "stale_open": "the API gives no requested_datetime",
            "integrity": "the API gives no requested_datetime"}
RISK_MIN_ENDPOINTS = 3  # endpoints to compare with


@dataclass
class Life:
    """One panel ticket's history as the crawler saw it."""

    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requested(self) -> datetime | None:
        """When the ticket was requested, from the first event that says."""
        return next((moment_or_none(e["requested"]) for e in self.events if e.get("requested")), None)

    def closing(self) -> int | None:
        """The index of the event that closed it (the first closed after an open one), or None."""
        return next((i for i, e in enumerate(self.events) if e["status"] == "closed"), None)

    def closed_at(self, i: int) -> datetime:
        """When that event says it was closed: its updated time, else the crawl that saw it."""
        e = self.events[i]
        return moment_or_none(e["updated"]) or moment(e["crawl"])

    def reopened(self, i: int) -> bool:
        """Seen open again within REOPEN_WITHIN of closing, or closed again with a later updated time
        (a reopening and a second closing between two looks)."""
        start = moment(self.events[i]["crawl"])
        first = moment_or_none(self.events[i]["updated"])
        for e in self.events[i + 1:]:
            if moment(e["crawl"]) - start > REOPEN_WITHIN:
                break
            if e.get("gone"):
                continue
            if e["status"] != "closed":
                return True
            later = moment_or_none(e["updated"])
            if first and later and later - first > RECLOSED_AFTER:
                return True
        return False

    def violations(self) -> list[str]:
        """M11: what no true record can say. Updated before requested, closed with no updated time, or
        an updated time that went backwards."""
        out = []
        requested = self.requested
        last = None
        for e in self.events:
            updated = moment_or_none(e["updated"])
            if requested and updated and updated < requested - timedelta(minutes=1):
                out.append("updated before requested")
            if e["status"] == "closed" and not e["updated"]:
                out.append("closed with no updated time")
            if last and updated and updated < last - timedelta(minutes=1):
                out.append("updated went backwards")
            last = updated or last
        return sorted(set(out))


def lives(events: list[dict[str, Any]]) -> dict[str, dict[str, Life]]:
    """Per endpoint, per ticket id, the events in crawl order."""
    out: dict[str, dict[str, Life]] = {}
    for e in sorted(events, key=lambda e: e["crawl"]):
        out.setdefault(e["endpoint"], {}).setdefault(e["id"], Life()).events.append(e)
    return out


def endpoint_accuracy(tickets: dict[str, Life], now: datetime) -> dict[str, Any]:
    """Every accuracy figure of one endpoint, as plain data."""
    start = now - WINDOW
    available = what_the_api_gives(tickets)
    closed = []  # (life, index of the closing event, closing time, class)
    for life in tickets.values():
        i = life.closing()
        if i is None or moment(life.events[i]["crawl"]) < start:
            continue
        note = life.events[i]["notes"]
        closed.append((life, i, life.closed_at(i), closure.classify(note)))

    explained = [c for c in closed if c[3] not in EXPLAINED_NOT]
    readable = [c for c in closed if c[3] not in UNCLASSIFIED]
    told = [c for c in closed if c[3] not in UNCLASSIFIED or c[0].events[c[1]].get("work_order") is not None]
    # Timed: closings with both times, in order (a closing before its request is a fault, counted in M11).
    timed = [(c, c[0].requested) for c in closed if c[0].requested and c[0].events[c[1]]["updated"] and c[2] >= c[0].requested]
    # What needs a ticket followed over time counts only the tickets the panel met as they came, never those the
    # backfill read from the history (first seen already closed, or long open): their past was not watched.
    followed = {i: life for i, life in tickets.items() if life.events[0].get("via") != "backfill"}
    looked_again = [c for c in closed if c[0].events[0].get("via") != "backfill"
                    and any(moment(e["crawl"]) - moment(c[0].events[c[1]]["crawl"]) >= SEEN_AGAIN_AFTER
                            for e in c[0].events[c[1] + 1:])]
    durations = sorted(at - requested for (_, _, at, _), requested in timed)
    p90 = durations[int(0.9 * (len(durations) - 1))] if durations else timedelta(0)
    open_now, stale, never_updated, stale_after = _open_too_long(followed, start, now, p90)
    recent = [life for life in tickets.values() if start <= moment(life.events[0]["crawl"])]
    settled = [life for life in recent if life.events[0].get("via") != "backfill"
               and now - moment(life.events[0]["crawl"]) >= SETTLED]
    bad = [life for life in recent if life.violations()]

    def work_order(c: tuple[Life, int, datetime, str]) -> bool:
        life, i = c[0], c[1]
        return c[3] == "WORK_ORDER" or any(e.get("work_order") for e in life.events[i:i + 2])

    notes = available["status_notes"]
    return {
        "gives": available,
        "tickets_seen": len(recent),
        "closed_n": len(closed),
        "closed_from_history": sum(c[0].events[0].get("via") == "backfill" for c in closed),  # the rest followed as they came
        "followed_n": len(followed),
        "explained": share(len(explained), len(closed), notes),  # M1
        "work_done": share(sum(c[3] in WORK_DONE for c in readable), len(readable), notes),  # M2
        "classes": dict(Counter(c[3] for c in closed)) if notes else {},  # M3
        "classes_by_month": _by_month(closed) if notes else [],
        "work_order": share(sum(map(work_order, told)), len(told), notes or available["notes_history"]),  # M4
        "fast_close": share(sum(at - req < FAST_CLOSE for (_, _, at, _), req in timed), len(timed), available["requested_datetime"]),  # M5
        "reopen": share(sum(c[0].reopened(c[1]) for c in looked_again), len(looked_again)),  # M7
        "stale_open": share(len(stale), len(open_now), available["requested_datetime"]),  # M8
        "stale_after_days": round(stale_after / timedelta(days=1), 1),
        "never_updated": len(never_updated),
        "integrity": share(len(bad), len(recent), available["requested_datetime"]),  # M11
        "integrity_kinds": dict(Counter(v for life in bad for v in life.violations())),
        # M12: gone at the latest look; one that came back was missing for a while, not gone.
        "disappeared": share(sum(bool(life.events[-1].get("gone")) for life in settled), len(settled)),
        "time_to_close": _histogram(durations),
        "sample": _sample(closed, now) if notes else [],
    }


def what_the_api_gives(tickets: dict[str, Life]) -> dict[str, bool]:
    """The fields an endpoint's panel ever saw filled in: a figure that needs one the API never gives is
    not measurable, rather than zero."""
    every = [e for life in tickets.values() for e in life.events]
    return {
        "status_notes": any(e["notes"] is not None for e in every),
        "notes_history": any(e.get("work_order") is not None for e in every),
        "expected_datetime": any(e["expected"] for e in every),
        "requested_datetime": any(e.get("requested") for e in every),
    }


def _open_too_long(tickets: dict[str, Life], start: datetime, now: datetime, p90: timedelta
                   ) -> tuple[list[Life], list[Life], list[Life], timedelta]:
    """The tickets of the window open now, those open longer than the endpoint's own 90th percentile of time
    to close (at least STALE_AFTER), those of them never updated, and that bound."""
    open_now = [life for life in tickets.values() if life.events[-1]["status"] != "closed" and not life.events[-1].get("gone")
                and life.requested and life.requested >= start]
    stale_after = max(STALE_AFTER, p90)
    stale = [life for life in open_now if (since := life.requested) and now - since > stale_after]
    never_updated = [life for life in stale if all(e["updated"] in (None, life.events[0].get("requested")) for e in life.events)]
    return open_now, stale, never_updated, stale_after


def _by_month(closed: list[tuple[Life, int, datetime, str]]) -> list[dict[str, Any]]:
    months: dict[str, Counter[str]] = {}
    for _, _, at, cls in closed:
        months.setdefault(at.strftime("%Y-%m"), Counter())[cls] += 1
    return [{"month": m, "classes": dict(months[m])} for m in sorted(months)]


def _histogram(durations: list[timedelta]) -> list[dict[str, Any]]:
    counts = Counter(next(label for edge, label in CLOSE_BUCKETS if d < edge) for d in durations)
    return [{"bucket": label, "closed": counts.get(label, 0)} for _, label in CLOSE_BUCKETS]


def _sample(closed: list[tuple[Life, int, datetime, str]], now: datetime) -> list[dict[str, Any]]:
    """SAMPLE closing notes of the last 30 days, redacted: a fresh draw each ISO week, so the notes shown
    rotate and padding a few to look good does not pay."""
    week = "%d-%02d" % now.isocalendar()[:2]
    recent = [c for c in closed if now - c[2] <= timedelta(days=30) and c[3] != "EMPTY"]
    recent.sort(key=lambda c: hashlib.sha256(f"{week}|{c[0].events[0]['id']}".encode()).digest())
    return [{"id": c[0].events[0]["id"], "closed": c[2].strftime("%Y-%m-%d"), "class": c[3],
             "note": closure.redact(closure.plain(c[0].events[c[1]]["notes"]))[:300]}
            for c in sorted(recent[:SAMPLE], key=lambda c: c[2], reverse=True)]


def risk(figures: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    """The composite risk score per endpoint, 0..100: for each part, the share of the other endpoints with
    that part that do better (a lower value: ties do not count against it), weighted by RISK_WEIGHTS
    (scaled to the parts it has). None when a weighted part is not measurable (risk_withheld says why), when it has
    fewer than RISK_MIN_PARTS parts, or when fewer than RISK_MIN_ENDPOINTS endpoints have a part."""
    parts = {endpoint: risk_parts(f) for endpoint, f in figures.items()}
    out: dict[str, int | None] = {}
    for endpoint, mine in parts.items():
        if risk_withheld(figures[endpoint]):
            out[endpoint] = None  # hiding the evidence must never look like the best record
            continue
        total = weight = 0.0
        counted = 0
        for name, value in mine.items():
            others = [v for e, p in parts.items() if e != endpoint and (v := p[name]) is not None]
            if value is None or len(others) + 1 < RISK_MIN_ENDPOINTS:
                continue
            rank = sum(v < value for v in others) / len(others)  # the share of the others that do better
            total += RISK_WEIGHTS[name] * rank
            weight += RISK_WEIGHTS[name]
            counted += 1
        out[endpoint] = round(100 * total / weight) if counted >= RISK_MIN_PARTS else None
    return out


def risk_withheld(f: dict[str, Any]) -> str | None:
    """Why the risk cannot be scored, when a weighted part of it is not measurable because the API withholds
    what it needs: without the part, an endpoint that hides the evidence would score better than one that shows it."""
    reasons = [WITHHELD[name] for name in WITHHELD if f[name]["reason"] == "not measurable"]
    return "; ".join(dict.fromkeys(reasons)) or None


def risk_parts(f: dict[str, Any]) -> dict[str, float | None]:
    """The parts of the risk score from one endpoint's figures (None where not measured), so the score can be shown
    beside them."""
    explained = f["explained"]["value"]
    return {
        "fast_close_share": f["fast_close"]["value"],
        "unexplained_share": None if explained is None else round(1 - explained, 4),
        "work_order_share": f["work_order"]["value"],
        "stale_open_share": f["stale_open"]["value"],
        "integrity_share": f["integrity"]["value"],
        "disappeared_share": f["disappeared"]["value"],
    }


def accuracy(events: list[dict[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
    """Per endpoint, its accuracy figures with the composite risk score beside its parts."""
    stamp = iso(now)
    figures = {endpoint: endpoint_accuracy(tickets, now)
               for endpoint, tickets in lives([e for e in events if e["crawl"] <= stamp]).items()}
    scores = risk(figures)
    for endpoint, f in figures.items():
        f["risk"] = scores[endpoint]
        f["risk_withheld"] = risk_withheld(f)
        f["risk_parts"] = risk_parts(f)
    return figures


def api_entry(f: dict[str, Any] | None) -> dict[str, Any]:
    """The "accuracy" entry of api/endpoints.json."""
    if f is None:
        return {"closed_n": 0, "explained_share": None, "fast_close_share": None, "work_order_share": None, "reopen_share": None,
                "stale_open_share": None, "closure_classes": {}, "risk": None, "risk_withheld": None}
    return {"closed_n": f["closed_n"], "explained_share": f["explained"]["value"], "fast_close_share": f["fast_close"]["value"],
            "work_order_share": f["work_order"]["value"], "reopen_share": f["reopen"]["value"],
            "stale_open_share": f["stale_open"]["value"], "closure_classes": dict(sorted(f["classes"].items())), "risk": f["risk"],
            "risk_withheld": f["risk_withheld"]}
