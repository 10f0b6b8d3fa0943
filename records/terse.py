"""Probe records on disk, tersely: one line per endpoint and crawl (layout v2), read back as the same records.

A probe record (records.ProbeRecord) is one call, every field spelt out: about 430 bytes as a line
of its own. On disk a line (layout v2) holds all the calls of one endpoint in one crawl:

    {"v":2,"crawl":"2026-11-20T12:00:00Z","endpoint":"lakeport","crawler":"0.3.0",
     "calls":[{"m":"services","ms":260,"b":12717,"n":5,"c":"application/json; charset=utf-8"},
              {"m":"requests","t":1,"ms":640,"b":48211,"n":50,"p":1}, ...]}

Each call keeps only what differs from its default (Call below; data/README.md lists the keys):
format json, probed_at the crawl's time plus t seconds, outcome ok, http_status 200, attempt 1,
no findings, content_type and rtt_ms as the call before it in the line; null for everything else. Lines are
decoded and checked in one step by msgspec (a year of a hundred endpoints is 1.75 million lines);
expand() gives back exactly the probe records, columns() the same calls column by column.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

from vocabulary import iso, moment

LAYOUT: Literal[2] = 2
STAMP_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"  # vocabulary.STAMP's format, as msgspec checks it


class Call(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One call, under its short keys, with the defaults a line leaves out."""

    m: str  # method
    f: str = "json"  # format
    t: int = 0  # probed_at, in seconds after the crawl
    o: str = "ok"  # outcome
    s: int | None = 200  # http_status
    ms: int | None = None  # elapsed_ms
    b: int = 0  # bytes
    n: int | None = None  # items
    e: str | None = None  # error
    g: str | None = None  # target
    p: int | None = None  # page
    a: int = 1  # attempt
    x: dict[str, str] = {}  # findings
    c: str | None | msgspec.UnsetType = msgspec.UNSET  # content_type; unset: as the call before it
    r: int | float | None = None  # retry_after_s
    k: int | None | msgspec.UnsetType = msgspec.UNSET  # rtt_ms; unset: as the call before it (one connection, one round trip)
    w: int | None = None  # server_ms


class Line(msgspec.Struct, gc=False):
    """One endpoint's calls in one crawl, as the line on disk holds them."""

    v: Literal[2]
    crawl: Annotated[str, msgspec.Meta(pattern=STAMP_PATTERN)]
    endpoint: str
    crawler: str
    calls: list[Call]


# field of the probe record -> key of a call
SHORT = {"method": "m", "format": "f", "probed_at": "t", "outcome": "o", "http_status": "s", "elapsed_ms": "ms", "bytes": "b",
         "items": "n", "error": "e", "target": "g", "page": "p", "attempt": "a", "findings": "x", "content_type": "c",
         "retry_after_s": "r", "rtt_ms": "k", "server_ms": "w"}
# what a call leaves out stands for these (Call's defaults; content_type and rtt_ms: the call before it's)
DEFAULTS = {"format": "json", "probed_at": 0, "outcome": "ok", "http_status": 200, "bytes": 0, "attempt": 1, "findings": {}}
# Kept to two significant digits (crawler 0.5.0, issue 19): at most 5 % off, below the noise of one call, and
# what is left of a random number is what zlib can squeeze (they were three fifths of the probes' bytes in git).
ROUNDED = ("elapsed_ms", "bytes", "server_ms", "rtt_ms")
CARRIED = ("content_type", "rtt_ms")  # left out when the same as the call before it's in the line
COLUMNS = ("crawl", "endpoint", "crawler", *SHORT)  # columns(): probed_at as t, seconds after the crawl
_decoder = msgspec.json.Decoder(Line)


def decode(raw: bytes | str) -> Line:
    """One v2 line, checked. Raises ValueError saying what is wrong and where (msgspec's words)."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise ValueError(f"not a v2 probe line: {e}") from None


def probed_at(crawl: str, seconds: int) -> str:
    """A call's probed_at from its crawl and t."""
    return iso(moment(crawl) + timedelta(seconds=seconds))


def seconds_after(stamp: str, crawl: str) -> int:
    """A call's t from its probed_at and crawl."""
    return int((moment(stamp) - moment(crawl)).total_seconds())


def two_digits(value: int) -> int:
    """A whole number kept to two significant digits (48211 -> 48000, 640 -> 640, 7 -> 7)."""
    return int(round(value, 2 - len(str(abs(int(value))))))


def pack(probes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Probe records to lines: one per (crawl, endpoint, crawler), calls in their order."""
    lines: dict[tuple[str, str, str], dict[str, Any]] = {}
    previous: dict[tuple[tuple[str, str, str], str], Any] = {}
    for probe in probes:
        key = (probe["crawl"], probe["endpoint"], probe["crawler"])
        line = lines.setdefault(key, {"v": LAYOUT, "crawl": key[0], "endpoint": key[1], "crawler": key[2], "calls": []})
        call = {"m": probe["method"]}
        for field, short in SHORT.items():
            value = probe.get(field)
            if field in ROUNDED and value:
                value = two_digits(value)
            default = DEFAULTS.get(field)  # None for the rest
            if field == "probed_at":
                value = seconds_after(probe["probed_at"], probe["crawl"])
            if field in CARRIED:
                default = previous.get((key, field))
                previous[(key, field)] = value
            if field != "method" and value != default:
                call[short] = value
        line["calls"].append(call)
    return list(lines.values())


def columns(lines: list[Line]) -> dict[str, list[Any]]:
    """The calls of decoded lines, column by column (COLUMNS; probed_at as t)."""
    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    crawl, endpoint, crawler = out["crawl"], out["endpoint"], out["crawler"]
    m, f, t, o, s, ms, b, n, e, g, p, a, x, c, r, k, w = (out[name] for name in SHORT)
    for line in lines:
        content_type = rtt = None
        for call in line.calls:
            crawl.append(line.crawl)
            endpoint.append(line.endpoint)
            crawler.append(line.crawler)
            m.append(call.m)
            f.append(call.f)
            t.append(call.t)
            o.append(call.o)
            s.append(call.s)
            ms.append(call.ms)
            b.append(call.b)
            n.append(call.n)
            e.append(call.e)
            g.append(call.g)
            p.append(call.p)
            a.append(call.a)
            x.append(call.x)
            r.append(call.r)
            if call.c is not msgspec.UNSET:
                content_type = call.c
            c.append(content_type)
            if call.k is not msgspec.UNSET:
                rtt = call.k
            k.append(rtt)
            w.append(call.w)
    return out


def refusals(lines: list[Line]) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    """(endpoint, crawl, each call as (seconds after the crawl, outcome)) of each line with a call refused as too many
    (rate_limited): what a host taught of its pace (crawler/paces.py)."""
    for line in lines:
        if any(c.o == "rate_limited" for c in line.calls):
            yield line.endpoint, line.crawl, [(c.t, c.o) for c in line.calls]


def expand(line: Line | dict[str, Any]) -> list[dict[str, Any]]:
    """A line (decoded, or as a dict, checked then) back to its probe records, one per call."""
    if isinstance(line, dict):
        try:
            line = msgspec.convert(line, Line)
        except msgspec.ValidationError as e:
            raise ValueError(f"not a v2 probe line: {e}") from None
    crawl = moment(line.crawl)
    cols = columns([line])
    return [{"crawl": line.crawl, "endpoint": line.endpoint, "crawler": line.crawler, "v": 1,
             **{field: cols[field][i] for field in SHORT if field != "probed_at"},
             "findings": dict(cols["findings"][i]), "probed_at": iso(crawl + timedelta(seconds=cols["probed_at"][i]))}
            for i in range(len(line.calls))]
