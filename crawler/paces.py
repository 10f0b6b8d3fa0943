"""What each host taught the crawl of its pace, kept from one crawl to the next.

A host that answers 429 allows fewer calls a minute than it was given; within a crawl the client's pacer slows to
the calls a minute it took before refusing (Pacer.refused, below). Forgotten with the client, the lesson was taught
again by every crawl: a refusal a crawl, 48 a day. So it is kept for a day, read back from the probe records (data/
is the crawl's memory from one run to the next): each crawl of that day starts at the pace taught, and a steady host
refuses at most once a day, when the lesson has lapsed and is taught afresh (its limit may have been raised since).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from records import iso

KEPT = timedelta(days=1)

RATE_WINDOW_S = 60.0  # the window rate limits are counted over, when a host refuses a call


class Pacer:
    """One host's calls start at least `interval` seconds apart; slower once the host refused one (refused)."""

    def __init__(self, interval: float, clock: Callable[[], float]):
        self.interval = interval
        self.clock = clock
        self.last_start: float | None = None
        self.recent: deque[float] = deque()  # the starts of the last RATE_WINDOW_S

    def wait_s(self) -> float:
        """How long to wait before the next call, so a host never sees two calls closer than its interval."""
        if self.last_start is None:
            return 0.0
        return max(0.0, self.last_start + self.interval - self.clock())

    def started(self) -> None:
        """Note a call's start: the interval runs from starts, so a slow answer does not shorten the next wait."""
        self.last_start = now = self.clock()
        self.recent.append(now)
        while self.recent[0] <= now - RATE_WINDOW_S:
            self.recent.popleft()

    def refused(self) -> None:
        """The host answered 429 to the latest call: it allows fewer calls a minute than it took. The call is made
        again when its Retry-After says; the rest of the crawl is paced at the calls a minute the host took before
        refusing (limits are mostly counted over a rolling minute), so it is not refused again and again."""
        now = self.clock()
        taught = taught_interval([t for t in self.recent if t > now - RATE_WINDOW_S][:-1])  # the minute's calls, not the refused
        if taught is not None:
            self.interval = max(self.interval, taught)
        self.last_start = None  # the retry waits for Retry-After, not for the new pace


def taught_interval(before: Sequence[float]) -> float | None:
    """The interval a 429 teaches, given the starts of the calls made in the minute before it: as many calls a minute as
    the host took (limits are mostly counted over a rolling minute); None when it refused the first call of one."""
    return RATE_WINDOW_S / len(before) if before else None



class Paces:
    """Per endpoint, the slowest pace a refusal of the last day taught (seconds between calls), and when."""

    def __init__(self) -> None:
        self.taught: dict[str, tuple[str, float]] = {}  # endpoint -> (crawl of the refusal, interval)

    def learn(self, endpoint: str, crawl: str, calls: Sequence[tuple[int, str]]) -> None:
        """One endpoint's calls of one crawl, in order, as (seconds after the crawl's start, outcome)."""
        for n, (at, outcome) in enumerate(calls):
            if outcome != "rate_limited":
                continue
            interval = taught_interval([s for s, _ in calls[:n] if s > at - RATE_WINDOW_S])
            if interval is None:
                continue
            was = self.taught.get(endpoint)
            if was is None or was[0] < crawl or (was[0] == crawl and was[1] < interval):
                self.taught[endpoint] = (crawl, interval)

    def at(self, now: datetime) -> dict[str, float]:
        """The paces still kept at now: taught by a refusal less than KEPT before."""
        since = iso(now - KEPT)
        return {endpoint: interval for endpoint, (crawl, interval) in self.taught.items() if since < crawl <= iso(now)}
