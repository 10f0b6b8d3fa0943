"""One small immutable type per thing we store. Field meanings: data/README.md."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from records.layout import LAYOUT_VERSION


@dataclass(frozen=True)
class ProbeRecord:
    """One HTTP call to one endpoint."""

    crawl: str  # the crawl's timestamp (UTC, ISO 8601): groups the calls of one crawl
    endpoint: str
    method: str  # discovery | services | service_definition | requests | request
    format: str  # json | xml
    probed_at: str  # when this call started (UTC, ISO 8601)
    outcome: str  # one of vocabulary.OUTCOMES
    http_status: int | None
    elapsed_ms: int | None
    bytes: int
    items: int | None  # services, requests, attributes or discovery endpoints parsed; None unless ok
    error: str | None
    crawler: str
    # Added in crawler 0.2.0; the reader gives older lines these defaults.
    target: str | None = None  # the service_code or service_request_id in the path, if any
    page: int | None = None  # requests only: 1 for the first call (no page parameter sent), then 2, 3
    attempt: int = 1  # 2 when the same call was made again (a retried service list, after a 429)
    findings: dict[str, str] = field(default_factory=dict)  # finding code -> first example (crawler/conformance.py)
    content_type: str | None = None
    retry_after_s: float | None = None  # with a 429
    # Added in crawler 0.7.0 (crawler/stopwatch.py); older lines read back with None.
    rtt_ms: int | None = None  # one round trip: the TCP handshake of the call's connection
    server_ms: int | None = None  # the server's own time: time to the first byte less one round trip
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored, before records/terse.py packs it."""
        return _plain(self)


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
        """The record as stored."""
        return _plain(self)

    # What has to change for the ticket to be stored again.
    STATE: ClassVar[tuple[str, ...]] = ("status", "service_code", "requested", "updated")


@dataclass(frozen=True)
class EventRecord:
    """A ticket of the accuracy panel (a deterministic sample) as observed, stored when it changed."""

    crawl: str
    endpoint: str
    id: str  # service_request_id, as text
    status: str | None  # lower-cased
    notes: str | None  # status_notes (Mark-a-Spot: status_note) as the city wrote them, at most 1000 characters;
    #                    "" when the field is there but empty, None when the API gave no such field
    updated: str | None  # updated_datetime in UTC
    expected: str | None  # expected_datetime in UTC
    via: str  # list | updated | panel | recheck | lookup | confirm | backfill: which call saw it (data/README.md)
    # Added in crawler 0.3.0 (rechecks, disappearances, extensions); the reader gives older lines these defaults.
    requested: str | None = None  # requested_datetime in UTC
    service_code: str | None = None
    work_order: bool | None = None  # extensions: the notes[] history has a follow_on_created entry; None: no history
    gone: bool = False  # asked for by id and not there (GET requests/ID empty or 404): the ticket disappeared
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)

    STATE: ClassVar[tuple[str, ...]] = ("status", "notes", "updated", "expected", "work_order", "gone")


@dataclass(frozen=True)
class TwinDayRecord:
    """One day of an endpoint's open-data twin, counted: the rows requested that (local) day."""

    crawl: str  # when it was fetched
    endpoint: str
    day: str  # the local date the rows were requested on, YYYY-MM-DD
    rows: int
    closed: int | None  # of them, closed when fetched; None: the twin has no closed or status column
    by_service: dict[str, int] | None  # rows per service type; None: no service column
    by_channel: dict[str, int] | None  # rows per channel; None: no channel column
    open311: int | None  # rows that came through Open311 or an app (the registry's open311_channels); None: not known
    columns: list[str]  # what the registry maps: id, requested, closed, status, service, channel, reason, photo
    truncated: bool  # the day had more rows than one fetch reads (twin.MAX_ROWS): counts are a lower bound
    bad_rows: int  # rows left out as malformed (each reported in the fetch's log)
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)


@dataclass(frozen=True)
class TwinRowRecord:
    """A row of the open-data twin for a ticket of the accuracy panel, stored when first seen or changed."""

    crawl: str
    endpoint: str
    id: str
    requested: str | None  # UTC
    closed: str | None  # UTC
    status: str | None  # as the dataset writes it
    service: str | None
    channel: str | None
    reason: str | None  # closure reason or resolution text, at most 500 characters: untrusted
    photo: bool | None  # a closing photo is there; None: no photo column
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)

    STATE: ClassVar[tuple[str, ...]] = ("requested", "closed", "status", "service", "channel", "reason", "photo")


@dataclass(frozen=True)
class AuditRecord:
    """Somebody went and looked: what they saw of a ticket, imported from an audit file."""

    imported: str  # when it was imported (UTC)
    endpoint: str
    id: str  # the ticket's service_request_id
    observed: str  # fixed | not_fixed | partly_fixed | cannot_tell
    date: str  # when they looked, YYYY-MM-DD
    observer: str
    source: str  # the audit file and row, FILE:ROW
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)


@dataclass(frozen=True)
class ServiceRecord:
    """A service type of an endpoint's service list, stored when first listed, changed, or gone."""

    crawl: str
    endpoint: str
    id: str  # service_code, as text
    name: str | None
    group: str | None
    metadata: bool  # the service has a definition (GET services/{code})
    listed: bool  # false: the service list no longer has it
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)

    STATE: ClassVar[tuple[str, ...]] = ("name", "group", "metadata", "listed")


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
    location: list[float] | None = None  # [latitude, longitude]; added in crawler 0.2.0
    retired: dict[str, str] | None = None  # {since, reason, successor?}; added in crawler 0.4.0
    maintenance: list[dict[str, Any]] | None = None  # [{days, from, to, source}]: declared windows; added in crawler 0.7.0
    access: dict[str, Any] | None = None  # {limit, pages, api_key, docs, rate_limit}: what an app needs; added in crawler 0.8.0
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)

    STATE: ClassVar[tuple[str, ...]]  # every registry field it holds: set below, from the fields themselves


EndpointRecord.STATE = tuple(f.name for f in fields(EndpointRecord) if f.name not in ("crawl", "endpoint", "v"))


@dataclass(frozen=True)
class CrawlRecord:
    """One run of the crawler: when it was due, when it ran, what it did."""

    crawl: str  # the actual start, as in every probe of the crawl
    scheduled: str  # the cron slot it was due in (UTC, ISO 8601)
    finished: str
    endpoints: int
    calls: int
    bytes: int
    crawler: str
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)


@dataclass(frozen=True)
class IncidentRecord:
    """What the incidents command did on GitHub for an incident (metrics/incidents.py): one line per issue opened,
    reopened, commented on or closed, so the site can link each outage to its issue."""

    crawl: str  # the latest crawl the run had seen: the one that decided it
    endpoint: str
    incident: str  # endpoint/kind/start: the marker in the issue's body
    kind: str  # down | stale
    start: str
    end: str | None  # when it ended; null while it lasts
    action: str  # opened | reopened | commented | closed
    issue: int  # the issue's number
    url: str  # the issue's page
    title: str
    failure: str | None  # a down incident's failure class as this action said it
    v: int = LAYOUT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return _plain(self)


def _plain(record: Any) -> dict[str, Any]:
    """The record as a dict. Shallow (dataclasses.asdict deep-copies, which costs a crawl of a
    month of simulated tickets more than its parsing); only findings is nested, and it is copied."""
    out = dict(record.__dict__)  # the fields, in their order (no slots): dataclasses.fields() per record cost a crawl 10 %
    if "findings" in out:
        out["findings"] = dict(out["findings"])
    return out


# Each kind of record of data/ and the type of its records (records/read.py checks lines against them).
RECORD_TYPES: dict[str, type] = {"probes": ProbeRecord, "tickets": TicketRecord, "events": EventRecord, "services": ServiceRecord,
                                 "endpoints": EndpointRecord, "crawls": CrawlRecord, "twins": TwinDayRecord, "twin_rows": TwinRowRecord,
                                 "audits": AuditRecord, "incidents": IncidentRecord}
