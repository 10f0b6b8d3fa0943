"""Load and validate endpoints.yaml.

Every problem in the file is collected and reported at once, one line each, as
``FILE:LINE: ID: FIELD: message`` so a contributor's pull request shows all its mistakes
in one CI run. The messages are part of the interface: tests assert them exactly.
"""

from __future__ import annotations

import difflib
import json
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
}

# Platforms documented at 10 requests a minute (Connected Bits' API addendum: Boston, SF, Austin).
SLOW_PLATFORMS = {"Connected Bits": 6.0}
DEFAULT_MIN_INTERVAL_S = 1.0


class RegistryError(Exception):
    """The registry file has problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Endpoint:
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

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ()}

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def interval(self) -> float:
        """Seconds between two calls to this endpoint's host."""
        if self.min_interval_s is not None:
            return float(self.min_interval_s)
        return SLOW_PLATFORMS.get(self.platform, DEFAULT_MIN_INTERVAL_S)


def load_schema() -> dict[str, Any]:
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
        line = (e.problem_mark or e.context_mark).line + 1 if (e.problem_mark or e.context_mark) else 1
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
    tuples = ("location", "supports")
    return [Endpoint(**{k: tuple(v) if k in tuples else v for k, v in entry.items()}) for entry in data]


def _to_python(root: yaml.SequenceNode, name: str, problems: list[tuple[int, str]]):
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
        data.append(entry)
    return data, lines


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


def _schema_problems(data: list[Any], lines: dict, name: str) -> list[tuple[int, str]]:
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
                        close = difflib.get_close_matches(key, known, n=1)
                        hint = f" (did you mean '{close[0]}'?)" if close else ""
                        out.append((line, where.format(line=line) + f"unknown key '{key}'{hint}"))
            else:
                out.append((entry_line, where.format(line=entry_line) + error.message))
            continue
        field = str(path[1])
        line = lines.get((index, field), entry_line)
        value = error.instance
        prefix = where.format(line=line) + f"{field}: "
        if error.validator == "type":
            expected = "text" if error.validator_value == "string" else error.validator_value
            msg = f"must be {expected}; got {_type_name(value)}"
        elif error.validator == "enum":
            msg = "must be one of " + ", ".join(str(v) for v in error.validator_value) + f"; got {value!r}"
        elif error.validator == "pattern":
            msg = f"{PATTERN_HINTS.get(field, 'must match ' + error.validator_value)}; got {value!r}"
        elif error.validator == "minLength":
            msg = "must not be empty"
        elif error.validator == "maxLength":
            msg = f"must be at most {error.validator_value} characters"
        elif error.validator in ("minimum", "maximum"):
            bound = "at least" if error.validator == "minimum" else "at most"
            msg = f"must be {bound} {error.validator_value}; got {value!r}"
        else:
            msg = error.message
        out.append((line, prefix + msg))
    return out


def _semantic_problems(data: list[Any], lines: dict, name: str) -> list[tuple[int, str]]:
    """What JSON Schema cannot say: unique ids, usable URLs, real time zones."""
    out: list[tuple[int, str]] = []
    first_id: dict[str, int] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            continue
        ident = _ident(entry, index)

        def report(field: str, msg: str) -> None:
            line = lines.get((index, field), lines[(index,)])
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
        if "api_key_as" in entry and "api_key_env" not in entry:
            report("api_key_as", "needs api_key_env (the environment variable that holds the key)")
        tz = entry.get("timezone")
        if isinstance(tz, str) and tz:
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                report("timezone", f"unknown time zone {tz!r} (use an IANA name such as America/Chicago)")
    return out


def url_problem(url: str, document: bool = False) -> str | None:
    """Why a base URL (or, with document, a discovery document's URL) is unusable, or None."""
    if url != url.strip() or any(c.isspace() for c in url):
        return f"not a valid URL (contains white space): {url!r}"
    try:
        parts = urlsplit(url)
        parts.port  # raises on a bad port
    except ValueError as e:
        return f"not a valid URL ({e}): {url!r}"
    if parts.scheme not in ("http", "https"):
        return f"scheme must be http or https; got {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return f"not a valid URL (no host): {url!r}"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if parts.query or parts.fragment:
        return "must not contain a query or fragment (method paths are appended to it)"
    if document:
        if not parts.path.endswith(("/discovery.json", "/discovery.xml")):
            return "must end with discovery.json or discovery.xml"
    elif not parts.path.endswith("/"):
        return "must end with '/' (method paths such as services.json are appended to it)"
    return None


def main(argv: list[str] | None = None) -> int:
    """python -m crawler.registry [FILE]: validate a registry; exit 2 listing every problem."""
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "endpoints.yaml"
    try:
        endpoints = load_registry(path)
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        print(f"{path}: {len(e.problems)} problem(s); nothing was crawled or written", file=sys.stderr)
        return 2
    print(f"{path}: {len(endpoints)} endpoints, all valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
