"""The servers: one ThreadingHTTPServer per simulated city."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

SERVICES = [
    ("001", "Pothole", "Report a pothole in the street."),
    ("002", "Graffiti", "Graffiti on public property."),
    ("003", "Streetlight out", "A street light is out or flickering."),
    ("004", "Missed trash pickup", "Trash or recycling was not collected."),
    ("005", "Abandoned vehicle", "A vehicle parked for more than 72 hours."),
]


class Clock:
    """The fleet's virtual now, set by whoever drives the simulation."""

    def __init__(self, now: datetime):
        self._now = now
        self._lock = threading.Lock()

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now

    def now(self) -> datetime:
        with self._lock:
            return self._now


@dataclass
class City:
    key: str
    name: str
    host: str
    formats: tuple[str, ...] = ("json", "xml")
    tickets_per_hour: float = 3.0
    latency_s: tuple[float, float] = (0.01, 0.05)  # uniform range, per call
    down: Callable[[datetime], bool] = lambda now: False  # 503 maintenance page
    requests_error_rate: float = 0.0  # share of GET requests answered with 500
    services: list[tuple[str, str, str]] = field(default_factory=lambda: list(SERVICES))
    listening: bool = True  # False: nothing listens (connection refused)
    page_size: int | None = None  # answers at most this many requests a call
    pages: bool = True  # honours page= (with page_size set); False: every page is the first


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tickets(city: City, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """The city's service requests with requested_datetime in [start, end), as known at now."""
    out = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    end = min(end, now)
    while hour < end:
        rng = _rng(city.key, hour.isoformat())
        count = sum(1 for _ in range(int(city.tickets_per_hour * 4)) if rng.random() < 0.25)
        for n in range(count):
            requested = hour + timedelta(seconds=rng.randrange(3600))
            if not start <= requested < end:
                continue
            code, name, _ = city.services[rng.randrange(len(city.services))]
            closes = requested + timedelta(hours=rng.expovariate(1 / 30))
            closed = closes <= now
            out.append({
                "service_request_id": f"{city.key[:3].upper()}-{hour:%Y%m%d%H}-{n}",
                "status": "closed" if closed else "open",
                "status_notes": "Completed." if closed else None,
                "service_name": name,
                "service_code": code,
                "requested_datetime": _iso(requested),
                "updated_datetime": _iso(closes if closed else requested),
                "address": f"{rng.randrange(1, 999)} Main St",
                "lat": 40.0 + rng.random() / 10,
                "long": -89.0 - rng.random() / 10,
            })
        hour += timedelta(hours=1)
    out.sort(key=lambda t: t["requested_datetime"], reverse=True)
    return out[:1000]  # the spec's cap


def to_xml(root: str, item: str, items: list[dict[str, Any]]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    for d in items:
        parts.append(f"<{item}>")
        for k, v in d.items():
            parts.append(f"<{k}/>" if v is None else f"<{k}>{escape(str(v).lower() if isinstance(v, bool) else str(v))}</{k}>")
        parts.append(f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


MAINTENANCE_PAGE = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"


def make_handler(city: City, clock: Clock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, status: int, fmt: str, message: str) -> None:
            if fmt == "xml":
                body = to_xml("errors", "error", [{"code": status, "description": message}])
                self.send(status, body, "text/xml; charset=utf-8")
            else:
                self.send(status, json.dumps([{"code": status, "description": message}]).encode(), "application/json; charset=utf-8")

        def do_GET(self) -> None:
            now = clock.now()
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            rng = _rng(city.key, now.isoformat(), self.path)
            time.sleep(rng.uniform(*city.latency_s))
            if city.down(now):
                self.send(503, MAINTENANCE_PAGE, "text/html; charset=utf-8")
                return
            parts = url.path.split("/open311/v2/", 1)[-1]
            method, _, fmt = parts.rpartition(".")
            if fmt not in city.formats:
                self.error(404, "xml" if "xml" in city.formats else "json", f"format {fmt or 'none'} not supported")
                return
            if method == "services":
                items = [{"service_code": c, "service_name": n, "description": d, "metadata": c == city.services[0][0],
                          "type": "realtime", "keywords": "", "group": "Streets"} for c, n, d in city.services]
                self.reply(fmt, "services", "service", items)
            elif method.startswith("services/"):
                code = method.split("/", 1)[1]
                if code != city.services[0][0]:
                    self.error(404, fmt, f"no service definition for {code}")
                    return
                attribute = {"variable": True, "code": "SIZE", "datatype": "singlevaluelist", "required": True,
                             "datatype_description": None, "order": 1, "description": "How big is it?",
                             "values": [{"key": "S", "name": "Small"}, {"key": "L", "name": "Large"}]}
                if fmt == "xml":
                    values = "".join(f"<value><key>{v['key']}</key><name>{v['name']}</name></value>" for v in attribute["values"])
                    body = (f'<?xml version="1.0" encoding="utf-8"?><service_definition><service_code>{code}</service_code>'
                            f"<attributes><attribute><variable>true</variable><code>SIZE</code><datatype>singlevaluelist</datatype>"
                            f"<required>true</required><datatype_description/><order>1</order><description>How big is it?</description>"
                            f"<values>{values}</values></attribute></attributes></service_definition>").encode()
                    self.send(200, body, "text/xml; charset=utf-8")
                else:
                    self.send(200, json.dumps({"service_code": code, "attributes": [attribute]}).encode(), "application/json; charset=utf-8")
            elif method.startswith("requests/"):
                wanted = method.split("/", 1)[1]
                try:
                    hour = datetime.strptime(wanted.split("-")[1], "%Y%m%d%H").replace(tzinfo=timezone.utc)
                except (IndexError, ValueError):
                    self.error(404, fmt, f"no service request {wanted}")
                    return
                found = [t for t in tickets(city, hour, hour + timedelta(hours=1), now) if t["service_request_id"] == wanted]
                if not found:
                    self.error(404, fmt, f"no service request {wanted}")
                    return
                self.reply(fmt, "service_requests", "request", found)
            elif method == "requests":
                if rng.random() < city.requests_error_rate:
                    self.error(500, fmt, "internal error")
                    return
                try:
                    end = datetime.fromisoformat(query["end_date"]) if "end_date" in query else now
                    start = datetime.fromisoformat(query["start_date"]) if "start_date" in query else end - timedelta(days=90)
                except ValueError:
                    self.error(400, fmt, "start_date and end_date must be W3C date-times")
                    return
                if end - start > timedelta(days=90):
                    self.error(400, fmt, "start_date and end_date may not span more than 90 days")
                    return
                found = tickets(city, start, end, now)
                if city.page_size:
                    page = int(query.get("page", "1")) if query.get("page", "1").isdigit() and city.pages else 1
                    size = min(int(query["page_size"]), city.page_size) if query.get("page_size", "").isdigit() else city.page_size
                    found = found[(page - 1) * size: page * size]
                self.reply(fmt, "service_requests", "request", found)
            else:
                self.error(404, fmt, f"no such method: {method}")

        def reply(self, fmt: str, root: str, item: str, items: list[dict[str, Any]]) -> None:
            if fmt == "xml":
                self.send(200, to_xml(root, item, items), "text/xml; charset=utf-8")
            else:
                self.send(200, json.dumps(items).encode(), "application/json; charset=utf-8")

    return Handler


def free_port(host: str) -> int:
    """A port nobody listens on (for a city that is gone)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Fleet:
    def __init__(self, cities: list[City], clock: Clock):
        self.cities = cities
        self.clock = clock
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.ports: dict[str, int] = {}

    def __enter__(self) -> Fleet:
        for city in self.cities:
            if not city.listening:
                self.ports[city.key] = free_port(city.host)
                continue
            server = ThreadingHTTPServer((city.host, 0), make_handler(city, self.clock))
            server.daemon_threads = True
            self.servers[city.key] = server
            self.ports[city.key] = server.server_address[1]
            threading.Thread(target=server.serve_forever, name=f"city-{city.key}", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def base_url(self, key: str) -> str:
        city = next(c for c in self.cities if c.key == key)
        return f"http://{city.host}:{self.ports[key]}/open311/v2/"
