"""One HTTP GET, made politely, within hard caps, and classified.

With guard.py (the addresses) and stopwatch.py (where a call's time went), the only code that talks to the
network. The crawl makes one Client per host
and passes it in, so tests, the demo and production go through the same seam.

Outcome classes, one per call (probe records carry them; records/status.py reads them):
    ok            2xx and a body the parser could read as the method's answer
    dns           the host name does not resolve
    connect       no TCP connection, or it broke (refused, reset, unreachable, dropped mid-body)
    tls           the TLS handshake or the certificate failed
    timeout       no complete answer within the call's time budget, however slowly bytes came
    http_4xx      a 4xx status other than 429
    http_5xx      a 5xx status
    rate_limited  429 Too Many Requests (its Retry-After is kept)
    not_open311   an answer that is not Open311: an HTML page, an empty body, a redirect loop
    parse         not well-formed JSON or XML, or XML with entity declarations (refused unread)
    schema        well-formed, but not what the method answers (an error list, no ids)
    too_large     the body, decompressed, is over the size cap
    refused       the address is not public (guard.py) or the scheme is not http(s): nothing sent
    no_key        the endpoint requires an API key and its secret is not set: nothing sent

Politeness: one call at a time per host (the crawl gives each host one worker), at least the
registry's min_interval_s between the starts of two calls (and, once a host answers 429, no more
calls a minute than it took before refusing: crawler/paces.py Pacer.refused), one connection per host, kept alive
only for the host's part of a crawl (closed when its client is), and a User-Agent that says who we are.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection
from urllib3.util.connection import is_connection_dropped

from crawler import PROJECT_URL, __version__
from crawler.failures import ERROR_MAX_CHARS, classify_exception
from crawler.guard import Resolver, SocketDeadline, guarded_connections, host_refusal, resolve
from crawler.paces import Pacer
from crawler.stopwatch import Stopwatch, Timing
from vocabulary import NOT_SENT, OUTCOMES  # noqa: F401  # the outcomes a call is given here
from vocabulary.timing import HOST_S

USER_AGENT = f"Open311Status/{__version__} (+{PROJECT_URL})"
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Limits:
    """Hard caps. Defaults are production's; tests pass smaller ones."""

    connect_s: float = 5.0
    call_s: float = 20.0  # one call, first byte sent to last byte read
    endpoint_s: float = 150.0  # all of one endpoint's calls in a crawl, waits included
    host_s: float = HOST_S  # all the endpoints on one host: the run ends before the next one starts (timing.py)
    call_bytes: int = 8 * 1024 * 1024  # decompressed
    endpoint_bytes: int = 24 * 1024 * 1024
    endpoint_calls: int = 12
    retry_pause_s: float = 5.0  # before asking a failed service list again
    max_retry_after_s: float = 60.0  # a longer Retry-After ends the endpoint's crawl instead
    max_redirects: int = 3
    min_call_s: float = 1.0  # no call is started with less time than this left


class Budget:
    """What one endpoint may still spend in this crawl."""

    def __init__(self, limits: Limits, clock: Callable[[], float], host_deadline: float | None = None):
        self.clock = clock
        self.deadline = clock() + limits.endpoint_s
        if host_deadline is not None:
            self.deadline = min(self.deadline, host_deadline)
        self.calls = limits.endpoint_calls
        self.bytes = limits.endpoint_bytes
        self.min_call_s = limits.min_call_s

    def remaining_s(self) -> float:
        """Seconds left for this endpoint: a call is never started that could not finish in them."""
        return self.deadline - self.clock()

    def allows(self, wait_s: float = 0.0) -> bool:
        """Whether another call (after waiting wait_s) still fits the calls, bytes and time left."""
        return self.calls > 0 and self.bytes > 0 and self.remaining_s() - wait_s >= self.min_call_s


@dataclass(frozen=True)
class Fetched:
    """What one GET came to: its outcome class and what the server sent, before parsing."""

    outcome: str
    http_status: int | None
    elapsed_ms: int | None
    body: bytes
    error: str | None
    content_type: str | None = None
    retry_after_s: float | None = None
    started: float = 0.0  # on the client's clock, after any wait for the host
    rtt_ms: int | None = None  # the round trip of its connection (crawler/stopwatch.py)
    server_ms: int | None = None  # the server's own time: the time to the first byte less one round trip


def user_agent(env: Mapping[str, str]) -> str:
    """Who is calling, so that a city's operator can find out: on GitHub Actions the repository the
    crawl runs in (a fork's own, not upstream's), anywhere else the project."""
    repository = env.get("GITHUB_REPOSITORY", "")
    server = env.get("GITHUB_SERVER_URL", "") or "https://github.com"
    if REPOSITORY.fullmatch(repository) and re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?", server):
        return f"Open311Status/{__version__} (+{server}/{repository})"
    return USER_AGENT


def make_client(interval: float, allow_loopback: bool = False, limits: Limits | None = None, host: str = "",
                agent: str = USER_AGENT) -> Client:
    """The production client for one host (the host is for factories that need it, such as the simulator's)."""
    return Client(Transport(agent), interval, allow_loopback, limits or Limits())


class Transport:
    """How a client's GETs go on the wire: urllib3's connections directly (requests' layers, and urllib3's pools and
    URL parsing, cost more CPU than the rest of a call), whose every socket is guarded (guard.guarded_connections):
    one per host, kept alive while the server allows, closed with the client. The environment's proxies are never
    read: one would bypass the address guard. The simulator's subclass tells each city when it is
    (simulator/virtual.py)."""

    def __init__(self, agent: str = USER_AGENT):
        self.headers = {"User-Agent": agent, "Accept-Encoding": "gzip"}
        self.classes: dict[str, type[HTTPConnection]] = {}
        self.idle: dict[tuple[str, str, int], HTTPConnection] = {}  # kept alive, ready for the next call
        self.busy: dict[int, tuple[tuple[str, str, int], HTTPConnection]] = {}  # by id of the answer it carries
        self.timing = Timing()  # the latest call's, once its answer's head is in

    def guard(self, allow_loopback: bool) -> None:
        """Make connections whose every socket is checked against the address guard, and timed (crawler/stopwatch.py)."""
        self.classes = guarded_connections(allow_loopback, (Stopwatch,))

    def open(self, url: str, headers: dict[str, str], timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
        """Send one GET and return as soon as the status and headers are in; the body is left to be read, and the
        answer handed back with done()."""
        self.timing = Timing()
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        key = (scheme, host, parts.port or (443 if scheme == "https" else 80))
        conn = self.idle.pop(key, None)
        if conn is not None and is_connection_dropped(conn):
            conn.close()
            conn = None
        if conn is None:
            conn = self.classes[scheme](host, key[2], timeout=timeout.connect_timeout)
        connected = conn.is_closed
        try:  # a connection that failed anywhere on the way is closed, never kept
            if connected:
                conn.timeout = cast(float, timeout.connect_timeout)  # the Timeout made above, with its connect time set
                conn.connect()
            # urllib3 puts conn.timeout on the socket as it sends and again as it awaits the answer: from here on, the
            # read timeout (the connect timeout left there held a server's first byte to 5 s, not the call's 20)
            conn.timeout = timeout.read_timeout
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                         headers={**self.headers, **headers}, preload_content=False, decode_content=True)
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if isinstance(conn, Stopwatch):
            self.timing = conn.timing(connected)
        self.busy[id(response)] = (key, conn)
        return response

    def done(self, response: urllib3.BaseHTTPResponse, whole: bool) -> None:
        """An answer is finished with: its connection kept for the next call when it was read whole and the server
        keeps it open; else closed, never used again mid-answer."""
        key, conn = self.busy.pop(id(response))
        if whole and isinstance(conn, Stopwatch):
            self.timing = replace(self.timing, last_s=conn.last_s())
        original = getattr(response, "_original_response", None)
        if whole and not getattr(original, "will_close", True):  # unknown (a test double): not kept
            self.idle[key] = conn
        else:
            response.close()
            conn.close()

    def close(self) -> None:
        """Close every kept-alive connection."""
        for conn in self.idle.values():
            conn.close()
        self.idle.clear()


class Client:
    """GETs to one host: paced, guarded, capped, classified. Never raises for what a server does."""

    def __init__(
        self,
        transport: Transport,
        interval: float = 0.0,
        allow_loopback: bool = False,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        resolver: Resolver = resolve,
    ):
        self.transport = transport
        self.allow_loopback = allow_loopback
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self.resolver = resolver
        self.pacer = Pacer(interval, clock)
        self.slots: AbstractContextManager[Any] = nullcontext()  # the crawl's bound on calls in flight (crawl.HostCrawl)
        self.redirected = False  # whether the latest call followed a redirect: its stamps are of the last hop only
        transport.guard(allow_loopback)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.transport.close()

    def get(
        self, url: str, params: dict[str, str], budget: Budget, headers: dict[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Fetched | None:
        """One call, or None when the budget does not allow it (nothing is sent then)."""
        wait = self.pacer.wait_s()
        if not budget.allows(wait):
            return None
        if wait:
            self.sleep(wait)
        with self.slots:  # the crawl's calls in flight: a call waits its turn here, before its clock starts
            if not budget.allows():
                return None
            budget.calls -= 1
            self.pacer.started()
            start = self.clock()
            seconds = min(self.limits.call_s, budget.remaining_s())
            cap = min(self.limits.call_bytes, budget.bytes)
            fetched = self._follow(url, params, dict(headers or {}), start, seconds, cap)
        budget.bytes -= len(fetched.body)
        timing = self.transport.timing if fetched.http_status is not None else Timing()
        if timing.total_s is not None and not self.redirected and fetched.outcome != "timeout":
            fetched = replace(fetched, elapsed_ms=_ms(timing.total_s))  # the wire's time, not our queue's
        return replace(fetched, started=start, error=redact(fetched.error, secrets) if fetched.error else None,
                       rtt_ms=_ms(timing.rtt_s) if timing.rtt_s is not None else None,
                       server_ms=_ms(timing.server_s) if timing.server_s is not None else None)

    def _follow(self, url: str, params: dict[str, str] | None, headers: dict[str, str], start: float, seconds: float, cap: int) -> Fetched:
        host = urlsplit(url).hostname
        self.redirected = False
        for _ in range(self.limits.max_redirects + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return Fetched("refused", None, None, b"", f"not an http(s) URL: {url[:100]}")
            if parts.hostname != host:
                headers.pop("Authorization", None)  # a key is for its own host only
            try:
                reason = host_refusal(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), self.allow_loopback, self.resolver)
            except (socket.gaierror, UnicodeError) as e:
                return Fetched("dns", None, None, b"", f"cannot resolve {parts.hostname}: {e}"[:ERROR_MAX_CHARS])
            if reason:
                return Fetched("refused", None, None, b"", reason)
            left = start + seconds - self.clock()
            if left <= 0:
                return Fetched("timeout", None, _ms(self.clock() - start), b"", f"no complete answer within {round(seconds, 1):g} s")
            result = self._one(with_query(url, params), headers, start, left, cap, seconds)
            if isinstance(result, Fetched):
                return result
            url, params, self.redirected = result, None, True  # the next hop: the Location carries its own query
        return Fetched("not_open311", None, _ms(self.clock() - start), b"", f"more than {self.limits.max_redirects} redirects")

    def _one(self, url: str, headers: dict[str, str], start: float, left: float, cap: int, seconds: float) -> Fetched | str:
        """One request on the wire: a Fetched, or the URL a redirect points to."""
        late = f"no complete answer within {round(seconds, 1):g} s"
        status: int | None = None
        content_type: str | None = None
        response: urllib3.BaseHTTPResponse | None = None
        whole = False  # read to its end: its connection may serve the next call
        with SocketDeadline(left) as deadline:
            try:
                response = self.transport.open(url, headers, urllib3.Timeout(connect=min(self.limits.connect_s, left), read=left))
                status = response.status
                content_type = (response.headers.get("Content-Type") or "")[:100] or None
                location = response.headers.get("Location")
                if status in REDIRECTS and location:
                    return urljoin(url, location)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > cap and not response.headers.get("Content-Encoding"):
                    return Fetched("too_large", status, _ms(self.clock() - start), b"", f"Content-Length {declared} over {cap} bytes", content_type)
                chunks, size = [], 0
                for chunk in response.stream(64 * 1024):
                    size += len(chunk)
                    if size > cap:
                        return Fetched("too_large", status, _ms(self.clock() - start), b"", f"body over {cap} bytes", content_type)
                    chunks.append(chunk)
                body = b"".join(chunks)
                whole = True
                retry_after = retry_after_s(response.headers.get("Retry-After"), response.headers.get("Date"))
            except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as e:
                # The read timeout and the deadline are the same length: whichever fires first, one message.
                if deadline.expired or isinstance(e, (urllib3.exceptions.ReadTimeoutError, TimeoutError)) and \
                        not isinstance(e, urllib3.exceptions.ConnectTimeoutError):
                    return Fetched("timeout", status, _ms(self.clock() - start), b"", late, content_type)
                outcome, message = classify_exception(e)
                return Fetched(outcome, status, _ms(self.clock() - start), b"", message, content_type)
            finally:
                if response is not None:
                    self.transport.done(response, whole and not deadline.expired)
        if deadline.expired or self.clock() - start > seconds:  # cut off by the timer, or (on a simulated clock) late
            return Fetched("timeout", status, _ms(self.clock() - start), b"", late, content_type)
        elapsed = _ms(self.clock() - start)
        if status == 429:
            return Fetched("rate_limited", status, elapsed, body, "429 Too Many Requests", content_type, retry_after)
        if 400 <= status < 500:
            return Fetched("http_4xx", status, elapsed, body, f"HTTP {status}", content_type)
        if status >= 500:
            return Fetched("http_5xx", status, elapsed, body, f"HTTP {status}", content_type)
        if not 200 <= status < 300:
            return Fetched("not_open311", status, elapsed, body, f"HTTP {status}", content_type)
        return Fetched("ok", status, elapsed, body, None, content_type)


def with_query(url: str, params: dict[str, str] | None) -> str:
    """The URL with the parameters added to its query, encoded as a form is."""
    if not params:
        return url
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


def retry_after_s(value: str | None, date: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds, or an HTTP date taken against the server's Date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return None
    if now is None or when.tzinfo is None or now.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """The text with every secret replaced by [key]: servers echo queries back, and errors reach logs and data."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key]")
    return text


def _ms(seconds: float) -> int:
    return max(0, int(round(seconds * 1000)))


