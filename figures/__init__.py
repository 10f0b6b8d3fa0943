"""The figures the site shows, as one typed and frozen value: metrics.summarize computes a SiteFigures, render presents
it and computes nothing, and build.py --json prints it (as_json). api/endpoints.json holds each EndpointSummary and
api/<id>.json each EndpointFigures, as as_json gives them: their fields are the API's contract (data/README.md).

A field's nested figures (an uptime per window, a day of the status bar) are JSON-shaped dicts and lists, as the API
publishes them; the fields themselves are typed, so a name misspelt in metrics or render fails the type checker.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

Json = Any  # a JSON-shaped figure: dicts, lists, strings, numbers, booleans and None
Share = dict[str, float] | None  # quantiles in ms ({"p50", "p95"}), None without a call to measure


@dataclass(frozen=True)
class EndpointSummary:
    """One endpoint's entry of api/endpoints.json and the league tables: who it is, and its headline figures."""

    id: str
    name: str
    country: str | None
    platform: str | None
    base_url: str | None
    status: str  # vocabulary.STATUSES
    last_checked: str | None
    uptime: dict[str, float | None]  # per window (24h, 7d, 30d, 90d): the share of known crawls not down
    uptime_coverage: dict[str, Json]
    latency_ms: Share  # GET services, the whole call
    server_ms: Share  # the server's own time
    rtt_ms: Share  # one round trip
    service_count: int | None
    requests_per_day: float | None
    coverage: dict[str, str | None]
    needs_key: bool
    retired: dict[str, str | None] | None
    conformance: float | None
    stale: bool | None
    accuracy: dict[str, Json] | None
    twin: dict[str, Json] | None
    build_on: dict[str, Json]


@dataclass(frozen=True)
class EndpointFigures(EndpointSummary):
    """Everything one endpoint's page and api/<id>.json show: its summary and the detail behind it."""

    format: str | None
    timezone: str | None
    jurisdiction_id: str | None
    location: Json
    checked_ago_s: int | None
    status_days: list[dict[str, Json]]
    crawl_counts: dict[str, dict[str, int]]
    latency_by_method: dict[str, dict[str, Share]]
    latency_daily: list[dict[str, Json]]
    comprehensiveness: dict[str, Json] | None
    by_service: list[dict[str, Json]]
    weekday_pattern: list[dict[str, Json]]
    windows: dict[str, Json]
    outages: list[dict[str, Json]]
    daily_requests: list[dict[str, Json]]
    failures: list[dict[str, Json]]
    maintenance: list[dict[str, Json]] | None
    regular_hours: dict[str, Json] | None
    incidents: list[dict[str, Json]]
    conformance_detail: dict[str, Json] | None
    freshness: dict[str, Json] | None
    catalogue: list[dict[str, Json]]
    accuracy_detail: dict[str, Json] | None
    twin_detail: dict[str, Json] | None
    audits: Json
    compare: dict[str, float | None]  # metrics.compare.percentiles
    peers: dict[str, dict[str, Json]] | None  # metrics.compare.peers; None for a retired endpoint, compared with nobody


@dataclass(frozen=True)
class SiteFigures:
    """Everything the site shows, every window ending at generated_at."""

    generated_at: str
    endpoints: list[EndpointSummary]  # by name
    details: dict[str, EndpointFigures]  # by id
    platforms: list[dict[str, Json]]
    state: dict[str, Json]  # the state of Open311 at the top of the index
    peer_values: dict[str, list[float]]
    uptime_ranks: dict[str, tuple[int, int]]  # id → (rank by 30-day uptime, of how many): the social images
    closure: dict[str, Json]  # the closing-note classifier's scores: the methodology page
    risk_weights: dict[str, float]  # the accuracy risk's weights: the methodology page
    history: dict[str, str | None]  # the first and the last crawl
    crawls: dict[str, dict[str, Json]]  # the crawls made of those scheduled, per window

    def watched(self) -> list[EndpointSummary]:
        """The endpoints in the league (in_league)."""
        return in_league(self.endpoints)


def in_league(endpoints: list[EndpointSummary]) -> list[EndpointSummary]:
    """The endpoints in the league tables and comparisons: every one not retired."""
    return [e for e in endpoints if not e.retired]


def fields_of(value: Any) -> dict[str, Any]:
    """A dataclass's fields by name, their values as they are (not copied): for a value made from another's."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def as_json(value: Any) -> Any:
    """The value as JSON-shaped data: each dataclass a dict of its fields, recursively; the rest as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    return value
