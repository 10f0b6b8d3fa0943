"""Read GeoReport v2 list responses (services, requests) in JSON or XML.

Only what the skeleton needs; every XML byte goes through defusedxml. Tolerates a byte-order
mark, leading white space, namespaces, xsi:nil, and the common JSON wrappers.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from crawler.registry import Endpoint
from records import TicketRecord, iso

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
JSON_WRAPPERS = ("services", "service_requests", "requests", "request", "service")


class NotOpen311(Exception):
    """The body is something else altogether (an HTML page, an empty body)."""


class ParseError(Exception):
    """The body claims a format but is not well-formed in it."""


class SchemaError(Exception):
    """Well-formed, but not the list the method should return."""


def _strip(body: bytes) -> bytes:
    return body.lstrip(b"\xef\xbb\xbf").lstrip()


def looks_like_html(body: bytes) -> bool:
    head = _strip(body)[:200].lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def parse_list(body: bytes, fmt: str, required_key: str) -> list[dict[str, Any]]:
    """The items of a list response; each must be an object carrying required_key."""
    text = _strip(body)
    if not text:
        raise NotOpen311("empty body")
    if looks_like_html(text):
        raise NotOpen311("an HTML page, not an Open311 response")
    items = _json_items(text) if fmt == "json" else _xml_items(text)
    if not all(isinstance(item, dict) for item in items):
        raise SchemaError("the list holds something other than objects")
    if items and not any(required_key in item for item in items):
        raise SchemaError(f"no item carries {required_key}")
    return items


def _json_items(text: bytes) -> list[Any]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"not valid JSON: {e}") from None
    # Unwrap {"requests": [...]}, and FixMyStreet's {"requests": [{"request": [...]}]}.
    for _ in range(3):
        if isinstance(data, dict):
            key = next((k for k in JSON_WRAPPERS if k in data), None)
            if key is None:
                break
            data = data[key]
        elif isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and list(data[0]) in (["request"], ["service"]):
            data = next(iter(data[0].values()))
        else:
            break
    if isinstance(data, dict):
        data = [data]  # a single object where the spec wants a one-element array
    if not isinstance(data, list):
        raise SchemaError(f"expected a list, got {type(data).__name__}")
    if data and all(isinstance(d, dict) and set(d) <= {"code", "description"} and "description" in d for d in data):
        raise SchemaError("an error list: " + "; ".join(str(d.get("description"))[:100] for d in data))
    return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_items(text: bytes) -> list[dict[str, Any]]:
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as e:
        raise ParseError(f"not well-formed XML: {e}") from None
    if _local(root.tag) == "errors":
        raise SchemaError("an error list: " + "; ".join((e.findtext("description") or "")[:100] for e in root))
    items = []
    for element in root:
        item: dict[str, Any] = {}
        for child in element:
            key = _local(child.tag)
            if child.get(XSI_NIL) == "true" or (child.text is None and len(child) == 0):
                item[key] = None
            elif len(child):
                item[key] = [{_local(g.tag): g.text for g in c} or c.text for c in child]
            else:
                item[key] = child.text.strip()
        items.append(item)
    return items


def to_tickets(items: list[dict[str, Any]], endpoint: Endpoint, crawl: str) -> list[TicketRecord]:
    """The listed service requests that carry an id (Chicago lists some without one)."""
    tz = ZoneInfo(endpoint.timezone)
    out = {}
    for item in items:
        raw_id = item.get("service_request_id")
        if raw_id in (None, "") or isinstance(raw_id, (dict, list)):
            continue
        status = item.get("status")
        code = item.get("service_code")
        out[str(raw_id)] = TicketRecord(
            crawl=crawl, endpoint=endpoint.id, id=str(raw_id)[:200],
            status=str(status).strip().lower()[:50] if status not in (None, "") else None,
            service_code=str(code)[:200] if code not in (None, "") else None,
            requested=parse_time(item.get("requested_datetime"), tz),
            updated=parse_time(item.get("updated_datetime"), tz),
        )
    return list(out.values())


def parse_time(value: Any, tz: ZoneInfo) -> str | None:
    """An Open311 date-time as UTC ISO; one without an offset is read in the city's zone."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return iso(moment)
