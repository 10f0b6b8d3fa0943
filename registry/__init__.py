"""Load and validate endpoints.yaml.

Every problem in the file is collected and reported at once, one line each, as
``FILE:LINE: ID: FIELD: message`` so a contributor's pull request shows all its mistakes
in one CI run. The messages are part of the interface: tests assert them exactly.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "endpoints.schema.json"

# What a failed pattern means, in words a contributor can act on.
PATTERN_HINTS = {
    "id": "must be 2-48 lower-case letters, digits or underscores, starting with a letter",
    "country": "must be an ISO 3166-1 alpha-3 code such as USA, DEU or GBR",
    "api_key_env": "must be an environment variable name in capitals, digits and underscores, such as BOSTON_OPEN311_KEY",
    "open_data.columns": "must be a column name of letters, digits and underscores (it goes into the dataset's query)",
    "retired.since": "must be a year, a month or a day, such as 2018, 2018-06 or 2018-06-30",
    "maintainers": "must be a GitHub user name (letters, digits and single hyphens, at most 39), without the @",
    "open_data.resource_id": "must be a DataStore id of letters, digits, hyphens and underscores (it goes into the query)",
    "maintenance.from": "must be a local time HH:MM, such as 01:00",
    "maintenance.to": "must be a local time HH:MM, such as 03:00",
}

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


def load_schema() -> dict[str, Any]:
    """endpoints.schema.json: the one description of an entry, shared with contributors' editors."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


def load_registry(path: str | Path) -> list[Endpoint]:
    """Parse and validate the registry; raise RegistryError listing every problem."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RegistryError([f"{name}: cannot read: {e}"]) from None
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
    problems.extend(_schema_problems(data, lines, name))
    problems.extend(_semantic_problems(data, lines, name))
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


def _ident(entry: Any, index: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
        return str(entry["id"])
    return f"entry {index + 1}"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def did_you_mean(key: str, known: list[str]) -> str:
    """A hint for a misspelt key, such as " (did you mean 'timezone'?)"; empty when nothing is close."""
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _schema_problems(data: list[Any], lines: dict[tuple[Any, ...], int], name: str) -> list[tuple[int, str]]:
    schema = load_schema()
    item_schema = schema["items"]
    known = list(item_schema["properties"])
    validator = jsonschema.Draft202012Validator(schema)
    out: list[tuple[int, str]] = []
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        if not path:
            continue  # the top-level shape was checked before
        index = path[0]
        entry = data[index]
        ident = _ident(entry, index)
        entry_line = lines[(index,)]
        where = f"{name}:{{line}}: {ident}: "
        if len(path) == 1:
            if error.validator == "type":
                out.append((entry_line, where.format(line=entry_line) + f"must be a mapping of keys to values; got {_type_name(entry)}"))
            elif error.validator == "required":
                for field in error.validator_value:
                    if field not in entry:
                        out.append((entry_line, where.format(line=entry_line) + f"missing field '{field}'"))
            elif error.validator == "additionalProperties":
                for key in entry:
                    if key not in item_schema["properties"]:
                        line = lines.get((index, key), entry_line)
                        out.append((line, where.format(line=line) + f"unknown key '{key}'{did_you_mean(key, known)}"))
            else:
                out.append((entry_line, where.format(line=entry_line) + error.message))
            continue
        field = ".".join(map(str, path[1:]))
        line = next((lines[tuple(path[:n])] for n in range(len(path), 1, -1) if tuple(path[:n]) in lines), entry_line)
        if error.validator == "additionalProperties" and isinstance(value := error.instance, dict):
            known_inner = list(error.schema.get("properties", {}))
            for key in value:
                if key not in known_inner:
                    key_line = lines.get((*path, key), line)
                    out.append((key_line, where.format(line=key_line) + f"{field}: unknown key '{key}'{did_you_mean(key, known_inner)}"))
            continue
        if error.validator == "required":
            for missing in error.validator_value:
                if isinstance(error.instance, dict) and missing not in error.instance:
                    out.append((line, where.format(line=line) + f"{field}: missing field '{missing}'"))
            continue
        out.append((line, where.format(line=line) + f"{field}: " + _value_message(error, field)))
    return out


def _value_message(error: jsonschema.ValidationError, field: str) -> str:
    """What is wrong with a value, in words a contributor can act on."""
    value: Any = error.instance
    expected_value: Any = error.validator_value  # what the schema holds it to: a type, a list, a pattern, a bound
    if error.validator == "type":
        expected = "text" if expected_value == "string" else expected_value
        return f"must be {expected}; got {_type_name(value)}"
    if error.validator == "enum":
        return "must be one of " + ", ".join(str(v) for v in expected_value) + f"; got {value!r}"
    if error.validator == "pattern":
        item = field.startswith("open_data.columns.") or field.rsplit(".", 1)[-1].isdigit()  # a list's item: its list's hint
        hint = PATTERN_HINTS.get(field.rsplit(".", 1)[0] if item else re.sub(r"\.\d+\.", ".", field))  # maintenance.0.from
        return f"{hint or 'must match ' + expected_value}; got {value!r}"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "minItems":
        return f"must hold at least {expected_value}; got none (leave the key out instead)"
    if error.validator == "maxItems":
        return f"must hold at most {expected_value}; got {len(value)}"
    if error.validator == "uniqueItems":
        return f"must not name the same one twice; got {value!r}"
    if error.validator == "maxLength":
        return f"must be at most {expected_value} characters"
    if error.validator in ("minimum", "maximum"):
        bound = "at least" if error.validator == "minimum" else "at most"
        return f"must be {bound} {expected_value}; got {value!r}"
    return str(error.message)


def _semantic_problems(data: list[Any], lines: dict[tuple[Any, ...], int], name: str) -> list[tuple[int, str]]:
    """What JSON Schema cannot say: unique ids, usable URLs, real time zones."""
    out: list[tuple[int, str]] = []
    first_id: dict[str, int] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            continue
        ident = _ident(entry, index)

        def report(field: str, msg: str, index: int = index, ident: str = ident) -> None:
            line = lines.get((index, *(int(k) if k.isdigit() else k for k in field.split("."))), lines[(index,)])
            out.append((line, f"{name}:{line}: {ident}: {field}: {msg}"))

        entry_id = entry.get("id")
        if isinstance(entry_id, str) and entry_id:
            if entry_id in first_id:
                report("id", f"duplicate id '{entry_id}' (first at line {first_id[entry_id]})")
            else:
                first_id[entry_id] = lines.get((index, "id"), lines[(index,)])
        url = entry.get("base_url")
        if isinstance(url, str) and url:
            problem = url_problem(url)
            if problem:
                report("base_url", problem)
        discovery = entry.get("discovery_url")
        if isinstance(discovery, str) and discovery:
            problem = url_problem(discovery, document=True)
            if problem:
                report("discovery_url", problem)
        twin = entry.get("open_data")
        if isinstance(twin, dict):
            twin_url = twin.get("url")
            if isinstance(twin_url, str) and twin_url and (problem := url_problem(twin_url, document=True, kind=twin.get("kind"))):
                report("open_data.url", problem)
            if twin.get("kind") == "ckan" and "resource_id" not in twin:
                report("open_data", "kind ckan needs resource_id (the DataStore table)")
        for field in ("api_key_as", "api_key"):
            if field in entry and "api_key_env" not in entry:
                report(field, "needs api_key_env (the environment variable that holds the key)")
        if "api_key_env" in entry and "api_key" not in entry:
            report("api_key_env", "needs api_key: required (it answers nothing without one) or raises_limit")
        for field in ("docs", "retired.successor"):
            head, _, tail = field.partition(".")
            value = entry.get(head, {}).get(tail) if tail and isinstance(entry.get(head), dict) else entry.get(field)
            if isinstance(value, str) and value and (problem := url_problem(value, document=True, kind="page")):
                report(field, problem)
        for n, window in enumerate(entry.get("maintenance") or []):
            if not isinstance(window, dict):
                continue
            days = window.get("days")
            if isinstance(days, str) and days != "daily":
                report(f"maintenance.{n}.days", f"must be daily or a list of weekdays such as [sat, sun]; got {days!r}")
            if isinstance(window.get("from"), str) and window.get("from") == window.get("to"):
                report(f"maintenance.{n}.to", f"is the same time as from ({window['to']}): a window must last")
            source = window.get("source")
            if isinstance(source, str) and source and (problem := url_problem(source, document=True, kind="page")):
                report(f"maintenance.{n}.source", problem)
        if entry.get("pages") is True and "limit" not in entry:
            report("pages", "needs limit (a page of exactly that many is full, and page=2 is asked for)")
        tz = entry.get("timezone")
        if isinstance(tz, str) and tz:
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                report("timezone", f"unknown time zone {tz!r} (use an IANA name such as America/Chicago)")
    return out


def url_problem(url: str, document: bool = False, kind: str | None = None) -> str | None:
    """Why a base URL (or, with document, a discovery document's URL, or with kind an open-data
    twin's URL of that kind, or with kind "page" a web page's) is unusable, or None."""
    if url != url.strip() or any(c.isspace() for c in url):
        return f"not a valid URL (contains white space): {url!r}"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError as e:
        return f"not a valid URL ({e}): {url!r}"
    if parts.scheme not in ("http", "https"):
        return f"scheme must be http or https; got {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return f"not a valid URL (no host): {url!r}"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if (parts.query or parts.fragment) and kind != "page":
        return "must not contain a query or fragment (method paths are appended to it)"
    if kind == "socrata":
        if not re.fullmatch(r"/resource/[a-z0-9]{4}-[a-z0-9]{4}\.json", parts.path):
            return "a Socrata twin's url is its resource, such as https://data.cityofchicago.org/resource/v6vf-nfxy.json"
    elif kind is not None:
        pass  # a CKAN site or a CSV file: any path
    elif document:
        if not parts.path.endswith(("/discovery.json", "/discovery.xml")):
            return "must end with discovery.json or discovery.xml"
    elif not parts.path.endswith("/"):
        return "must end with '/' (method paths such as services.json are appended to it)"
    return None


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

