"""Probe records on disk, tersely: one line per endpoint and crawl (layout v2), read back as the same records.

A v1 line was one call, every field spelt out: about 430 bytes, 94 kB per endpoint-day, most of
git's growth. A v2 line holds all the calls of one endpoint in one crawl:

    {"v":2,"crawl":"2026-11-20T12:00:00Z","endpoint":"lakeport","crawler":"0.3.0",
     "calls":[{"m":"services","ms":260,"b":12717,"n":5,"c":"application/json; charset=utf-8"},
              {"m":"requests","t":1,"ms":640,"b":48211,"n":50,"p":1}, ...]}

Each call keeps only what differs from its default (CALL_KEYS below; data/README.md lists them):
format json, probed_at the crawl's time plus t seconds, outcome ok, http_status 200, attempt 1,
no findings, content_type as the call before it in the line; null for everything else. expand()
gives back exactly the v1 records, so nothing that reads them changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

LAYOUT = 2
# field -> (key in a call, default). A default of SAME means: as the previous call of the line.
SAME = object()
CALL_KEYS: dict[str, tuple[str, Any]] = {
    "method": ("m", None), "format": ("f", "json"), "probed_at": ("t", 0), "outcome": ("o", "ok"), "http_status": ("s", 200),
    "elapsed_ms": ("ms", None), "bytes": ("b", 0), "items": ("n", None), "error": ("e", None), "target": ("g", None),
    "page": ("p", None), "attempt": ("a", 1), "findings": ("x", {}), "content_type": ("c", SAME), "retry_after_s": ("r", None),
}
LINE_KEYS = ("crawl", "endpoint", "crawler")


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pack(probes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v1 probe records to v2 lines: one per (crawl, endpoint, crawler), calls in their order."""
    lines: dict[tuple[str, str, str], dict[str, Any]] = {}
    previous: dict[tuple[str, str, str], Any] = {}
    for probe in probes:
        key = (probe["crawl"], probe["endpoint"], probe["crawler"])
        line = lines.setdefault(key, {"v": LAYOUT, "crawl": key[0], "endpoint": key[1], "crawler": key[2], "calls": []})
        call = {}
        for field, (short, default) in CALL_KEYS.items():
            value = probe.get(field)
            if field == "probed_at":
                value = int((_time(value) - _time(probe["crawl"])).total_seconds())
            if field == "content_type":
                default = previous.get(key)
                previous[key] = value
            if value != default:
                call[short] = value
        line["calls"].append(call)
    return list(lines.values())


def expand(line: dict[str, Any]) -> list[dict[str, Any]]:
    """A v2 line back to its v1 probe records. Raises ValueError (with what is wrong) for a line that is not one."""
    calls = line.get("calls")
    if not isinstance(calls, list) or not all(isinstance(line.get(k), str) for k in LINE_KEYS):
        raise ValueError("a v2 probe line needs crawl, endpoint, crawler and a list of calls")
    crawl = _time(line["crawl"])
    out = []
    content_type = None
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("m"), str) or not isinstance(call.get("t", 0), int):
            raise ValueError("a call needs m (the method) and a whole number of seconds t")
        record: dict[str, Any] = {"crawl": line["crawl"], "endpoint": line["endpoint"], "crawler": line["crawler"], "v": 1}
        for field, (short, default) in CALL_KEYS.items():
            if field == "content_type":
                content_type = call.get(short, content_type)
                record[field] = content_type
            elif field == "findings":
                record[field] = dict(call.get(short, default))
            else:
                record[field] = call.get(short, default)
        record["probed_at"] = _stamp(crawl + timedelta(seconds=record["probed_at"]))
        out.append(record)
    return out
