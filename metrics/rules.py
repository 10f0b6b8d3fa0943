"""The status of one endpoint in one crawl, from its probe records: the rules in one place.

    unknown   no GET services call was made, or none was sent: the address guard refused it, or the
              endpoint requires an API key whose secret is not set ("needs a key")
    down      no GET services call answered a service list (every attempt, every format),
              and none was answered 429
    degraded  a service list came, but the first page of GET requests did not, or the service
              list took over SLOW_MS or the requests over REQUESTS_SLOW_MS;
              or the service list was refused with 429 (the API answers, but not to us)
    up        otherwise

A retry that succeeds is no outage: the crawl counts what the endpoint managed within its
budget. A crawl that did not run (a late or skipped cron run) has no records at all, so its
slot is a gap, never downtime. metrics/status.py applies these rules to whole histories at once;
this plain version serves the crawler's own summary and the build's older days (daily_cache.py),
and tests hold the two to the same answers.
"""

from __future__ import annotations

from typing import Any

SLOW_MS = 1000  # a service list is a small static document: over a second is slow (as status.open311.org)
REQUESTS_SLOW_MS = 5000  # a day of requests is a database query; five seconds is a generous bound
STATUSES = ("up", "degraded", "down", "unknown")
NOT_SENT = ("refused", "no_key")  # crawler.client's outcomes of calls never made


def crawl_status(probes: list[dict[str, Any]]) -> str:
    """The status of one endpoint from the probe records (as dicts) of one crawl."""
    services = sorted((p for p in probes if p["method"] == "services"), key=lambda p: p["probed_at"])
    if not services or all(p["outcome"] in NOT_SENT for p in services):
        return "unknown"
    answered = [p for p in services if p["outcome"] == "ok"]
    if not answered:
        return "degraded" if any(p["outcome"] == "rate_limited" for p in services) else "down"
    listed = sorted((p for p in probes if p["method"] == "requests" and p.get("page") in (1, None) and p["outcome"] == "ok"),
                    key=lambda p: p["probed_at"])
    if not listed:
        return "degraded"
    if (answered[0]["elapsed_ms"] or 0) > SLOW_MS or (listed[0]["elapsed_ms"] or 0) > REQUESTS_SLOW_MS:
        return "degraded"
    return "up"
