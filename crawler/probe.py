"""Probe one endpoint: the only module that talks to the network.

It takes its requests.Session as a parameter (make_session builds the real one), so tests and
the demo pass the same seam. An endpoint that fails is a result, recorded with one of these
outcome classes; only a bug of ours raises.

Outcome classes, one per HTTP call:
    ok            2xx and a well-formed Open311 list
    dns           the host name does not resolve
    connect       no TCP connection (refused, reset, unreachable, dropped mid-body)
    tls           the TLS handshake or certificate failed
    timeout       no answer within the time budget (connect, read, or the whole call)
    http_4xx      a 4xx status other than 429
    http_5xx      a 5xx status
    rate_limited  429 Too Many Requests
    not_open311   2xx but not an Open311 answer (an HTML page, an empty body, a redirect loop)
    parse         not well-formed JSON or XML
    schema        well-formed but not the list the method returns (an error list, no ids)
    too_large     the body exceeds the size cap
    refused       the address is not public (see guard.py); nothing was sent
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from crawler import __version__
from crawler.guard import GuardedAdapter, RefusedAddress, host_refusal
from crawler.parse import NotOpen311, ParseError, SchemaError, parse_list, to_tickets
from crawler.registry import Endpoint
from records import ProbeRecord, TicketRecord, iso

OUTCOMES = (
    "ok", "dns", "connect", "tls", "timeout", "http_4xx", "http_5xx", "rate_limited",
    "not_open311", "parse", "schema", "too_large", "refused",
)
PROJECT_URL = "https://github.com/open311-status/open311-status"
USER_AGENT = f"Open311Status/{__version__} (+{PROJECT_URL})"
CONNECT_TIMEOUT_S = 5.0
CALL_BUDGET_S = 20.0  # the whole call, however slowly the bytes drip
MAX_BYTES = 8 * 1024 * 1024  # decompressed
REQUESTS_WINDOW = timedelta(hours=24)  # GET requests asks for the day before the crawl
ERROR_MAX_CHARS = 200


@dataclass(frozen=True)
class Fetched:
    outcome: str
    http_status: int | None
    elapsed_ms: int | None
    body: bytes
    error: str | None


@dataclass(frozen=True)
class EndpointResult:
    probes: list[ProbeRecord]
    tickets: list[TicketRecord]


def make_session(allow_loopback: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment would bypass the address guard
    session.max_redirects = 3
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"})
    adapter = GuardedAdapter(allow_loopback, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.open311_allow_loopback = allow_loopback  # type: ignore[attr-defined]
    return session


def probe_endpoint(
    endpoint: Endpoint,
    session: requests.Session,
    crawl_time: datetime,
    clock: Callable[[], float] = time.monotonic,
) -> EndpointResult:
    """GET services, then GET requests for the day before crawl_time."""
    start = clock()
    crawl = iso(crawl_time)
    base_params = {"jurisdiction_id": endpoint.jurisdiction_id} if endpoint.jurisdiction_id else {}
    calls = [
        ("services", {}, "service_code"),
        ("requests", {"start_date": iso(crawl_time - REQUESTS_WINDOW), "end_date": crawl}, "service_request_id"),
    ]
    probes: list[ProbeRecord] = []
    tickets: list[TicketRecord] = []
    for method, extra, required_key in calls:
        probed_at = iso(crawl_time + timedelta(seconds=clock() - start))
        url = f"{endpoint.base_url}{method}.{endpoint.format}"
        fetched = fetch(session, url, {**base_params, **extra}, clock)
        items: list[dict[str, Any]] | None = None
        outcome, error = fetched.outcome, fetched.error
        if outcome == "ok":
            try:
                items = parse_list(fetched.body, endpoint.format, required_key)
            except NotOpen311 as e:
                outcome, error = "not_open311", str(e)
            except ParseError as e:
                outcome, error = "parse", str(e)
            except SchemaError as e:
                outcome, error = "schema", str(e)
        probes.append(
            ProbeRecord(
                crawl=crawl, endpoint=endpoint.id, method=method, format=endpoint.format, probed_at=probed_at,
                outcome=outcome, http_status=fetched.http_status, elapsed_ms=fetched.elapsed_ms,
                bytes=len(fetched.body), items=len(items) if items is not None and outcome == "ok" else None,
                error=error[:ERROR_MAX_CHARS] if error else None, crawler=__version__,
            )
        )
        if method == "requests" and items is not None and outcome == "ok":
            tickets = to_tickets(items, endpoint, crawl)
        if method == "services" and outcome in ("dns", "connect", "tls", "timeout", "refused"):
            break  # the host is unreachable: the next call would only cost time
    return EndpointResult(probes, tickets)


def fetch(
    session: requests.Session, url: str, params: dict[str, str], clock: Callable[[], float] = time.monotonic
) -> Fetched:
    """One GET, classified. Never raises for anything the server or network does."""
    allow_loopback = getattr(session, "open311_allow_loopback", False)
    parts = urlsplit(url)
    start = clock()
    try:
        reason = host_refusal(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), allow_loopback)
    except (socket.gaierror, UnicodeError) as e:
        return Fetched("dns", None, None, b"", f"cannot resolve {parts.hostname}: {e}")
    if reason:
        return Fetched("refused", None, None, b"", reason)
    status: int | None = None
    body = b""
    try:
        with session.get(url, params=params, stream=True, timeout=(CONNECT_TIMEOUT_S, CALL_BUDGET_S)) as response:
            status = response.status_code
            chunks = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_BYTES:
                    return Fetched("too_large", status, _ms(clock() - start), b"", f"body over {MAX_BYTES} bytes")
                if clock() - start > CALL_BUDGET_S:
                    return Fetched("timeout", status, _ms(clock() - start), b"", f"body not complete in {CALL_BUDGET_S:g} s")
                chunks.append(chunk)
            body = b"".join(chunks)
    except requests.exceptions.RequestException as e:
        outcome, message = classify_exception(e)
        return Fetched(outcome, status, _ms(clock() - start), b"", message)
    elapsed = _ms(clock() - start)
    if status == 429:
        return Fetched("rate_limited", status, elapsed, body, "429 Too Many Requests")
    if 400 <= status < 500:
        return Fetched("http_4xx", status, elapsed, body, f"HTTP {status}")
    if status >= 500:
        return Fetched("http_5xx", status, elapsed, body, f"HTTP {status}")
    if not 200 <= status < 300:
        return Fetched("not_open311", status, elapsed, body, f"HTTP {status}")
    return Fetched("ok", status, elapsed, body, None)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _causes(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [e]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        stack.extend(a for a in cur.args if isinstance(a, BaseException))
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


def classify_exception(e: requests.exceptions.RequestException) -> tuple[str, str]:
    causes = list(_causes(e))
    for cause in causes:
        if isinstance(cause, RefusedAddress):
            return "refused", str(cause)
    if isinstance(e, requests.exceptions.SSLError):
        return "tls", _short(e)
    if isinstance(e, requests.exceptions.Timeout):
        return "timeout", _short(e)
    if isinstance(e, requests.exceptions.TooManyRedirects):
        return "not_open311", "too many redirects"
    if isinstance(e, (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return "refused", _short(e)
    if isinstance(e, requests.exceptions.ContentDecodingError):
        return "parse", _short(e)
    if any(isinstance(c, socket.gaierror) or type(c).__name__ == "NameResolutionError" for c in causes):
        return "dns", _short(e)
    return "connect", _short(e)


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:ERROR_MAX_CHARS]
