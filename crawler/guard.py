"""Keep the crawl away from addresses that are not the public internet.

The registry is edited by strangers through pull requests and the crawl runs on a CI runner,
so a base_url must never reach the runner itself, its cloud's metadata service or a private
network. Checked twice: the host's addresses before connecting, and the peer of every socket
actually opened (which also covers redirects and DNS answers that change in between).
"""

from __future__ import annotations

import heapq
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class RefusedAddress(OSError):
    """The crawler will not talk to this address."""


@lru_cache(maxsize=1 << 12)
def address_refusal(address: str, allow_loopback: bool) -> str | None:
    """Why this IP address is off limits, or None when it may be crawled (read once per address: twice a call)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and ip.is_loopback:
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    kind = "loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "private" if ip.is_private else "non-public"
    hint = "" if allow_loopback or not ip.is_loopback else " (--allow-loopback permits 127.0.0.0/8 and ::1)"
    return f"refused {kind} address {ip}{hint}"


Resolver = Callable[[str, int], list[str]]


@lru_cache(maxsize=1 << 12)
def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to. Raises socket.gaierror. An address is itself, without asking the
    resolver (a call into it lets every other crawling thread take the interpreter, and then waits to get it back)."""
    if _literal(host):
        return [host]
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def host_refusal(host: str, port: int, allow_loopback: bool, resolver: Resolver = resolve) -> str | None:
    """Resolve host; why any of its addresses is off limits, or None. Raises socket.gaierror."""
    for address in resolver(host, port):
        reason = address_refusal(address, allow_loopback)
        if reason:
            return reason
    return None


class SocketDeadline:
    """Shut every socket this thread opens during a call once the call's time is up.

    Socket timeouts bound each read, not the call: a server dripping a byte a second would
    hold a read of 64 KiB for 18 hours. Shutting the socket down from a timer ends any read.
    One watchdog thread serves every call (a thread per call costs a crawl of 200 endpoints
    a thousand thread starts).
    """

    _current = threading.local()

    def __init__(self, seconds: float):
        self.expired = False
        self.at = time.monotonic() + max(0.0, seconds)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> SocketDeadline:
        SocketDeadline._current.value = self
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _WATCHDOG.discard(self)
        SocketDeadline._current.value = None

    def expire(self) -> None:
        """Shut the socket: a server dripping bytes can outlast any socket timeout, never the deadline."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock: socket.socket) -> None:
        """Give the call's sockets to the watchdog until the deadline, and take them back after."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    @classmethod
    def current(cls) -> SocketDeadline | None:
        """The deadline of the call on this thread, for the sockets it opens."""
        return getattr(cls._current, "value", None)


class _Watchdog:
    """One daemon thread that expires SocketDeadlines when their time comes."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SocketDeadline]] = []
        self._live: set[int] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: SocketDeadline) -> None:
        """Watch a deadline; one thread serves every call, instead of a timer thread per call."""
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, id(deadline), deadline))
            self._live.add(id(deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="socket-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def discard(self, deadline: SocketDeadline) -> None:
        """Stop watching a deadline whose call ended in time."""
        with self._wake:
            self._live.discard(id(deadline))  # left in the heap; skipped when its time comes

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                at, key, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                due = key in self._live
                self._live.discard(key)
            if due:
                deadline.expire()


_WATCHDOG = _Watchdog()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _check_peer(conn: HTTPConnection, sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    reason = address_refusal(peer, conn._open311_allow_loopback)  # type: ignore[attr-defined]  # set by _PeerCheck, mixed in
    if reason:
        sock.close()
        raise RefusedAddress(reason)
    deadline = SocketDeadline.current()
    if deadline is not None:
        deadline.watch(sock)


class _PeerCheck:
    """Mixed into urllib3's connection classes: every new socket's peer is checked, before the TLS
    handshake, so nothing is sent to a refused address; and a kept-alive socket is watched by the
    deadline of each call that uses it again."""

    _open311_allow_loopback = False

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]  # a mixin: urllib3's connection class comes after it
        _check_peer(self, sock)  # type: ignore[arg-type]  # self is an HTTPConnection once mixed in
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Before a request on a socket kept alive, put it under this call's deadline (a new one is, as it opens)."""
        sock = getattr(self, "sock", None)
        deadline = SocketDeadline.current()
        if sock is not None and deadline is not None:
            deadline.watch(sock)
        return super().request(*args, **kwargs)  # type: ignore[misc]  # a mixin, as above


def guarded_connections(allow_loopback: bool, mixins: tuple[type, ...] = ()) -> dict[str, type[HTTPConnection]]:
    """urllib3's connection classes, by scheme, whose every socket is checked against address_refusal (and put under
    the call's deadline), with mixins (the client's stopwatch) below the check. Built on the classes urllib3 is
    configured with when a client is made (vcrpy's recorder swaps them in tests; then its stubs make the connections)."""
    allow = {"_open311_allow_loopback": allow_loopback}
    return {"http": type("Conn", (_PeerCheck, *mixins, HTTPConnectionPool.ConnectionCls), allow),
            "https": type("TLSConn", (_PeerCheck, *mixins, HTTPSConnectionPool.ConnectionCls), allow)}
