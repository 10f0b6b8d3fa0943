"""The records Open311 Status stores under data/, and how they are laid out.

Shared by the crawler (which writes them) and the metrics (which read them), so neither
imports the other. The layout, documented in data/README.md:

    data/<kind>/<YYYY>/<YYYY-MM-DD>.jsonl   one JSON object per line, sorted keys

Kinds: ``probes`` (one line per endpoint and crawl, holding its HTTP calls: records/terse.py), ``tickets`` (a
service request when first seen or changed), ``events`` (a ticket of the accuracy panel when it changed),
``services`` (a service type when first listed, changed or gone), ``endpoints`` (a registry entry when first
crawled or changed), ``crawls`` (one line per run of the crawler, with the slot it was scheduled for), ``twins`` (a day of an endpoint's
open-data twin, counted), ``twin_rows`` (the twin's row of an accuracy-panel ticket, when first
seen or changed), ``audits`` (what somebody saw of a ticket on the street), ``incidents`` (what was done
on GitHub for an incident: an issue opened, reopened, commented on or closed).
"""

from records.layout import KINDS, LAYOUT_VERSION, day_path, dumps
from records.types import (
    AuditRecord,
    CrawlRecord,
    EndpointRecord,
    EventRecord,
    IncidentRecord,
    ProbeRecord,
    ServiceRecord,
    TicketRecord,
    TwinDayRecord,
    TwinRowRecord,
)
from vocabulary import iso, parse_moment

__all__ = ["KINDS", "LAYOUT_VERSION", "day_path", "dumps", "iso", "parse_moment", "ProbeRecord", "TicketRecord", "EndpointRecord",
           "CrawlRecord", "ServiceRecord", "EventRecord", "TwinDayRecord", "TwinRowRecord", "AuditRecord", "IncidentRecord"]
