"""Where one call's time went, read at the socket: the round trip, the server's own time, the total.

A call's total time from the runner carries the network twice: a city across an ocean answers
a GitHub runner in the United States some 200 ms later than the same server next door would. And
under load it carries our own queue: a crawling thread whose answer has arrived may wait for the
interpreter behind others' parsing, or behind the garbage collector. So each call is timed by the
kernel, at the socket (on Linux: SO_TIMESTAMPING's software stamps, and TCP_INFO):

- the round trip (RTT): the TCP handshake of its connection, as the kernel measured it (tcpi_rtt, read
  right after connecting: one SYN to SYN-ACK), for every call on that connection;
- sent: when the request's last byte left for the network (a transmit stamp, from the error queue);
- the first byte: when the answer's first packet arrived (a receive stamp, read with MSG_PEEK before
  http.client reads it), and the last byte: when the last packet read arrived;

so that the time to the first byte (TTFB) is first byte less sent, the server's own time is TTFB less
one round trip, and the total is the handshake's round trip (for a call that opened its connection)
plus the last byte less sent. No wait of ours for the interpreter falls inside any of them.

Where the kernel cannot stamp (not Linux), or the bytes are TLS records (ssl reads and writes the
socket itself, and a TLS 1.3 server's session tickets may arrive before the answer), the client's
own clock is used instead: sent just before the request is written, the first byte when the
answer's head has been read, and the total as the client timed the call.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

LINUX = sys.platform == "linux"
SO_TIMESTAMPING = 37  # asm-generic/socket.h (x86-64, arm64); its control messages have the same number
SOF_TX_SOFTWARE, SOF_RX_SOFTWARE, SOF_SOFTWARE, SOF_OPT_TSONLY = 1 << 1, 1 << 3, 1 << 4, 1 << 11  # linux/net_tstamp.h
STAMPS = SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE | SOF_OPT_TSONLY
TCPI_RTT = 68  # offset of tcpi_rtt (microseconds) in struct tcp_info (linux/tcp.h)
ANCILLARY = socket.CMSG_SPACE(48) + socket.CMSG_SPACE(64) if LINUX else 0  # struct scm_timestamping, and an IP_RECVERR
STALE_S = 0.001  # a packet stamped before the request was sent was already waiting: not the answer


@dataclass(frozen=True)
class Timing:
    """One call as the transport saw it, in seconds (None where not known): the round trip of its connection, the time
    to the first byte, whether it opened its connection, and the time from the request sent to the last byte."""

    rtt_s: float | None = None
    ttfb_s: float | None = None
    connected: bool = False
    last_s: float | None = None

    @property
    def server_s(self) -> float | None:
        """The server's own time: the time to the first byte less one round trip (never below 0)."""
        if self.rtt_s is None or self.ttfb_s is None:
            return None
        return max(0.0, self.ttfb_s - self.rtt_s)

    @property
    def total_s(self) -> float | None:
        """The call on the wire: the handshake's round trip if it opened its connection, then the request sent to the
        answer's last byte; None where the kernel's stamps are not to be had (then the client's own clock says)."""
        if self.last_s is None or (self.connected and self.rtt_s is None):
            return None
        return (self.rtt_s or 0.0) * self.connected + self.last_s


def handshake_rtt(sock: socket.socket) -> float | None:
    """The round trip of a socket just connected, as the kernel measured its handshake; None where it cannot say."""
    if not LINUX or not isinstance(sock, socket.socket):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCPI_RTT + 4)
        return float(struct.unpack_from("I", info, TCPI_RTT)[0] / 1e6)
    except (OSError, struct.error, AttributeError):
        return None


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The software stamp among a message's control messages (struct scm_timestamping's first timespec)."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(value) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", value)
            return float(seconds + nanoseconds / 1e9)
    return None


class StampedSocket(socket.socket):
    """A plain TCP socket whose packets the kernel stamps as they leave and arrive: each read notes when the last packet
    it read arrived (once an answer is read whole, its last byte's arrival), and sent() gives when the latest request
    left."""

    __slots__ = ("arrived", "left")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.arrived: float | None = None
        self.left: float | None = None

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """recv_into, through recvmsg_into for its stamp (http.client reads through this)."""
        view = memoryview(buffer).cast("B")
        n, ancillary, _, _ = self.recvmsg_into([view[:nbytes or len(view)]], ANCILLARY, flags)
        if n:
            self.arrived = _stamp(ancillary) or self.arrived
        return n

    def drain(self) -> None:
        """Take the transmit stamps off the error queue (kept there, they would make every poll of the socket say it is
        ready): the latest is when the request's last byte left."""
        timeout = self.gettimeout()
        self.settimeout(0.0)  # else Python waits for the socket to be readable first, which the error queue is not
        try:
            while True:
                _, ancillary, _, _ = self.recvmsg(0, ANCILLARY, socket.MSG_ERRQUEUE)
                self.left = _stamp(ancillary) or self.left
        except OSError:  # BlockingIOError: the queue is empty
            pass
        finally:
            self.settimeout(timeout)

    def first_byte(self, sent: float) -> float | None:
        """Wait for the answer's first packet without reading it, taking the transmit stamps as they come; its arrival
        (the kernel's stamp, as time.time()), or None. An error of the socket (a timeout, a reset) is raised: the read
        that would follow would meet it too."""
        timeout = self.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fileno(), select.POLLIN | select.POLLPRI)
        while True:
            left_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            events = poller.poll(left_ms)
            if any(e & select.POLLERR for _, e in events):
                self.drain()  # a transmit stamp later than the send: taken, or the socket would stay "ready"
            if any(e & (select.POLLIN | select.POLLHUP | select.POLLNVAL | select.POLLPRI) for _, e in events):
                break
            if not events and left_ms == 0:
                raise TimeoutError("timed out")
        try:  # readable now: Python's own wait before the call returns at once
            data, ancillary, _, _ = self.recvmsg(1, ANCILLARY, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        arrived = _stamp(ancillary) if data else None
        return arrived if arrived is not None and arrived >= sent - STALE_S else None


def stamped(sock: socket.socket) -> socket.socket:
    """The same connection as a StampedSocket (on Linux, where the kernel stamps; elsewhere it is left as is)."""
    if not LINUX or type(sock) is not socket.socket:
        return sock
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, STAMPS)
    except OSError:
        return sock
    timeout = sock.gettimeout()
    out = StampedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    out.settimeout(timeout)
    return out


class Stopwatch:
    """Mixed into urllib3's connection classes: the round trip of each new socket, and per request when it was sent and
    when its answer's first and last bytes arrived (timing(), last_s())."""

    _open311_rtt: float | None = None
    _open311_sent: float | None = None
    _open311_first: float | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]  # a mixin: urllib3's connection class comes after it
        self._open311_rtt = handshake_rtt(sock)
        # A TLS socket is read and written by ssl, not through a StampedSocket: its transmit stamps would be left on the
        # error queue, and every wait on the socket would wake at once.
        return sock if self.is_tls() else stamped(sock)

    def is_tls(self) -> bool:
        """Whether this connection speaks TLS."""
        return getattr(self, "default_port", 80) == 443

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """A request: its clocks start afresh."""
        self._open311_sent = self._open311_first = None
        sock = getattr(self, "sock", None)
        if isinstance(sock, StampedSocket):
            sock.arrived = sock.left = None
        return super().request(*args, **kwargs)  # type: ignore[misc]  # a mixin, as above

    def send(self, data: Any) -> Any:
        """The request's bytes to the kernel: the client's own clock starts as close to the system call as it can (what
        counts where the kernel's transmit stamp is not to be had), and the stamp is taken off the error queue at once
        (it is there by the time the call returns), so that the wait for the answer wakes only for the answer."""
        if self._open311_sent is None:
            self._open311_sent = time.time()
        out = super().send(data)  # type: ignore[misc]  # a mixin, as above
        sock = getattr(self, "sock", None)
        if isinstance(sock, StampedSocket):
            sock.drain()
        return out

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        """The answer: its first packet's arrival is read at the socket before http.client reads the head."""
        sock = getattr(self, "sock", None)
        if isinstance(sock, StampedSocket) and self._open311_sent is not None:
            self._open311_first = sock.first_byte(self._open311_sent)
            self._open311_sent = sock.left if sock.left is not None and self._open311_first is not None else self._open311_sent
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]  # a mixin, as above
        if self._open311_first is None:
            self._open311_first = time.time()  # the head read: our own queue may be in it
        return response

    def timing(self, connected: bool) -> Timing:
        """The latest request's timing, as far as its answer's head."""
        sent, first = self._open311_sent, self._open311_first
        return Timing(self._open311_rtt, first - sent if sent is not None and first is not None else None, connected)

    def last_s(self) -> float | None:
        """From the latest request sent to the arrival of its answer's last byte, once read whole; None where the kernel
        did not stamp it."""
        sock, sent = getattr(self, "sock", None), self._open311_sent
        arrived = sock.arrived if isinstance(sock, StampedSocket) else None
        return arrived - sent if arrived is not None and sent is not None and arrived >= sent else None
