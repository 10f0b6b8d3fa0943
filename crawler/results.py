"""What one look at an endpoint comes to: its records to store (EndpointResult), each call's answer as the calls that
follow it read it (Answer), the service list as records, and the record of a call never made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler import __version__, parse
from records import EventRecord, ProbeRecord, ServiceRecord, TicketRecord, iso
from registry import Endpoint


@dataclass
class EndpointResult:
    """What one endpoint's calls in one crawl came to, as records to store."""

    probes: list[ProbeRecord] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    services: list[ServiceRecord] | None = None  # None: no service list came in this crawl
    events: list[EventRecord] = field(default_factory=list)  # the accuracy panel's tickets, as seen
    notes: list[str] = field(default_factory=list)  # for the crawl's log, never stored

    @property
    def bytes(self) -> int:
        """Bytes received, for the crawl's summary line and its budget."""
        return sum(p.bytes for p in self.probes)


@dataclass
class Answer:
    """A call's record, and what its parser read from the answer (for the calls that follow)."""

    record: ProbeRecord
    value: Any  # what the parser returned; None unless the outcome is ok

    @property
    def ok(self) -> bool:
        """Whether the call gave a usable answer."""
        return self.record.outcome == "ok"


def service_records(items: list[dict[str, Any]], endpoint: Endpoint, crawl: str) -> list[ServiceRecord]:
    """The service list as records, one per code: the catalogue stores what changed."""
    def text(value: Any, limit: int) -> str | None:
        return None if parse.blank(value) else str(value).strip()[:limit]

    out = {}
    for item in items:
        code = text(item.get("service_code"), 200)
        if code is not None:
            out[code] = ServiceRecord(crawl=crawl, endpoint=endpoint.id, id=code, name=text(item.get("service_name"), 200),
                                      group=text(item.get("group"), 200), metadata=parse.is_true(item.get("metadata")), listed=True)
    return list(out.values())


def not_sent(endpoint: Endpoint, crawl_time: datetime, outcome: str, error: str) -> EndpointResult:
    """The record of a GET services that was never made (vocabulary.NOT_SENT): the endpoint's status for the crawl is unknown."""
    record = ProbeRecord(
        crawl=iso(crawl_time), endpoint=endpoint.id, method="services", format=endpoint.format, probed_at=iso(crawl_time),
        outcome=outcome, http_status=None, elapsed_ms=None, bytes=0, items=None, error=error, target=None, page=None,
        attempt=1, findings={}, content_type=None, retry_after_s=None, crawler=__version__)
    return EndpointResult(probes=[record], notes=[error])

