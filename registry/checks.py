"""The registry's problems, each said on its own line with the file, the line and the entry: what its JSON Schema
(endpoints.schema.json) says, in words a contributor can act on, and what a schema cannot say (unique ids, usable
URLs, real time zones)."""

from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

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


def load_schema() -> dict[str, Any]:
    """endpoints.schema.json: the one description of an entry, shared with contributors' editors."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


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


def schema_problems(data: list[Any], lines: dict[tuple[Any, ...], int], name: str) -> list[tuple[int, str]]:
    """What endpoints.schema.json says is wrong with each entry: a missing or unknown key (with a guess at the one
    meant), a value of the wrong kind, one outside its pattern or bounds."""
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


Report = Callable[[str, str], None]  # (field, message): one problem of the entry being checked


def semantic_problems(data: list[Any], lines: dict[tuple[Any, ...], int], name: str) -> list[tuple[int, str]]:
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
        _url_problems(entry, report)
        _key_problems(entry, report)
        _maintenance_problems(entry.get("maintenance") or [], report)
        if entry.get("pages") is True and "limit" not in entry:
            report("pages", "needs limit (a page of exactly that many is full, and page=2 is asked for)")
        tz = entry.get("timezone")
        if isinstance(tz, str) and tz:
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                report("timezone", f"unknown time zone {tz!r} (use an IANA name such as America/Chicago)")
    return out


def _url_problems(entry: dict[str, Any], report: Report) -> None:
    """Every URL of an entry, each held to what it is for (url_problem)."""
    url = entry.get("base_url")
    if isinstance(url, str) and url and (problem := url_problem(url)):
        report("base_url", problem)
    discovery = entry.get("discovery_url")
    if isinstance(discovery, str) and discovery and (problem := url_problem(discovery, document=True)):
        report("discovery_url", problem)
    twin = entry.get("open_data")
    if isinstance(twin, dict):
        twin_url = twin.get("url")
        if isinstance(twin_url, str) and twin_url and (problem := url_problem(twin_url, document=True, kind=twin.get("kind"))):
            report("open_data.url", problem)
        if twin.get("kind") == "ckan" and "resource_id" not in twin:
            report("open_data", "kind ckan needs resource_id (the DataStore table)")
    for field in ("docs", "retired.successor"):
        head, _, tail = field.partition(".")
        value = entry.get(head, {}).get(tail) if tail and isinstance(entry.get(head), dict) else entry.get(field)
        if isinstance(value, str) and value and (problem := url_problem(value, document=True, kind="page")):
            report(field, problem)


def _key_problems(entry: dict[str, Any], report: Report) -> None:
    """An API key's settings, which only make sense together."""
    for field in ("api_key_as", "api_key"):
        if field in entry and "api_key_env" not in entry:
            report(field, "needs api_key_env (the environment variable that holds the key)")
    if "api_key_env" in entry and "api_key" not in entry:
        report("api_key_env", "needs api_key: required (it answers nothing without one) or raises_limit")


def _maintenance_problems(windows: list[Any], report: Report) -> None:
    """Each declared maintenance window: its days, a length, a source that is a page."""
    for n, window in enumerate(windows):
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
