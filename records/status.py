"""The status of one endpoint in one crawl: the vocabulary and the one rule that applies it.

    unknown   no GET services call was made, or none was sent: the address guard refused it, or the
              endpoint requires an API key whose secret is not set ("needs a key")
    down      no GET services call answered a service list (every attempt, every format),
              and none was answered 429
    degraded  a service list came, but the first page of GET requests did not, or the first service
              list took over SLOW_MS or the first page of requests over REQUESTS_SLOW_MS;
              or the service list was refused with 429 (the API answers, but not to us)
    up        otherwise

and, beside this rule, maintenance: a crawl down inside a window of planned maintenance its registry entry declares
(metrics/maintenance.py decides it, from the windows stored with the endpoint records): neither up nor down.

A retry that succeeds is no outage: the crawl counts what the endpoint managed within its
budget. A crawl that did not run (a late or skipped cron run) has no records at all, so its
slot is a gap, never downtime.

Here, beside the records, because the crawler (its console line, the contributor check) and the
site (every crawl of the history) both need it and neither may import the other. statuses() is
the rule, on columns of calls, for any number of crawls at once; crawl_status() is the same rule
for the calls of one crawl.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vocabulary import NOT_SENT, STATUSES

SLOW_MS = 1000  # a service list is a small static document: over a second is slow (as status.open311.org)
REQUESTS_SLOW_MS = 5000  # a day of requests is a database query; five seconds is a generous bound


def listed(counts: Mapping[str, int]) -> list[str]:
    """The statuses a summary line names: every one, but maintenance only when some endpoint is in it (most registries
    declare none)."""
    return [s for s in STATUSES if s != "maintenance" or counts.get(s)]


@dataclass(frozen=True)
class Statuses:
    """The status of each crawl given to statuses(), in the order of its crawl numbers, and the outcome
    of the last GET services attempt of each crawl that was down (None for the others)."""

    status: np.ndarray  # str per crawl
    failure: np.ndarray  # str or None per crawl


def statuses(crawl: np.ndarray, count: int, method: Sequence[Any] | np.ndarray, outcome: Sequence[Any] | np.ndarray,
             order: np.ndarray, page: Sequence[Any] | np.ndarray, elapsed_ms: Sequence[Any] | np.ndarray) -> Statuses:
    """The rule for many crawls at once. Each call is given its crawl's number (crawl: 0 .. count - 1),
    method, outcome, page and elapsed_ms (None or NaN when not known), and order: the calls' order in
    time (the index of each call when sorted by when it was made; ties keep the given order)."""
    crawl = np.asarray(crawl, dtype=np.int64)[order]
    methods: np.ndarray = np.asarray(method, dtype=object)[order]
    outcomes: np.ndarray = np.asarray(outcome, dtype=object)[order]
    pages = _numbers(page)[order]
    ms = _numbers(elapsed_ms)[order]
    services, ok = methods == "services", outcomes == "ok"
    called = _any(crawl, services, count)
    sent = _any(crawl, services & ~np.isin(outcomes, NOT_SENT), count)
    answered = _any(crawl, services & ok, count)
    limited = _any(crawl, services & (outcomes == "rate_limited"), count)
    services_ms = _first(crawl, services & ok, ms, count)
    listing = (methods == "requests") & ok & (np.isnan(pages) | (pages == 1))
    requests_ms = _first(crawl, listing, ms, count)
    listed = _any(crawl, listing, count)
    status = np.full(count, "up", dtype=object)
    status[~listed | (services_ms > SLOW_MS) | (requests_ms > REQUESTS_SLOW_MS)] = "degraded"
    status[~answered] = "down"
    status[~answered & limited] = "degraded"
    status[~called | ~sent] = "unknown"
    failure = np.full(count, None, dtype=object)
    last = _last_index(crawl, services, count)
    down = (status == "down") & (last >= 0)
    failure[down] = outcomes[last[down]]
    return Statuses(status, failure)


def crawl_status(probes: list[dict[str, Any]]) -> str:
    """The status of one endpoint from the probe records (as dicts) of one crawl."""
    times = [p["probed_at"] for p in probes]
    order = np.array(sorted(range(len(probes)), key=times.__getitem__), dtype=np.int64)
    result = statuses(np.zeros(len(probes), dtype=np.int64), 1, [p["method"] for p in probes], [p["outcome"] for p in probes],
                      order, [p.get("page") for p in probes], [p.get("elapsed_ms") for p in probes])
    return str(result.status[0])


def _numbers(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Floats, NaN for None."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64) if not isinstance(values, np.ndarray) \
        else values.astype(np.float64)


def _any(crawl: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(crawl[mask], minlength=count) > 0


def _first(crawl: np.ndarray, mask: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Per crawl, the value of its first call (in time) where mask holds; NaN where none does."""
    out = np.full(count, np.nan)
    picked = np.flatnonzero(mask)
    groups, first = np.unique(crawl[picked], return_index=True)
    out[groups] = values[picked[first]]
    return out


def _last_index(crawl: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """Per crawl, the index of its last call (in time) where mask holds; -1 where none does."""
    out = np.full(count, -1, dtype=np.int64)
    picked = np.flatnonzero(mask)
    np.maximum.at(out, crawl[picked], picked)
    return out
