"""Keep the crawl away from addresses that are not the public internet.

The registry is edited by strangers through pull requests and the crawl runs on a CI runner,
so a base_url must never reach the runner itself, its cloud's metadata service or a private
network. Checked twice: the host's addresses before connecting, and the peer of every socket
actually opened (which also covers redirects and DNS answers that change in between).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class RefusedAddress(OSError):
    """The crawler will not talk to this address."""


def address_refusal(address: str, allow_loopback: bool) -> str | None:
    """Why this IP address is off limits, or None when it may be crawled."""
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


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to. Raises socket.gaierror."""
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
    """

    _current = threading.local()

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> SocketDeadline:
        SocketDeadline._current.value = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        SocketDeadline._current.value = None

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    @classmethod
    def current(cls) -> SocketDeadline | None:
        return getattr(cls._current, "value", None)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _check_peer(conn: HTTPConnection, sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    reason = address_refusal(peer, conn._open311_allow_loopback)  # type: ignore[attr-defined]
    if reason:
        sock.close()
        raise RefusedAddress(reason)
    deadline = SocketDeadline.current()
    if deadline is not None:
        deadline.watch(sock)


class _GuardedHTTPConnection(HTTPConnection):
    _open311_allow_loopback = False

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    _open311_allow_loopback = False

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # before the TLS handshake: nothing is sent to a refused peer
        _check_peer(self, sock)
        return sock


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every socket is checked against address_refusal."""

    def __init__(self, allow_loopback: bool, **kwargs):  # type: ignore[no-untyped-def]
        self.allow_loopback = allow_loopback
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        allow = self.allow_loopback
        http_conn = type("Conn", (_GuardedHTTPConnection,), {"_open311_allow_loopback": allow})
        https_conn = type("TLSConn", (_GuardedHTTPSConnection,), {"_open311_allow_loopback": allow})
        http_pool = type("Pool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
        https_pool = type("TLSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
        pm: urllib3.PoolManager = self.poolmanager
        pm.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
