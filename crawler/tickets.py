"""The listed service requests as the records a crawl stores: tickets, and the accuracy panel's events (a fixed draw
of each endpoint's tickets, followed over time)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from crawler.parse import blank, parse_time
from records import EventRecord, TicketRecord
from registry import Endpoint


def to_tickets(items: list[dict[str, Any]], endpoint: Endpoint, crawl: str) -> list[TicketRecord]:
    """The listed service requests that carry an id (Chicago lists some without one)."""
    tz = ZoneInfo(endpoint.timezone)
    out = {}
    for item in items:
        raw_id = item.get("service_request_id")
        if blank(raw_id):
            continue
        status = item.get("status")
        code = item.get("service_code")
        out[str(raw_id)] = TicketRecord(
            crawl=crawl, endpoint=endpoint.id, id=str(raw_id)[:200],
            status=str(status).strip().lower()[:50] if not blank(status) else None,
            service_code=str(code)[:200] if not blank(code) else None,
            requested=parse_time(item.get("requested_datetime"), tz),
            updated=parse_time(item.get("updated_datetime"), tz),
        )
    return list(out.values())


NOTES_MAX_CHARS = 1000


def in_panel(endpoint_id: str, ticket_id: str, rate: float) -> bool:
    """Whether a ticket is in the endpoint's accuracy panel: a fixed draw per ticket, so a ticket
    once followed is always followed, and the panel's size is rate times the tickets."""
    return _draw(endpoint_id, ticket_id) < rate


@lru_cache(maxsize=1 << 16)
def _draw(endpoint_id: str, ticket_id: str) -> float:
    """A ticket's fixed draw in [0, 1), once per ticket: a crawl lists the same tickets again and again."""
    return int.from_bytes(hashlib.sha256(f"{endpoint_id}|{ticket_id}".encode()).digest()[:8], "big") / 2**64


def to_events(items: list[dict[str, Any]], endpoint: Endpoint, crawl: str, via: str) -> list[EventRecord]:
    """The panel's tickets among these items, as observed now."""
    tz = ZoneInfo(endpoint.timezone)
    out = {}
    for item in items:
        raw_id = item.get("service_request_id")
        if blank(raw_id) or not in_panel(endpoint.id, str(raw_id), endpoint.panel_rate):
            continue
        status = item.get("status")
        key = "status_notes" if "status_notes" in item else "status_note" if "status_note" in item else None
        notes = None if key is None else "" if blank(item[key]) else str(item[key])[:NOTES_MAX_CHARS]
        code = item.get("service_code")
        out[str(raw_id)] = EventRecord(
            crawl=crawl, endpoint=endpoint.id, id=str(raw_id)[:200],
            status=str(status).strip().lower()[:50] if not blank(status) else None, notes=notes,
            updated=parse_time(item.get("updated_datetime"), tz), expected=parse_time(item.get("expected_datetime"), tz), via=via,
            requested=parse_time(item.get("requested_datetime"), tz), service_code=None if blank(code) else str(code)[:200],
            work_order=_work_order(item.get("notes")),
        )
    return list(out.values())


def _work_order(history: Any) -> bool | None:
    """From the extensions' notes[] history: whether a follow-on work order was made; None without a history."""
    if not isinstance(history, list):
        return None
    return any(isinstance(n, dict) and str(n.get("type", "")).strip().lower() == "follow_on_created" for n in history)


def gone_event(endpoint: Endpoint, ticket_id: str, crawl: str) -> EventRecord:
    """A panel ticket asked for by id that the endpoint no longer has."""
    return EventRecord(crawl=crawl, endpoint=endpoint.id, id=ticket_id, status=None, notes=None, updated=None, expected=None,
                       via="confirm", gone=True)
