"""Simulated time on the crawler's side: the real crawler, with a clock that the servers move.

The crawler's Client takes its clock, its sleep and its session as parameters. Here the clock is
virtual: sleeping (pacing, pauses, Retry-After) moves it at once, and each answer moves it by
the latency the city reports in X-Simulated-Latency-Ms and by the simulated network's round trips
to it (X-Simulated-Network-Ms each way: a city across an ocean). Each request tells the city the moment
it is sent (X-Simulated-Now). So the crawler measures and records simulated time exactly as it
would real time, and a month of 30-minute crawls takes minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from crawler.client import Client, Limits, Transport
from crawler.stopwatch import Timing
from records import iso


class VirtualClock:
    """Simulated seconds for the crawler's clock: moved by the latencies the cities report, never slept."""
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        """The simulated seconds, as the crawler's clock."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Pass simulated time: a crawl's pauses cost nothing real."""
        self.t += max(0.0, seconds)


class SimulatedTransport(Transport):
    """The crawler's transport, telling the city when it is, and taking its latency as elapsed time."""

    def __init__(self, clock: VirtualClock, now: datetime):
        super().__init__()
        self.clock = clock
        self.now = now

    def open(self, url: str, headers: dict[str, str], timeout: Any) -> Any:
        """Send the simulated moment with the call, and move the clock by what the call took: the latency the city says
        its server took, and the simulated network's round trips to it (X-Simulated-Network-Ms each way), one for the
        handshake of a new connection and one for the request and its answer, as a real network would."""
        headers = {**headers, "X-Simulated-Now": iso(self.now + timedelta(seconds=self.clock.t))}
        response = super().open(url, headers, timeout)
        server = float(response.headers.get("X-Simulated-Latency-Ms", 0)) / 1000
        rtt = 2 * float(response.headers.get("X-Simulated-Network-Ms", 0)) / 1000
        connected = self.timing.connected
        self.clock.sleep((rtt if connected else 0.0) + rtt + server)
        self.timing = Timing(rtt, rtt + server, connected)
        return response

    def done(self, response: Any, whole: bool) -> None:
        """The answer read: in simulated time all of it came with its first byte (the real socket's stamps are of
        loopback, not of the simulated world)."""
        super().done(response, whole)
        self.timing = replace(self.timing, last_s=self.timing.ttfb_s if whole else None)


LIMITS = Limits()  # the crawler's own, shared: a default made once


def simulated_client(now: datetime, limits: Limits = LIMITS) -> Callable[..., Client]:
    """A client factory for crawl(): the real Client on a virtual clock, for the crawl at `now`."""

    def factory(interval: float, allow_loopback: bool = True, host: str = "", **_: Any) -> Client:
        clock = VirtualClock()
        return Client(SimulatedTransport(clock, now), interval, allow_loopback, limits, clock=clock.monotonic, sleep=clock.sleep)

    return factory
