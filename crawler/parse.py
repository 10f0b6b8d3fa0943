"""Read GeoReport v2 answers (discovery, services, a service definition, requests) in JSON or XML.

Tolerant: whatever a real server does that can still be understood is read, and noted as a
conformance finding (crawler/conformance.py) rather than failed. Only three things fail:
NotOpen311 (an HTML page, an empty body), ParseError (not well-formed), SchemaError
(well-formed, but not the answer the method gives). Every XML byte goes through defusedxml,
which refuses entity declarations instead of expanding them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from crawler.conformance import Findings
from records import iso

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# Elements that repeat inside a container: one of them alone still makes a list (the Spark convention).
ITEM_TAGS = {"service", "request", "error", "attribute", "value", "endpoint", "format", "note", "locale"}
JSON_WRAPPERS = ("services", "service_requests", "requests", "request", "service")
ERROR_KEYS = ("error", "errors", "message", "msg", "faultstring", "detail")
MAX_DEPTH = 3  # of JSON wrappers unwrapped

SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_KEYS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description", "agency_responsible",
    "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
    "lat", "long", "media_url", "token",
}
SERVICE_TYPES = {"realtime", "batch", "blackbox"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
TIME_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")
TEXT_FIELDS = ("description", "status_notes", "status_note")
W3C_LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?")
W3C = re.compile(W3C_LOCAL.pattern + r"(Z|[+-]\d\d:\d\d)")
FRACTION = re.compile(r"(\.\d{1,6})\d*")
HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?\s*>")


class NotOpen311(Exception):
    """The body is something else altogether (an HTML page, an empty body)."""


class ParseError(Exception):
    """The body is not well-formed JSON or XML."""


class SchemaError(Exception):
    """Well-formed, but not the answer the method gives (an error list, no ids)."""


# -- the document ---------------------------------------------------------------------------

def load(body: bytes, fmt: str, findings: Findings, content_type: str | None = None) -> Any:
    """The document as plain data: JSON as it is, XML converted the way the spec maps it to JSON."""
    text = body
    if text.startswith(b"\xef\xbb\xbf"):
        findings.add("bom", "EF BB BF")
        text = text[3:]
    stripped = text.lstrip()
    if not stripped:
        raise NotOpen311("empty body")
    if len(stripped) != len(text):
        findings.add("leading_whitespace", repr(text[: len(text) - len(stripped)][:20].decode("latin-1")))
    head = stripped[:300].lower()
    if head.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and b"<body" in stripped[:2000].lower()):
        raise NotOpen311("an HTML page, not an Open311 answer")
    actual = "xml" if stripped.startswith(b"<") else "json"
    if actual != fmt:
        findings.add("content_type", f"asked for {fmt}, the body is {actual}")
    elif content_type and not _type_matches(content_type, fmt):
        findings.add("content_type", content_type)
    return _json(stripped) if actual == "json" else _xml(stripped, findings)


def _type_matches(content_type: str, fmt: str) -> bool:
    ctype = content_type.split(";")[0].strip().lower()
    return "json" in ctype or "javascript" in ctype if fmt == "json" else "xml" in ctype


def _json(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ParseError(f"not valid JSON: {e}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(text: bytes, findings: Findings) -> Any:
    if not text.startswith(b"<?xml"):
        findings.add("xml_declaration_missing", text[:40].decode("utf-8", "replace"))
    try:
        root = ElementTree.fromstring(text)
    except DefusedXmlException as e:
        raise ParseError(f"XML refused: {type(e).__name__} (entities and DTDs are not read)") from None
    except (ElementTree.ParseError, ValueError, RecursionError) as e:
        raise ParseError(f"not well-formed XML: {e}") from None
    start = re.search(rb"<(?![?!])[^>]*>", text)
    if "}" in root.tag or (start and b"xmlns" in start.group(0)):
        findings.add("xml_namespace", start.group(0)[:80].decode("utf-8", "replace") if start else root.tag)
    return _element(root, findings, 0)  # the root is dropped, as in the spec's JSON mapping


def _element(element: Element, findings: Findings, depth: int) -> Any:
    if element.get(XSI_NIL) in ("true", "1"):
        findings.add("xsi_nil", _local(element.tag))
        return None
    children = list(element)
    if not children or depth > 50:
        text = (element.text or "").strip()
        return text or None
    if "}" in children[0].tag:
        findings.add("xml_namespace", children[0].tag)
    tags = [_local(c.tag) for c in children]
    if len(set(tags)) == 1 and (len(tags) > 1 or tags[0] in ITEM_TAGS):
        return [_element(c, findings, depth + 1) for c in children]
    out: dict[str, Any] = {}
    for tag, child in zip(tags, children):
        value = _element(child, findings, depth + 1)
        if tag in out:
            out[tag] = (out[tag] if isinstance(out[tag], list) else [out[tag]]) + [value]
        else:
            out[tag] = value
    return out


# -- the shapes of the methods ---------------------------------------------------------------

def _error_text(data: Any) -> str | None:
    """The message of an error answer, in the spec's shape or the shapes seen in the wild."""
    if isinstance(data, dict) and len(data) == 1 and "errors" in data:
        data = data["errors"]
    if isinstance(data, list) and data and all(isinstance(d, dict) and "description" in d and set(d) <= {"code", "description"} for d in data):
        return "; ".join(str(d.get("description"))[:100] for d in data)
    if isinstance(data, dict) and any(k in data for k in ERROR_KEYS) and not any(
            isinstance(v, list) and v and isinstance(v[0], dict) and k not in ("errors",) for k, v in data.items()):
        key = next(k for k in ERROR_KEYS if k in data)
        return f"{key}: {str(data[key])[:100]}"
    return None


def error_message(body: bytes) -> str | None:
    """The message in an error answer's body, if it has one we can read."""
    try:
        return _error_text(load(body, "xml" if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "json", Findings()))
    except (NotOpen311, ParseError):
        return None


def _list(data: Any, findings: Findings, method: str) -> list[Any]:
    """The items of a list answer, unwrapping what real servers wrap them in."""
    message = _error_text(data)
    if message is not None:
        if not (isinstance(data, list) or (isinstance(data, dict) and isinstance(data.get("errors"), list))):
            findings.add("error_shape", message)
        raise SchemaError(f"an error answer: {message}")
    for _ in range(MAX_DEPTH):
        if isinstance(data, dict) and len(data) >= 1:
            key = next((k for k in JSON_WRAPPERS if k in data), None)
            if key is None:
                break
            if not isinstance(data[key], (list, dict)) and data[key] is not None:
                break
            findings.add("json_wrapper", f"{{{key!r}: ...}}")
            data = data[key] if data[key] is not None else []
        elif (isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and len(data[0]) == 1
              and next(iter(data[0])) in ("request", "service")):
            findings.add("json_wrapper", f"[{{{next(iter(data[0]))!r}: ...}}]")
            data = next(iter(data[0].values()))
        else:
            break
    if isinstance(data, dict):
        findings.add("single_object", f"{method}: an object")
        data = [data]
    if data is None:
        data = []
    if not isinstance(data, list):
        raise SchemaError(f"expected a list, got {type(data).__name__}")
    if not all(isinstance(item, dict) for item in data):
        raise SchemaError("the list holds something other than objects")
    return data


def _unwrap_values(item: dict[str, Any], findings: Findings) -> dict[str, Any]:
    """Zürich's FixMyStreet sends single values as one-element lists."""
    if not any(type(v) is list for v in item.values()):
        return item  # the common case: nothing to unwrap, nothing to copy
    out = {}
    for k, v in item.items():
        if isinstance(v, list) and len(v) == 1 and not isinstance(v[0], (list, dict)) and k not in ("notes", "attributes"):
            findings.add("json_wrapper", f"{k}: [value]")
            v = v[0]
        out[k] = v
    return out


def _ids(items: list[dict[str, Any]], key: str, findings: Findings) -> None:
    missing = [i for i in items if blank(i.get(key))]
    if items and len(missing) == len(items):
        raise SchemaError(f"no item carries {key}")
    if missing:
        findings.add("item_without_id", f"{len(missing)} of {len(items)} without {key}")


def blank(value: Any) -> bool:
    """Whether a field is empty however a server spells it (null, "", whitespace, an empty XML element)."""
    return value is None or value == "" or isinstance(value, (dict, list))


def _extra_keys(items: list[dict[str, Any]], known: set[str], findings: Findings) -> None:
    extra = sorted({k for item in items for k in item} - known)
    if extra:
        findings.add("nonstandard_key", ", ".join(extra))


def _html(item: dict[str, Any], fields: tuple[str, ...], findings: Findings) -> None:
    for name in fields:
        value = item.get(name)
        tag = HTML_TAG.search(value) if isinstance(value, str) and "<" in value else None  # most texts have no "<" at all
        if tag:
            findings.add("html_in_text", f"{name}: {tag.group(0)}")


def is_true(value: Any) -> bool:
    """A boolean however a server spells it (true, "true", "1", "yes")."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def services(body: bytes, fmt: str, findings: Findings, content_type: str | None = None) -> list[dict[str, Any]]:
    """GET services' answer as a list of services, tolerantly: every departure from the spec is a finding, not a failure."""
    items = [_unwrap_values(i, findings) for i in _list(load(body, fmt, findings, content_type), findings, "services")]
    _ids(items, "service_code", findings)
    _extra_keys(items, SERVICE_KEYS, findings)
    for item in items:
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, bool) and not (
                isinstance(metadata, str) and metadata.strip().lower() in ("true", "false") and fmt == "xml"):
            findings.add("metadata_not_boolean", repr(metadata))
        kind = item.get("type")
        if isinstance(kind, str) and kind.strip().lower() not in SERVICE_TYPES:
            findings.add("service_type_nonstandard", kind)
        _html(item, ("description",), findings)
    return items


def requests(body: bytes, fmt: str, findings: Findings, content_type: str | None = None) -> list[dict[str, Any]]:
    """GET requests' answer as a list of requests, tolerantly: wrappers, odd dates and missing ids become findings."""
    items = [_unwrap_values(i, findings) for i in _list(load(body, fmt, findings, content_type), findings, "requests")]
    _ids(items, "service_request_id", findings)
    _extra_keys(items, REQUEST_KEYS, findings)
    for item in items:
        status = item.get("status")
        if isinstance(status, str) and status.strip():
            if status.strip().lower() in ("open", "closed"):
                if status.strip() != status.strip().lower():
                    findings.add("status_case", status)
            else:
                findings.add("status_nonstandard", status)
        moments = {name: check_time(item.get(name), findings) for name in TIME_FIELDS}
        requested, updated = moments["requested_datetime"], moments["updated_datetime"]
        if requested and updated and requested.tzinfo and updated.tzinfo and updated < requested:
            findings.add("updated_before_requested", f"{item.get('service_request_id')}: {item.get('updated_datetime')}")
        _html(item, TEXT_FIELDS, findings)
        if _number(item.get("lat")) == 0 and _number(item.get("long")) == 0:
            findings.add("zero_coordinates", f"{item.get('service_request_id')}: {item.get('lat')}, {item.get('long')}")
    return items


def definition(body: bytes, fmt: str, findings: Findings, content_type: str | None = None) -> dict[str, Any]:
    """A service definition: {"service_code", "attributes": [...]}."""
    data = load(body, fmt, findings, content_type)
    message = _error_text(data)
    if message is not None:
        raise SchemaError(f"an error answer: {message}")
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        findings.add("json_wrapper", "[definition]")
        data = data[0]
    if not isinstance(data, dict) or ("attributes" not in data and "service_code" not in data):
        raise SchemaError("not a service definition (no service_code or attributes)")
    attributes = data.get("attributes") or []
    if isinstance(attributes, dict):
        findings.add("single_object", "attributes: an object")
        attributes = [attributes]
    if not isinstance(attributes, list) or not all(isinstance(a, dict) for a in attributes):
        raise SchemaError("attributes is not a list of objects")
    orders: set[str] = set()
    for attribute in attributes:
        datatype = attribute.get("datatype")
        if isinstance(datatype, str) and datatype.strip().lower() not in DATATYPES:
            findings.add("attribute_datatype_nonstandard", datatype)
        order = str(attribute.get("order"))
        if attribute.get("order") is not None and order in orders:
            findings.add("attribute_order_repeated", f"{attribute.get('code')}: order {order}")
        orders.add(order)
    return {"service_code": data.get("service_code"), "attributes": attributes}


def discovery(body: bytes, fmt: str, findings: Findings, content_type: str | None = None) -> dict[str, Any]:
    """A discovery document, its endpoints as a list."""
    data = load(body, fmt, findings, content_type)
    if not isinstance(data, dict) or "endpoints" not in data:
        raise SchemaError("not a discovery document (no endpoints)")
    endpoints = data.get("endpoints") or []
    if isinstance(endpoints, dict):
        findings.add("discovery_endpoints_object", ", ".join(list(endpoints)[:5]))
        endpoints = list(endpoints.values()) if all(isinstance(v, dict) for v in endpoints.values()) else [endpoints]
    if not isinstance(endpoints, list):
        raise SchemaError("discovery endpoints is not a list")
    return {**data, "endpoints": [e for e in endpoints if isinstance(e, dict)]}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- times and tickets -----------------------------------------------------------------------

def _fromiso(text: str) -> datetime | None:
    """ISO 8601 as Python reads it, with Z and fractions of any length (.NET sends seven digits)."""
    try:
        return datetime.fromisoformat(text)  # the common case, fast
    except ValueError:
        pass
    text = FRACTION.sub(r"\1", re.sub(r"[Zz]$", "+00:00", text))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def check_time(value: Any, findings: Findings) -> datetime | None:
    """Read an Open311 date-time, noting how it departs from the W3C form; None if there is none."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    moment, departures = _read_time(text)
    for code in departures:
        findings.add(code, text)
    return moment


@lru_cache(maxsize=1 << 16)
def _read_time(text: str) -> tuple[datetime | None, tuple[str, ...]]:
    """A date-time and how it departs from the W3C form, once per text: a crawl lists the same tickets again and again."""
    moment = _fromiso(text)
    if moment is None:
        return None, ("date_unreadable",)
    if W3C.fullmatch(text):
        return moment, ()
    departures = ("date_without_timezone",) if moment.tzinfo is None else ()
    return moment, departures + (() if W3C_LOCAL.fullmatch(text) else ("date_not_w3c",))


def parse_time(value: Any, tz: ZoneInfo) -> str | None:
    """An Open311 date-time as UTC ISO; one without an offset is read in the city's zone."""
    if not isinstance(value, str):
        return None
    return _utc(value, tz)


@lru_cache(maxsize=1 << 16)
def _utc(value: str, tz: ZoneInfo) -> str | None:
    """parse_time's reading, once per text and zone."""
    if not value.strip():
        return None
    moment = _fromiso(value.strip())
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return iso(moment)
