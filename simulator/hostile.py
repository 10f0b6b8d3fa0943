"""Loopback servers that misbehave on purpose, one behaviour each, for the crawler's tests.

A raw socket server (not http.server), so that it can do what no well-behaved library would:
hang after accepting, reset the connection, drip bytes, lie about lengths. Each server logs
the requests it received (time, path, headers) so tests can check what the crawler sent.

    with Hostile("drip", "127.0.1.9") as server:
        server.base_url   # http://127.0.1.9:PORT/open311/v2/
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVICES = json.dumps([
    {"service_code": "001", "service_name": "Pothole", "description": "A pothole.", "metadata": True, "type": "realtime",
     "keywords": "", "group": "Streets"},
    {"service_code": "002", "service_name": "Graffiti", "description": "Graffiti.", "metadata": False, "type": "realtime",
     "keywords": "", "group": "Clean"},
]).encode()
A1_REQUESTED = "2026-11-20T02:00:00Z"  # within the day before the tests' crawls (NOW, and the early one that asks for definitions)
REQUESTS = json.dumps([
    {"service_request_id": "A-1", "status": "open", "service_code": "001", "requested_datetime": A1_REQUESTED,
     "updated_datetime": A1_REQUESTED},
]).encode()
DEFINITION = json.dumps({"service_code": "001", "attributes": [
    {"variable": True, "code": "DEPTH", "datatype": "number", "required": False, "datatype_description": None, "order": 1,
     "description": "How deep?", "values": []}]}).encode()
XML_BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10))
            + b"]><services><service><service_code>&lol9;</service_code></service></services>")
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Back soon</h1></body></html>"
CERTS = Path(__file__).resolve().parent / "certs"  # self-signed: no client trusts it
PRIVATE_TARGET = "http://metadata.internal.test/latest/meta-data/"  # tests resolve this name to 169.254.169.254

BEHAVIOURS = (
    "open311",  # a correct, small Open311 server (JSON only)
    "hang", "reset", "unavailable", "html", "truncated", "cut_off", "xml_bomb", "gzip_bomb", "huge",
    "rate_limited", "rate_limited_once", "unavailable_once", "redirect_loop", "redirect_private", "drip", "drip_headers",
    "echo_404",  # a 404 whose description repeats the request line, query (and any api_key) included
    "errors_200",  # 200 with the spec's error list instead of the answer
    "tls",  # HTTPS with a self-signed certificate
)


@dataclass
class Seen:
    """A request as a hostile server saw it, for the tests to assert what the crawler sent."""

    at: float
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Hostile:
    """A raw-socket server that misbehaves in one named way (simulator/hostile.py's module docstring lists them)."""

    behaviour: str
    host: str = "127.0.0.1"
    drip_every_s: float = 0.2
    retry_after: str = "1"
    seen: list[Seen] = field(default_factory=list)
    open_connections: int = 0
    most_connections: int = 0  # the most ever open at once: politeness says 1

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {self.behaviour!r}")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._limited: set[str] = set()

    def __enter__(self) -> Hostile:
        owner = self
        if self.behaviour == "gzip_bomb":
            gzip_bomb()  # made before the first call: compressing 64 MiB took longer than a call's second on a busy CPU

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        self.server = socketserver.ThreadingTCPServer((self.host, 0), Handler, bind_and_activate=False)
        self.server.allow_reuse_address = True
        self.server.daemon_threads = True
        self.server.server_bind()
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, name=f"hostile-{self.behaviour}", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        """The server's base URL, as a registry entry would name it."""
        scheme = "https" if self.behaviour == "tls" else "http"
        return f"{scheme}://{self.host}:{self.server.server_address[1]}/open311/v2/"

    # -- the wire ------------------------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        with self._lock:
            self.open_connections += 1
            self.most_connections = max(self.most_connections, self.open_connections)
        try:
            if self.behaviour == "tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(CERTS / "selfsigned.pem", CERTS / "selfsigned.key")
                sock = context.wrap_socket(sock, server_side=True)
            if self.behaviour == "drip_headers":
                self._read_head(sock)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n":
                    if self._stop.wait(self.drip_every_s):
                        return
                    sock.sendall(bytes([byte]))
                return
            head = self._read_head(sock)
            if head is not None:
                self._answer(sock, *head)
        except OSError:
            pass  # the client went away: that is its right
        finally:
            with self._lock:
                self.open_connections -= 1
            try:
                sock.close()
            except OSError:
                pass

    def _read_head(self, sock: socket.socket) -> tuple[str, dict[str, str]] | None:
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        parts = urlsplit(target)
        with self._lock:
            self.seen.append(Seen(time.monotonic(), parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}, headers))
        return target, headers

    def _send(self, sock: socket.socket, status: str, body: bytes, ctype: str = "application/json; charset=utf-8",
              extra: dict[str, str] | None = None, length: int | None = None) -> None:
        headers = {"Content-Type": ctype, "Content-Length": str(len(body) if length is None else length),
                   "Connection": "close", **(extra or {})}
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + body)

    def _answer(self, sock: socket.socket, target: str, headers: dict[str, str]) -> None:
        b = self.behaviour
        path = urlsplit(target).path
        if b == "hang":
            self._stop.wait(60)
        elif b == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif b == "unavailable":
            self._send(sock, "503 Service Unavailable", HTML_PAGE, "text/html")
        elif b == "html":
            self._send(sock, "200 OK", HTML_PAGE, "text/html")
        elif b == "truncated":
            self._send(sock, "200 OK", SERVICES[: len(SERVICES) // 2])
        elif b == "cut_off":
            self._send(sock, "200 OK", SERVICES[:50], length=len(SERVICES))
        elif b == "xml_bomb":
            self._send(sock, "200 OK", XML_BOMB, "text/xml; charset=utf-8")
        elif b == "gzip_bomb":
            self._send(sock, "200 OK", gzip_bomb(), extra={"Content-Encoding": "gzip"})
        elif b == "huge":
            self._send(sock, "200 OK", b"[", length=10 ** 10)
        elif b == "rate_limited":
            self._send(sock, "429 Too Many Requests", b'[{"code":429,"description":"slow down"}]', extra={"Retry-After": self.retry_after})
        elif b == "rate_limited_once" and path not in self._limited:
            self._limited.add(path)
            self._send(sock, "429 Too Many Requests", b'[{"code":429,"description":"slow down"}]', extra={"Retry-After": self.retry_after})
        elif b == "unavailable_once" and not self._limited:  # the very first call only
            self._limited.add(path)
            self._send(sock, "503 Service Unavailable", HTML_PAGE, "text/html")
        elif b == "echo_404":
            self._send(sock, "404 Not Found", json.dumps([{"code": 404, "description": f"not found: {target}"}]).encode())
        elif b == "errors_200":
            self._send(sock, "200 OK", b'[{"code":400,"description":"jurisdiction_id was not provided"}]')
        elif b == "redirect_loop":
            self._send(sock, "302 Found", b"", extra={"Location": path})
        elif b == "redirect_private":
            self._send(sock, "302 Found", b"", extra={"Location": PRIVATE_TARGET})
        elif b == "drip":
            self._send(sock, "200 OK", b"", length=100_000)
            while not self._stop.wait(self.drip_every_s):
                sock.sendall(b" ")
        else:
            self._open311(sock, target)

    def _open311(self, sock: socket.socket, target: str) -> None:
        path, query = urlsplit(target).path, {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
        if path.endswith("/services.json"):
            self._send(sock, "200 OK", SERVICES)
        elif path.endswith("/services/001.json"):
            self._send(sock, "200 OK", DEFINITION)
        elif path.endswith("/requests.json"):  # the date filter honoured, as the spec says (on requested_datetime)
            within = query.get("start_date", A1_REQUESTED) <= A1_REQUESTED <= query.get("end_date", A1_REQUESTED)
            self._send(sock, "200 OK", REQUESTS if within else b"[]")
        elif path.endswith("/requests/A-1.json"):
            self._send(sock, "200 OK", REQUESTS)
        else:
            self._send(sock, "404 Not Found", json.dumps([{"code": 404, "description": f"no {path}"}]).encode())


@functools.cache
def gzip_bomb() -> bytes:
    """About 64 KiB that inflate to 64 MiB."""
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


def private_resolver(real: Any) -> Any:
    """A resolver that sends PRIVATE_TARGET's host to the cloud metadata address, the rest to real."""
    def resolve(host: str, port: int) -> list[str]:
        if host == urlsplit(PRIVATE_TARGET).hostname:
            return ["169.254.169.254"]
        return list(real(host, port))
    return resolve
