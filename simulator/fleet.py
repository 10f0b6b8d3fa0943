"""Serve a world's cities, each on its own loopback address, in this process or a child one."""

from __future__ import annotations

import multiprocessing
import selectors
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, cast

from simulator.opendata import Portal
from simulator.scenario import City, city
from simulator.server import handler_for
from simulator.serving import CityState, Clock, LoopbackHTTPServer
from simulator.world import World

PORTAL_RESOURCE = "open-3110"  # a Socrata-style resource id: four and four


def host_of(world: World, city_id: str) -> str:
    """The city's own address, or one given by its place in the world (127.0.5.x onwards)."""
    city = world.cities[city_id]
    if city.host:
        return city.host
    n = list(world.cities).index(city_id)
    return f"127.0.{5 + n // 250}.{1 + n % 250}"


class Fleet:
    """One HTTP server per city, in this process. `with Fleet(world, clock) as fleet: fleet.base_url(id)`."""

    def __init__(self, world: World, clock: Clock | None = None):
        self.world = world
        self.clock = clock or Clock()
        self.servers: dict[str, LoopbackHTTPServer] = {}
        self.states: dict[str, CityState] = {}
        self.portals: dict[str, Portal] = {}  # the cities that publish open data

    @classmethod
    def of(cls, cities: list[dict[str, Any] | City], now: datetime, days: float = 3, before: timedelta | None = None) -> Fleet:
        """A fleet of these cities (scenario dicts or Cities), its clock at now, its history `days` long (and
        tickets from `before` that, by default the 91 days the backfill may read)."""
        made = [c if isinstance(c, City) else city(c) for c in cities]
        span = {} if before is None else {"before": before}
        return cls(World(made, now - timedelta(days=days), now + timedelta(days=1), **span), Clock(now))

    def __enter__(self) -> Fleet:
        for city_id, truth in self.world.truth.items():
            state = CityState(truth, self.clock)
            server = LoopbackHTTPServer((host_of(self.world, city_id), 0), handler_for(state))
            server.timeout = 0.5  # handle_request() is only called once a connection waits; never block long on a stray wakeup
            self.servers[city_id], self.states[city_id] = server, state
            if self.world.cities[city_id].open_data:
                self.portals[city_id] = Portal(partial(self._twin_rows, city_id), host_of(self.world, city_id), resource=PORTAL_RESOURCE)
                self.portals[city_id].start()
        self._stop = threading.Event()
        self._accepting = threading.Thread(target=_accept, args=(list(self.servers.values()), self._stop), name="cities", daemon=True)
        self._accepting.start()
        return self

    def _twin_rows(self, city_id: str, moment: datetime | None) -> list[dict[str, Any]]:
        return self.world.twin_rows(city_id, moment or self.clock.now())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accepting.join()
        for server in self.servers.values():
            server.server_close()
        for portal in self.portals.values():
            portal.stop()

    def base_url(self, city_id: str) -> str:
        """A city's base URL, as a registry entry would name it."""
        host, port = cast(tuple[str, int], self.servers[city_id].server_address[:2])
        return f"http://{host}:{port}/open311/v2/"

    def urls(self) -> dict[str, str]:
        """Each city's base URL, and for a city that publishes open data its dataset under "ID:open_data"."""
        urls = {city_id: self.base_url(city_id) for city_id in self.servers}
        urls.update({f"{city_id}:open_data": f"{p.base}resource/{PORTAL_RESOURCE}.json" for city_id, p in self.portals.items()})
        return urls


def _accept(servers: list[LoopbackHTTPServer], stop: threading.Event) -> None:
    """One thread accepts the connections of every city (each answered in a thread of its own): a
    thread per city polling its socket ten times a second cost a thousand cities most of a core."""
    with selectors.DefaultSelector() as selector:
        for server in servers:
            selector.register(server, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                key.fileobj.handle_request()  # type: ignore[union-attr]  # only servers are registered above


def _serve(world: World, conn: Connection) -> None:
    with Fleet(world) as fleet:
        conn.send(fleet.urls())
        conn.recv()  # until the parent says stop, or goes away


@contextmanager
def in_child_process(world: World) -> Iterator[dict[str, str]]:
    """Serve the fleet from a forked process (the crawler and the servers then use both cores)."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(world, child), daemon=True, name="simulated-cities")
    process.start()
    try:
        yield parent.recv()
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        process.join(10)
        if process.is_alive():
            process.kill()
