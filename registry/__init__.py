"""Load and validate endpoints.yaml.

Every problem in the file is collected and reported at once, one line each, as
``FILE:LINE: ID: FIELD: message`` so a contributor's pull request shows all its mistakes
in one CI run. The messages are part of the interface: tests assert them exactly.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from registry.checks import schema_problems, semantic_problems
from registry.checks import url_problem as url_problem

# Platforms documented at 10 requests a minute (Connected Bits' API addendum: Boston, SF, Austin).
SLOW_PLATFORMS = {"Connected Bits": 6.0}
PLATFORM_RATE_LIMITS = {"Connected Bits": 10}  # requests a minute, as the platform documents them
DEFAULT_MIN_INTERVAL_S = 1.0


class RegistryError(Exception):
    """The registry file has problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class OpenData:
    """Where an endpoint's open-data twin is, and which of its columns hold what (endpoints.schema.json)."""

    kind: str  # socrata | ckan | csv
    url: str
    columns: dict[str, str]  # id, requested, and optionally closed, status, service, channel, reason, photo
    resource_id: str | None = None
    open311_channels: tuple[str, ...] = ()
    closed_statuses: tuple[str, ...] = ("closed", "completed", "resolved", "canceled", "cancelled")

    def to_dict(self) -> dict[str, Any]:
        """The block as it stands in endpoints.yaml, without what was left to its default."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items() if v is not None and v != ()}


@dataclass(frozen=True)
class Retired:
    """An endpoint believed dead, replaced, or not a city: checked once a day, listed apart (endpoints.schema.json)."""

    since: str  # YYYY, YYYY-MM or YYYY-MM-DD
    reason: str
    successor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The block as it stands in endpoints.yaml, and as the endpoint record stores it."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Maintenance:
    """A planned maintenance window that recurs in the endpoint's time zone (endpoints.schema.json)."""

    days: str | tuple[str, ...]  # daily, or the weekdays it starts on
    start: str  # HH:MM ("from" in endpoints.yaml)
    end: str  # HH:MM ("to"); earlier than start when it crosses midnight
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The window as it stands in endpoints.yaml, and as the endpoint record stores it."""
        return {"days": self.days if isinstance(self.days, str) else list(self.days), "from": self.start, "to": self.end,
                "source": self.source}


@dataclass(frozen=True)
class Endpoint:
    """One entry of endpoints.yaml, checked: what the crawler, the check and the twins need of it."""

    id: str
    name: str
    country: str
    base_url: str
    format: str
    platform: str
    timezone: str
    notes: str
    source: str
    jurisdiction_id: str | None = None
    discovery_url: str | None = None
    min_interval_s: float | None = None  # None: the platform's default (see interval)
    api_key_env: str | None = None
    api_key_as: str | None = None  # param | bearer; None means param
    location: tuple[float, float] | None = None  # latitude, longitude: for the map
    panel_rate: float = 1.0  # share of tickets followed for the accuracy figures
    supports: tuple[str, ...] = ()  # extensions | updated_after: optional parts of GeoReport it implements
    maintainers: tuple[str, ...] = ()  # GitHub accounts its incident issues mention
    open_data: OpenData | None = None  # the city's own 311 dataset
    api_key: str | None = None  # required | raises_limit (with api_key_env)
    docs: str | None = None
    limit: int | None = None  # the most requests one answer holds: a full page, or the cap
    pages: bool | None = None  # whether page=N is honoured; None: not known
    history_days: int | None = None  # how far back it lists requests, when documented shorter than the spec's 90 days
    rate_limit: int | None = None  # requests a minute its documentation allows; None: the platform's, if documented
    maintenance: tuple[Maintenance, ...] = ()  # declared planned maintenance: down inside it is maintenance
    retired: Retired | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as it stands in endpoints.yaml, without what was left to its default."""
        out = {k: v for k, v in self.__dict__.items() if v is not None and v != ()}
        for key in ("open_data", "retired"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key).to_dict()
        if self.maintenance:
            out["maintenance"] = [m.to_dict() for m in self.maintenance]
        return out

    @property
    def needs_key(self) -> bool:
        """Whether the endpoint answers nothing without its key."""
        return self.api_key == "required"

    def access(self) -> dict[str, Any]:
        """What an app developer needs to know of reaching it, as the registry says it (the endpoint record keeps it):
        page size, paging, key, documentation and the documented rate limit ({per_minute, source}: the entry's own, or
        the platform's documented one)."""
        documented = self.rate_limit or PLATFORM_RATE_LIMITS.get(self.platform)
        source = "registry" if self.rate_limit else "platform"
        return {"limit": self.limit, "pages": self.pages, "api_key": self.api_key, "docs": self.docs,
                "rate_limit": {"per_minute": documented, "source": source} if documented else None}

    @property
    def host(self) -> str:
        """The host its calls go to: endpoints on one host share one worker and one pace."""
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def interval(self) -> float:
        """Seconds between two calls to this endpoint's host."""
        if self.min_interval_s is not None:
            return float(self.min_interval_s)
        return SLOW_PLATFORMS.get(self.platform, DEFAULT_MIN_INTERVAL_S)


def load_registry(path: str | Path) -> list[Endpoint]:
    """Parse and validate the registry; raise RegistryError listing every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RegistryError([f"{name}: cannot read: {e}"]) from None
    return parse_registry(text, name)


def parse_registry(text: str, name: str) -> list[Endpoint]:
    """Registry entries given as YAML text, named `name` in every problem (a file's path, or what the text is); raise
    RegistryError listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise RegistryError([f"{name}:{line}: YAML syntax error: {e.problem or e.context}"]) from None
    except yaml.YAMLError as e:
        raise RegistryError([f"{name}: YAML error: {e}"]) from None
    if root is None:
        raise RegistryError([f"{name}:1: the file is empty; expected a list of endpoints"])
    if not isinstance(root, yaml.SequenceNode):
        raise RegistryError([f"{name}:{root.start_mark.line + 1}: expected a list of endpoints at the top level"])

    problems: list[tuple[int, str]] = []
    data, lines = _to_python(root, name, problems)
    problems.extend(schema_problems(data, lines, name))
    problems.extend(semantic_problems(data, lines, name))
    if problems:
        # Sorted by line, then text, so the report reads top to bottom like the file.
        ordered = sorted(set(problems), key=lambda p: (p[0], p[1]))
        raise RegistryError([msg for _, msg in ordered])
    return [_endpoint(entry) for entry in data]


def _endpoint(entry: dict[str, Any]) -> Endpoint:
    tuples = ("location", "supports", "maintainers")
    values: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in entry.items()}
    if "open_data" in values:
        values["open_data"] = _open_data(values["open_data"])
    if "retired" in values:
        values["retired"] = Retired(**values["retired"])
    if "maintenance" in values:
        values["maintenance"] = tuple(Maintenance(m["days"] if isinstance(m["days"], str) else tuple(m["days"]), m["from"], m["to"],
                                                  m["source"]) for m in values["maintenance"])
    return Endpoint(**values)


def _open_data(block: dict[str, Any]) -> OpenData:
    lists = ("open311_channels", "closed_statuses")
    values: dict[str, Any] = {k: tuple(v) if k in lists else v for k, v in block.items()}
    return OpenData(**values)


def _to_python(root: yaml.SequenceNode, name: str, problems: list[tuple[int, str]]
               ) -> tuple[list[Any], dict[tuple[Any, ...], int]]:
    """Construct plain data and a map from (index, key) to the 1-based line it is on."""
    data: list[Any] = []
    lines: dict[tuple[Any, ...], int] = {}
    constructor = yaml.SafeLoader("")
    for index, node in enumerate(root.value):
        lines[(index,)] = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            data.append(constructor.construct_object(node, deep=True))
            continue
        entry: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                problems.append((line, f"{name}:{line}: entry {index + 1}: keys must be text; got {key!r}"))
                continue
            if key in first_seen:
                ident = _ident_of_node(node, index)
                problems.append((line, f"{name}:{line}: {ident}: {key}: duplicate key (first at line {first_seen[key]})"))
                continue
            first_seen[key] = line
            entry[key] = constructor.construct_object(value_node, deep=True)
            lines[(index, key)] = line
            _nested_lines(value_node, (index, key), lines)
        data.append(entry)
    return data, lines


def _nested_lines(node: yaml.Node, where: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """The line of every key inside a mapping value (open_data.columns.id), and of every mapping in a list
    (maintenance.0, maintenance.0.from), for the messages."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            inner = (*where, getattr(key_node, "value", None))
            lines[inner] = key_node.start_mark.line + 1
            _nested_lines(value_node, inner, lines)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            if isinstance(item, yaml.MappingNode):
                lines[(*where, n)] = item.start_mark.line + 1
                _nested_lines(item, (*where, n), lines)


def _ident_of_node(node: yaml.MappingNode, index: int) -> str:
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) == "id" and isinstance(value_node, yaml.ScalarNode) and value_node.value:
            return str(value_node.value)
    return f"entry {index + 1}"


def main(argv: list[str] | None = None) -> int:
    """open311-status validate [FILE] (python -m crawler.registry [FILE]): validate a registry; exit 2 listing every problem."""
    p = argparse.ArgumentParser(prog="open311-status validate", description="Check the registry: every problem, one line each, "
                                "with its line number and the entry's id.")
    p.add_argument("file", nargs="?", default="endpoints.yaml", metavar="FILE", help="the registry (default: endpoints.yaml)")
    path = p.parse_args(argv).file
    try:
        endpoints = load_registry(path)
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        print(f"{path}: {len(e.problems)} problem(s); nothing was crawled or written", file=sys.stderr)
        return 2
    print(f"{path}: {len(endpoints)} endpoints, all valid")
    return 0

