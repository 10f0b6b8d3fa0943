"""A city's scenario: what it serves, how its tickets live, how it behaves over time.

One YAML file per city (simulator/scenarios/default/ holds the demo's dozen). Checked against
scenario.schema.json; every problem is reported at once as ``FILE: where: message``. Times in
a scenario are absolute (2026-10-05T02:00:00Z) or relative to the start of the simulated span
("day 5 02:00", UTC), so a scenario stays meaningful whenever the demo runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parent / "scenario.schema.json"
DEFAULT_SERVICES = [
    {"code": "001", "name": "Pothole", "group": "Streets", "share": 0.35, "close_hours": 72,
     "attributes": [{"code": "SIZE", "datatype": "singlevaluelist", "required": True, "description": "How big is it?",
                     "values": {"S": "Smaller than a plate", "L": "Larger than a plate"}}]},
    {"code": "002", "name": "Graffiti", "group": "Sanitation", "share": 0.2, "close_hours": 48},
    {"code": "003", "name": "Streetlight out", "group": "Streets", "share": 0.2, "close_hours": 120},
    {"code": "004", "name": "Missed trash pickup", "group": "Sanitation", "share": 0.15, "close_hours": 24},
    {"code": "005", "name": "Abandoned vehicle", "group": "Parking", "share": 0.1, "close_hours": 168},
]
# A weekday office curve: few reports at night, most in the morning and early evening.
DEFAULT_BY_HOUR = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.3, 1.7, 1.8, 1.7, 1.6, 1.5, 1.5, 1.5, 1.4, 1.4, 1.5, 1.4, 1.2, 1.0, 0.7, 0.5, 0.3]
DEFAULT_BY_WEEKDAY = [1.15, 1.1, 1.05, 1.05, 1.0, 0.8, 0.7]
OUTCOMES = ("honest", "work_order", "empty_notes", "duplicate", "referral", "reopened", "vanish", "never_updated")


class ScenarioError(Exception):
    """A scenario folder with problems: every one of them, one line each, FILE: path: message."""
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Attribute:
    """An attribute of a service's definition."""

    code: str
    datatype: str
    required: bool
    description: str
    values: dict[str, str]
    order: int


@dataclass(frozen=True)
class Service:
    """A service type of a simulated city: its code, name, group, attributes and time to close."""

    code: str
    name: str
    group: str
    share: float
    close_hours: float
    attributes: tuple[Attribute, ...]


@dataclass(frozen=True)
class Window:
    """Some time the city does not answer properly: [start, end), and how it fails."""

    start: datetime
    end: datetime
    kind: str  # unavailable | html | error | refused | timeout

    def holds(self, moment: datetime) -> bool:
        """Whether the window covers a moment."""
        return self.start <= moment < self.end


@dataclass(frozen=True)
class City:
    """A simulated city, as its scenario file describes it."""

    id: str
    name: str
    timezone: str
    platform: str
    seed: int
    host: str | None
    formats: tuple[str, ...]
    jurisdiction_id: str | None
    api_keys: tuple[str, ...]
    services: tuple[Service, ...]
    requests_per_day: float
    by_hour: tuple[float, ...]
    by_weekday: tuple[float, ...]
    closure: dict[str, float]
    quirks: dict[str, Any]
    latency_ms: float
    latency_spread: float
    requests_latency_factor: float
    outages: tuple[dict[str, Any], ...]  # as written; World resolves them against its span
    daily_outage: dict[str, Any] | None
    flapping: dict[str, Any] | None
    rate_limit: dict[str, Any] | None
    dies: str | None
    requests_errors: float
    center: tuple[float, float]
    bad_data: tuple[str, ...] = ()  # moments whose listing answers 500 (as written; World resolves them)
    network_ms: float = 0.0  # the network's delay each way between the crawler and the city (in simulated time)
    maintenance: tuple[dict[str, Any], ...] = ()  # the planned maintenance the city declares: its registry entry's
    country: str = "USA"
    source: str = field(default="")
    open_data: dict[str, Any] | None = None  # see scenario.schema.json


QUIRK_DEFAULTS = {
    "status_case": "lower", "dates": "w3c", "wrapper": "none", "notes": True, "page_size": None, "max_page_size": 500,
    "max_requests": 1000, "paging_ignored": False, "history_days": None, "extra_keys": False, "jurisdiction_required": False, "key_required": False,
    "post_returns": "id", "extensions": False, "updated_after": False, "date_filter": "honoured",
}


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def city(data: dict[str, Any], source: str = "<python>") -> City:
    """A City from the YAML's plain data; raises ScenarioError with every problem."""
    schema = json.loads(SCHEMA.read_text())
    problems = [f"{source}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if problems:
        raise ScenarioError(problems)
    services = []
    for s in data.get("services", DEFAULT_SERVICES):
        attributes = tuple(
            Attribute(code=a["code"], datatype=a["datatype"], required=a.get("required", False), description=a.get("description", a["code"]),
                      values=dict(a.get("values", {})), order=a.get("order", n + 1))
            for n, a in enumerate(s.get("attributes", []))
        )
        services.append(Service(code=str(s["code"]), name=s["name"], group=s.get("group", "General"), share=s.get("share", 1.0),
                                close_hours=s.get("close_hours", 72), attributes=attributes))
    behaviour = data.get("behaviour", {})
    arrivals = data.get("arrivals", {})
    return City(
        id=data["id"], name=data.get("name", data["id"]), timezone=data.get("timezone", "UTC"), platform=data.get("platform", "in-house"),
        seed=data.get("seed", _seed(data["id"])), host=data.get("host"), formats=tuple(data.get("formats", ["json", "xml"])),
        jurisdiction_id=data.get("jurisdiction_id"), api_keys=tuple(data.get("api_keys", ["demo-key"])), services=tuple(services),
        requests_per_day=data.get("requests_per_day", 48), by_hour=tuple(arrivals.get("by_hour", DEFAULT_BY_HOUR)),
        by_weekday=tuple(arrivals.get("by_weekday", DEFAULT_BY_WEEKDAY)), closure=dict(data.get("closure", {})),
        quirks={**QUIRK_DEFAULTS, **data.get("quirks", {})}, latency_ms=behaviour.get("latency_ms", 120),
        latency_spread=behaviour.get("latency_spread", 0.3), requests_latency_factor=behaviour.get("requests_latency_factor", 1.8),
        outages=tuple(behaviour.get("outages", [])), daily_outage=behaviour.get("daily_outage"), flapping=behaviour.get("flapping"),
        rate_limit=behaviour.get("rate_limit"), dies=behaviour.get("dies"), requests_errors=behaviour.get("requests_errors", 0.0),
        center=tuple(data.get("center", [41.88, -87.63])), country=data.get("country", "USA"), source=source,
        open_data=data.get("open_data"), bad_data=tuple(behaviour.get("bad_data", [])), network_ms=behaviour.get("network_ms", 0.0),
        maintenance=tuple(data.get("maintenance", [])),
    )


def load(path: str | Path) -> list[City]:
    """A scenario: one city file, or a folder of them (sorted by file name)."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise ScenarioError([f"{path}: no *.yaml city files"])
    cities, problems = [], []
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{file}: cannot read: {e}")
            continue
        try:
            cities.append(city(data, str(file)))
        except ScenarioError as e:
            problems += e.problems
    seen: dict[str, str] = {}
    for c in cities:
        if c.id in seen:
            problems.append(f"{c.source}: id: {c.id!r} is also the id in {seen[c.id]}")
        seen[c.id] = c.source
    if problems:
        raise ScenarioError(problems)
    return cities


RELATIVE = re.compile(r"day (-?\d+)(?: (\d\d):(\d\d))?")


def moment(text: str, start: datetime) -> datetime:
    """An absolute ISO time, or "day N [HH:MM]" counted from start (day 0 is start's day, day -1 the one before)."""
    match = RELATIVE.fullmatch(text.strip())
    if match:
        day = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=int(match.group(1)))
        return day + timedelta(hours=int(match.group(2) or 0), minutes=int(match.group(3) or 0))
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
