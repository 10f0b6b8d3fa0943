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
# What each short key may hold: checked here, so that the records expand() gives are sound without
# the reader checking every field of every one of them again.
_TYPES: dict[str, tuple[type, ...]] = {
    "m": (str,), "f": (str,), "t": (int,), "o": (str,), "s": (int, type(None)), "ms": (int, type(None)), "b": (int,),
    "n": (int, type(None)), "e": (str, type(None)), "g": (str, type(None)), "p": (int, type(None)), "a": (int,), "x": (dict,),
    "c": (str, type(None)), "r": (int, float, type(None)),
}


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
    """A v2 line back to its v1 probe records, checked. Raises ValueError (with what is wrong) for a line that is not one."""
    calls = line.get("calls")
    if not isinstance(calls, list) or not all(isinstance(line.get(k), str) for k in LINE_KEYS):
        raise ValueError("a v2 probe line needs crawl, endpoint, crawler and a list of calls")
    crawl = _time(line["crawl"])
    base = {"crawl": line["crawl"], "endpoint": line["endpoint"], "crawler": line["crawler"], "v": 1}
    out = []
    content_type = None
    for call in calls:
        if not isinstance(call, dict) or "m" not in call:
            raise ValueError("a call needs m, its method")
        for short, value in call.items():
            allowed = _TYPES.get(short)
            if allowed is None:
                raise ValueError(f"a call has an unknown key {short!r}")
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise ValueError(f"a call's {short} has the wrong type ({type(value).__name__})")
        content_type = call.get("c", content_type)
        out.append({
            **base, "method": call["m"], "format": call.get("f", "json"),
            "probed_at": _stamp(crawl + timedelta(seconds=call.get("t", 0))), "outcome": call.get("o", "ok"),
            "http_status": call.get("s", 200), "elapsed_ms": call.get("ms"), "bytes": call.get("b", 0), "items": call.get("n"),
            "error": call.get("e"), "target": call.get("g"), "page": call.get("p"), "attempt": call.get("a", 1),
            "findings": dict(call.get("x", {})), "content_type": content_type, "retry_after_s": call.get("r"),
        })
    return out
