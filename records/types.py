"""One small immutable type per thing we store. Field meanings: data/README.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from records.layout import LAYOUT_VERSION


@dataclass(frozen=True)
class ProbeRecord:
    """One HTTP call to one endpoint."""

    crawl: str  # the crawl's timestamp (UTC, ISO 8601): groups the calls of one crawl
    endpoint: str
    method: str  # services | requests
    format: str  # json | xml
    probed_at: str  # when this call started (UTC, ISO 8601)
    outcome: str  # one of crawler.probe.OUTCOMES
    http_status: int | None
    elapsed_ms: int | None
    bytes: int
    items: int | None  # services or requests parsed; None unless the outcome is ok
    error: str | None
    crawler: str
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TicketRecord:
    """A service request as listed by GET requests, stored when first seen or when it changed."""

    crawl: str
    endpoint: str
    id: str  # service_request_id, as text
    status: str | None  # lower-cased
    service_code: str | None
    requested: str | None  # requested_datetime in UTC, ISO 8601
    updated: str | None  # updated_datetime in UTC, ISO 8601
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # What has to change for the ticket to be stored again.
    STATE: ClassVar[tuple[str, ...]] = ("status", "service_code", "requested", "updated")


@dataclass(frozen=True)
class EndpointRecord:
    """A registry entry as crawled, stored when first crawled or when it changed."""

    crawl: str
    endpoint: str
    name: str
    country: str
    base_url: str
    format: str
    platform: str
    timezone: str
    jurisdiction_id: str | None
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    STATE: ClassVar[tuple[str, ...]] = ("name", "country", "base_url", "format", "platform", "timezone", "jurisdiction_id")
