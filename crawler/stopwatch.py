"""Where one call's time went, read at the socket: the round trip, and the server's own time.

A call's total time from the runner carries the network twice: a city across an ocean answers
a GitHub runner in the United States some 200 ms later than the same server next door would. And
under load it carries our own queue: a crawling thread whose answer has arrived may wait for the
interpreter behind others' parsing. So each call also records:

- the round trip (RTT): the TCP handshake of its connection, as the kernel measured it (TCP_INFO's
  tcpi_rtt, read right after connecting: one SYN to SYN-ACK), for every call on that connection;
- the time to the first byte (TTFB): from the request handed to the kernel to the first byte of the
  answer, as the kernel stamped its arrival (SO_TIMESTAMPNS, read with MSG_PEEK before http.client
  reads it), so no wait of ours for the interpreter falls inside it;

and the server's time is TTFB minus one round trip. Where the platform has no such stamps (not
Linux), or the bytes are TLS records (a TLS 1.3 server's session tickets may arrive before the
answer), the first byte is the moment the answer's head was read, and the round trip unknown
without TCP_INFO.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

LINUX = sys.platform == "linux"
SO_TIMESTAMPNS = 35  # asm-generic/socket.h (x86-64, arm64): a receive time on each packet, in ancillary data
TCPI_RTT = 68  # offset of tcpi_rtt (microseconds) in struct tcp_info (linux/tcp.h)
STALE_S = 0.001  # bytes stamped before the request was sent were already waiting: not the answer


@dataclass(frozen=True)
class Timing:
    """One call as the transport saw it: the round trip of its connection and its time to the first byte, in seconds
    (None where not known), and whether it opened its connection."""

    rtt_s: float | None = None
    ttfb_s: float | None = None
    connected: bool = False

    @property
    def server_s(self) -> float | None:
        """The server's own time: the time to the first byte less one round trip (never below 0)."""
        if self.rtt_s is None or self.ttfb_s is None:
            return None
        return max(0.0, self.ttfb_s - self.rtt_s)


def handshake_rtt(sock: socket.socket) -> float | None:
    """The round trip of a socket just connected, as the kernel measured its handshake; None where it cannot say."""
    if not LINUX or not isinstance(sock, socket.socket):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCPI_RTT + 4)
        return struct.unpack_from("I", info, TCPI_RTT)[0] / 1e6
    except (OSError, struct.error, AttributeError):
        return None


def stamp_arrivals(sock: socket.socket) -> None:
    """Ask the kernel to stamp when each packet of this socket arrives."""
    if LINUX and isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass


def first_byte(sock: Any, sent: float | None) -> float | None:
    """When the answer's first byte arrived (the kernel's stamp, as time.time()), waiting for it without reading it;
    None where the stamp cannot be had. An error of the socket (a timeout, a reset) is raised: the read that would
    follow would meet it too."""
    if not LINUX or sent is None or not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
        return None
    data, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16 and data:
            seconds, nanoseconds = struct.unpack_from("qq", value)
            arrived = seconds + nanoseconds / 1e9
            return arrived if arrived >= sent - STALE_S else None
    return None


class Stopwatch:
    """Mixed into urllib3's connection classes: the round trip of each new socket, and per request the moment it was
    sent and the moment its answer's first byte arrived (timing())."""

    _open311_rtt: float | None = None
    _open311_sent: float | None = None
    _open311_first: float | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        self._open311_rtt = handshake_rtt(sock)
        stamp_arrivals(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """A request: its clocks start afresh."""
        self._open311_sent = self._open311_first = None
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def send(self, data: Any) -> Any:
        """The request's first bytes to the kernel: the clock starts as close to the system call as it can."""
        if self._open311_sent is None:
            self._open311_sent = time.time()
        return super().send(data)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        """The answer: its first byte's arrival is read at the socket before http.client reads the head."""
        self._open311_first = first_byte(getattr(self, "sock", None), self._open311_sent)
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        if self._open311_first is None:
            self._open311_first = time.time()  # the head read: our own queue may be in it
        return response

    def timing(self, connected: bool) -> Timing:
        """The latest request's timing."""
        sent, first = self._open311_sent, self._open311_first
        return Timing(self._open311_rtt, first - sent if sent is not None and first is not None else None, connected)
