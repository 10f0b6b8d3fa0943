"""Light cities for load: hundreds of simulated Open311 servers on their own loopback addresses, served by a few
asyncio processes, each answering every call after a fixed delay of its own time and logging what it really did.

The full simulator (simulator/server.py) spends a millisecond or more of CPU on each answer; a thousand of them in
one process would queue behind each other, and the crawler's figures would be measured against a server's queue.
These answer the few calls a steady crawl makes (services, requests, requests/ID) from canned bodies, and log, for
each answer, when its connection was accepted, when the request arrived (the kernel's stamp of its packet, so that a
server process kept from the CPU by others cannot hide its own queue) and when the answer was written.

    with LightCities(1000, now) as cities:
        cities.base_url(i)
        ...
    cities.log   # (city, method, accepted, read, ready) per answer, time.time() seconds
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import struct
import time
from datetime import datetime, timedelta
from typing import Any

PROCESSES = 4  # a city's answer is never late for want of a process to send it
SERVICES = json.dumps([{"service_code": "001", "service_name": "Pothole", "description": "A pothole.", "metadata": False,
                        "type": "realtime", "keywords": "", "group": "Streets"}]).encode()
Logged = tuple[int, str, float, float, float]  # city, method, accepted, read (its first packet's arrival), ready to send
SO_TIMESTAMPNS = 35  # asm-generic/socket.h: each packet's arrival, stamped by the kernel


def requests_body(now: datetime) -> bytes:
    """48 requests of the day before now: a listing the crawler parses and stores, as a city's would be."""
    return json.dumps([{"service_request_id": f"R-{n}", "status": "open", "service_code": "001", "service_name": "Pothole",
                        "requested_datetime": (now - timedelta(minutes=25 * n + 5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "updated_datetime": (now - timedelta(minutes=25 * n + 5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "description": "A pothole as deep as a shoe.", "address": "1 Main St", "lat": 41.9, "long": -87.6}
                       for n in range(48)]).encode()


def host(i: int) -> str:
    """City i's own loopback address (127.0.10.1 onwards)."""
    return f"127.0.{10 + i // 250}.{1 + i % 250}"


class _City:
    """One city's listening socket and connections on an event loop: each request's head read (stamped by the kernel as
    it arrived, so a loop busy elsewhere does not hide the wait from the log), answered delay_s later, and logged."""

    def __init__(self, city: int, listener: socket.socket, log: list[Logged], bodies: dict[str, bytes], delay_s: float):
        self.city, self.listener, self.log, self.bodies, self.delay_s = city, listener, log, bodies, delay_s
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(listener, self.accept)

    def accept(self) -> None:
        """A connection: read whenever it has bytes."""
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.loop.add_reader(conn, self.read, conn, time.time(), bytearray())

    def read(self, conn: socket.socket, accepted: float, buffer: bytearray) -> None:
        """Bytes of requests: each whole head is answered delay_s after its first packet arrived."""
        try:
            data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            self.loop.remove_reader(conn)
            conn.close()
            return
        arrived = next((s + ns / 1e9 for level, kind, value in ancillary if kind == SO_TIMESTAMPNS
                        for s, ns in [struct.unpack_from("qq", value)]), time.time())
        buffer += data
        while b"\r\n\r\n" in buffer:
            head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
            buffer[:] = rest
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            self.loop.call_at(self.loop.time() + self.delay_s - (time.time() - arrived), self.answer, conn, path, accepted, arrived)

    def answer(self, conn: socket.socket, path: str, accepted: float, read: float) -> None:
        """The answer to one request, from the canned bodies, written at once and logged."""
        method = "services" if path.endswith("/services.json") else "request" if "/requests/" in path else \
            "requests" if path.endswith("/requests.json") else None
        body = self.bodies.get(method or "", b'[{"code":404,"description":"not here"}]')
        status = b"200 OK" if method else b"404 Not Found"
        ready = time.time()  # before the answer leaves: the crawler cannot have it, nor send its next call, any sooner
        try:
            conn.send(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                      + b"\r\n\r\n" + body)
        except OSError:
            return  # the crawler went away
        self.log.append((self.city, method or path, accepted, read, ready))


def _serve(cities: list[int], now: datetime, delay_s: float, conn: Any) -> None:
    """A child process: serve these cities until told to stop, then send back the log."""
    log: list[Logged] = []
    listing = requests_body(now)
    bodies = {"services": SERVICES, "requests": listing, "request": json.dumps(json.loads(listing)[:1]).encode()}

    async def main() -> None:
        listeners = []
        for i in cities:
            listener = socket.socket()
            listener.bind((host(i), 0))
            listener.listen(64)
            listener.setblocking(False)
            listeners.append(listener)
            _City(i, listener, log, bodies, delay_s)
        conn.send({i: s.getsockname()[1] for i, s in zip(cities, listeners)})
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        for listener in listeners:
            listener.close()

    asyncio.run(main())
    conn.send(log)


class LightCities:
    """n light cities in PROCESSES child processes; their log is in .log once the block is left."""

    def __init__(self, n: int, now: datetime, delay_s: float = 0.2, processes: int = PROCESSES):
        self.n, self.now, self.delay_s, self.processes = n, now, delay_s, processes
        self.ports: dict[int, int] = {}
        self.log: list[Logged] = []

    def __enter__(self) -> LightCities:
        context = multiprocessing.get_context("fork")
        self._children = []
        for k in range(min(self.processes, self.n)):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(list(range(k, self.n, self.processes)), self.now, self.delay_s, child),
                                      daemon=True, name="light-cities")
            process.start()
            self._children.append((parent, process))
            self.ports.update(parent.recv())
        return self

    def __exit__(self, *exc: object) -> None:
        for parent, process in self._children:
            parent.send("stop")
            self.log += parent.recv()
            process.join(10)

    def base_url(self, i: int) -> str:
        """City i's base URL."""
        return f"http://{host(i)}:{self.ports[i]}/open311/v2/"
