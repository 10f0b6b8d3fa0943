"""What a simulated city's server stands on: an HTTP server on loopback, the fleet's clock, a city's state as its
server keeps it (its rate limit's calls, tokens, and a log of each answer taken), and XML as the spec writes it."""

from __future__ import annotations

import json
import math
import socketserver
import sys
import threading
from collections import deque
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from http.server import ThreadingHTTPServer
from statistics import NormalDist
from typing import Any, cast
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from simulator.world import CityTruth, unit

STANDARD = NormalDist()

LOG_MAX = 200_000  # answers each city remembers taking: a month of the demo's crawls


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that does not look its own name up: http.server's bind asks the resolver for the
    address's name (socket.getfqdn), 50 ms a server here, most of the start of a fleet of a thousand cities."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-call (the crawler cutting an answer at its cap or its deadline) is no error of the server's:
        not a traceback on the terminal. Anything else is."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        """Bind, naming the server by its address."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = cast(tuple[str, int], self.server_address[:2])


class Clock:
    """The fleet's now, for requests that do not say theirs. None: the real time."""

    def __init__(self, now: datetime | None = None):
        self._now = now
        self._lock = threading.Lock()

    def set(self, now: datetime | None) -> None:
        """Move the fleet's now (None: the real time again)."""
        with self._lock:
            self._now = now

    def now(self) -> datetime:
        """The moment a request without X-Simulated-Now is answered as of."""
        with self._lock:
            return self._now or datetime.now(timezone.utc)


class CityState:
    """What one city's server remembers between requests: recent calls (rate limit) and POSTs."""

    def __init__(self, truth: CityTruth, clock: Clock):
        self.truth = truth
        self.city = truth.city
        self.clock = clock
        self.lock = threading.Lock()
        self.recent: deque[datetime] = deque()
        self.tokens: dict[str, str] = {}
        self.posted = 0
        self.items: dict[tuple[str, datetime, str], dict[str, Any]] = {}  # CityHandler.item, per state of a ticket
        self.log: deque[tuple[datetime, str, int, float]] = deque(maxlen=LOG_MAX)  # each answer: when, path, status, seconds

    def limited(self, now: datetime) -> float | None:
        """Whether this call is over the city's rate limit (the calls of the last minute), as a throttling server counts:
        None if not, else its Retry-After, the scenario's or (if later) when the oldest call of the minute leaves it."""
        limit = self.city.rate_limit
        if not limit:
            return None
        with self.lock:
            while self.recent and self.recent[0] <= now - timedelta(minutes=1):
                self.recent.popleft()
            if len(self.recent) >= limit["per_minute"]:
                return max(float(limit["retry_after_s"]), math.ceil((self.recent[0] + timedelta(minutes=1) - now).total_seconds()))
            self.recent.append(now)
            return None

    def latency_s(self, now: datetime, path: str) -> float:
        """How long this call takes: the city's median, spread lognormally, the same for the same moment and path."""
        c = self.city
        median = c.latency_ms * (c.requests_latency_factor if "/requests" in path else 1.0)
        draw = min(max(unit(c.seed, "latency", now.isoformat(), path), 1e-12), 1 - 1e-12)  # a seeded Random per call cost more
        return median / 1000 * math.exp(STANDARD.inv_cdf(draw) * c.latency_spread)


def service_item(service: Any) -> dict[str, Any]:
    """A service as GET services lists it."""
    return {"service_code": service.code, "service_name": service.name, "description": f"Report a {service.name.lower()}.",
            "metadata": bool(service.attributes), "type": "realtime", "keywords": service.group.lower(), "group": service.group}


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def to_xml(root: str, item: str, items: list[dict[str, Any]]) -> bytes:
    """A list answer as the spec's XML (root element, one element per item)."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    for d in items:
        parts.append(f"<{item}>" + "".join(f"<{k}/>" if v is None else f"<{k}>{_xml_value(v)}</{k}>" for k, v in d.items()) + f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


SINGULAR = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def to_xml_tree(root: str, data: Any) -> bytes:
    """A nested answer (a definition, discovery) as XML, lists in singular child elements."""
    def element(tag: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{tag}>" + "".join(element(k, v) for k, v in value.items()) + f"</{tag}>"
        if isinstance(value, list):
            child = SINGULAR.get(tag, "item")
            return f"<{tag}>" + "".join(element(child, v) for v in value) + f"</{tag}>" if value else f"<{tag}/>"
        return f"<{tag}/>" if value is None else f"<{tag}>{_xml_value(value)}</{tag}>"

    return ('<?xml version="1.0" encoding="utf-8"?>' + element(root, data)).encode("utf-8")


class Headers(dict[str, str]):
    """A request's headers by lower-cased name."""

    def get(self, name: str, default: Any = None) -> Any:
        """A header however its name is cased."""
        return super().get(name.lower(), default)


class Listed(dict[str, Any]):
    """An item as a listing shows it, with its JSON made once: a listing shows the same tickets crawl after crawl."""

    def __init__(self, fields: dict[str, Any]):
        super().__init__(fields)
        self.json = json.dumps(fields).encode()


def parse_time(text: str) -> datetime:
    """A date as the simulator is given one (ISO 8601, Z or an offset; no zone means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@lru_cache(maxsize=1 << 17)
def city_date(moment: datetime, zone: str, style: str) -> str:
    """A time in a city's date style, once per moment: a listing shows the same tickets crawl after crawl."""
    local = moment.astimezone(ZoneInfo(zone))
    if style == "no_timezone":
        return local.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "space":
        return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 10000:02d}"
    return local.replace(microsecond=0).isoformat()

