"""The calls made to one endpoint in one crawl, and the records they become.

In order of what matters most, so that the budget (client.Limits) cuts only the tail:
  1. GET services in the registry's format. If it fails, once more after a pause (both are
     recorded; records/status.py counts the endpoint down only if every attempt failed). If
     the answer was no Open311 list in that format, once in the other format.
  2. GET requests for the day before the crawl. When a page is full (exactly the registry's
     limit, or without one a common page size, PAGE_SIZES) and the endpoint pages, page=2 and then
     page=3 are asked for.
  3. GET requests/{id} for LOOKUPS of the listed requests, rotating.
  4. The accuracy panel (data/README.md, events): where the endpoint supports the updated_after
     filter, GET requests updated in the last UPDATED_WINDOW; then one GET requests with
     service_request_id=... for the panel's tickets due a recheck (closed or gone 1, 7 and 30 days
     ago) and a fresh draw of those last seen open that have left the listing (FOLLOW_PER_CRAWL ids at most);
     a ticket asked for and missing is asked for alone (GET requests/{id}, at most CONFIRMS) and
     counts as gone only if that answers empty or 404 while this crawl's lookups worked.
  5. GET services/{code} for the services with metadata=true, each once a day (a few per
     crawl, in turn, so that every definition is seen within a day of CRAWLS_PER_DAY crawls).
  6. GET discovery, when the registry names a discovery_url.
  7. Once a day, GET services in the other format, so we know which formats work.
  8. The backfill, with what budget is left (at most BACKFILL_CALLS windows): GET requests for the
     day before the start of the endpoint's covered run (records/coverage.py), its pages (up to
     BACKFILL_PAGES) where the endpoint pages, going back towards backfill_span, resumed by the next
     crawl where this one stopped. A window whose pages reach the server's cap keeps its tickets
     but does not count as read whole: it is halved and asked for again (next_window). Recorded under their own method, "backfill", with the window
     as the target, so no latency or uptime figure mixes with them.
A 429 is obeyed: the call is made again after its Retry-After when that fits the budget, and the host is paced
for the rest of the crawl at the calls a minute it took before refusing; otherwise the endpoint is left alone for
the rest of the crawl.

A retired endpoint (believed dead, replaced, or not a city) gets only 1 and the first page of 2,
in one crawl a day (crawl.due_today): enough to see whether it answers again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from crawler import __version__, dates, follow, parse
from crawler.backfill import read_history
from crawler.client import Budget, Client, Fetched, redact
from crawler.conformance import Findings
from crawler.plan import (
    CRAWL,
    FORMAT_TROUBLE,
    LOOKUPS,
    MAX_DEFINITIONS,
    MAX_PAGES,
    OTHER,
    RETRIED,
    SPEC_CAP,
    BackfillState,
    Panel,
    Plan,
    backfill_span,
    definition_codes,
    due_definitions,
    full_page,
    next_window,
    rotating,
    slot_of,
    spread,
)
from crawler.results import Answer, EndpointResult, service_records
from crawler.tickets import in_panel, to_events, to_tickets
from records import ProbeRecord, TicketRecord, iso
from records import parse_moment as parse_stamp
from records.coverage import REQUESTS_WINDOW
from registry import Endpoint
from vocabulary import CRAWLS_PER_DAY

Parser = Callable[[bytes, str, Findings, "str | None"], Any]


class Probe:
    """The calls to one endpoint in one look, within its budget, as its plan says (the module's docstring has the order;
    crawler/plan.py the plans: a crawl's, and a check's)."""

    def __init__(self, endpoint: Endpoint, client: Client, crawl_time: datetime, crawl_started: float,
                 api_key: str | None = None, host_deadline: float | None = None, panel: Panel | None = None,
                 covered: list[tuple[str, str]] | None = None, backfilled: BackfillState | None = None, plan: Plan = CRAWL):
        self.endpoint = endpoint
        self.plan = plan
        self.supports: tuple[str, ...] = ()  # without the panel's calls: what the endpoint has that a panel needs
        self.key_required: bool | None = None  # with a key, and the plan's call without it: whether it is required
        self.found_discovery: str | None = None  # a discovery document where it usually is, the registry naming none
        self.cut = False  # whether the latest listing (pages) may hold more than it gave
        self.paging_ignored = False  # whether a page=2 repeated page 1 in this crawl
        # The backfill's window, what the last one leaves (halved at the cap, doubled when it held little), and how far back.
        state = backfilled or BackfillState()
        self.window = next_window(endpoint, state.length, state.items, state.capped, state.failed)
        self.floor = parse_stamp(state.floor) if state.floor else None
        self.covered = list(covered or [])  # what earlier crawls read whole: where the backfill goes on from
        self.skipped = list(state.skipped)  # windows that failed at BACKFILL_MIN: gone past, never counted as read
        self.filter_ignored = state.ignored  # whether the server answers start_date/end_date with what it likes
        self.windows: list[tuple[int, dates.Window]] = []  # this crawl's listings (by their record), checked against each other
        mine = [] if panel is None else [i for i in panel.open + panel.due if in_panel(endpoint.id, i, endpoint.panel_rate)]
        # A lowered panel_rate drops tickets from the panel: they are followed no more.
        self.panel = Panel([i for i in panel.open if i in mine], [i for i in panel.due if i in mine]) if panel else Panel()
        self.extensions = {"extensions": "true"} if "extensions" in endpoint.supports else {}
        self.lookup_works = False  # a GET requests/{id} of this crawl answered with its one ticket
        self.client = client
        self.crawl_time = crawl_time
        self.crawl_started = crawl_started
        self.api_key = api_key or None
        self.budget = Budget(client.limits, client.clock, host_deadline)
        self.result = EndpointResult()
        self.stopped: str | None = None
        self.base = {"jurisdiction_id": endpoint.jurisdiction_id} if endpoint.jurisdiction_id else {}

    # -- one call --------------------------------------------------------------------------

    def call(self, method: str, fmt: str, url: str, params: dict[str, str], parser: Parser, *,
             target: str | None = None, page: int | None = None, attempt: int = 1,
             check: Callable[[Any, Findings], None] | None = None) -> Answer | None:
        """One GET, parsed and recorded; None if the budget or a rate limit forbids it."""
        if self.stopped:
            return None
        params, headers = self._auth(url, params)
        fetched = self.client.get(url, params, self.budget, headers, secrets=(self.api_key,) if self.api_key else ())
        if fetched is None:
            self.stopped = "budget spent"
            return None
        findings = Findings()
        value, outcome, error = None, fetched.outcome, fetched.error
        if outcome in ("http_4xx", "http_5xx", "rate_limited") and fetched.body:
            error = f"{error}: {parse.error_message(fetched.body)}" if parse.error_message(fetched.body) else error
        if outcome == "ok":
            try:
                value = parser(fetched.body, fmt, findings, fetched.content_type)
                if check is not None:
                    check(value, findings)
            except parse.NotOpen311 as e:
                outcome, error = "not_open311", str(e)
            except parse.ParseError as e:
                outcome, error = "parse", str(e)
            except parse.SchemaError as e:
                outcome, error = "schema", str(e)
        record = self._record(method, fmt, fetched, outcome, error, value, findings, target, page, attempt)
        self.result.probes.append(record)
        if outcome == "rate_limited":
            return self._after_429(fetched, method, fmt, url, params, parser, target, page, attempt, check)
        return Answer(record, value if outcome == "ok" else None)

    def _after_429(self, fetched: Fetched, method: str, fmt: str, url: str, params: dict[str, str], parser: Parser,
                   target: str | None, page: int | None, attempt: int, check: Any) -> Answer | None:
        wait = fetched.retry_after_s
        limits = self.client.limits
        self.client.pacer.refused()
        if attempt == 1 and wait is not None and wait <= limits.max_retry_after_s and self.budget.allows(wait):
            self.client.sleep(wait)
            return self.call(method, fmt, url, params, parser, target=target, page=page, attempt=2, check=check)
        self.stopped = "rate limited" + (f" (Retry-After {wait:g} s)" if wait is not None else "")
        return None

    def _auth(self, url: str, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        if not self.api_key or (urlsplit(url).hostname or "").lower() != self.endpoint.host:
            return params, {}
        if self.endpoint.api_key_as == "bearer":
            return params, {"Authorization": f"Bearer {self.api_key}"}
        return {**params, "api_key": self.api_key}, {}

    def _record(self, method: str, fmt: str, fetched: Fetched, outcome: str, error: str | None, value: Any,
                findings: Findings, target: str | None, page: int | None, attempt: int) -> ProbeRecord:
        items = None
        if outcome == "ok":
            items = len(value["attributes"] if method == "service_definition" else value["endpoints"] if method == "discovery" else value)
        if error and self.api_key:
            error = redact(error, (self.api_key,))  # the server's own error message may quote the key
        return ProbeRecord(
            crawl=iso(self.crawl_time), endpoint=self.endpoint.id, method=method, format=fmt,
            probed_at=iso(self.crawl_time + timedelta(seconds=fetched.started - self.crawl_started)),
            outcome=outcome, http_status=fetched.http_status, elapsed_ms=fetched.elapsed_ms, bytes=len(fetched.body),
            items=items, error=error[:200] if error else None, target=target[:200] if target else None, page=page,
            attempt=attempt, findings=findings.as_dict(), content_type=fetched.content_type,
            retry_after_s=fetched.retry_after_s, crawler=__version__, rtt_ms=fetched.rtt_ms, server_ms=fetched.server_ms,
        )

    def url(self, path: str, fmt: str) -> str:
        """A method's URL in a format: the spec appends .json or .xml to the base URL."""
        return f"{self.endpoint.base_url}{path}.{fmt}"

    # -- the plan ----------------------------------------------------------------------------

    def run(self) -> EndpointResult:
        """The whole plan, most important first, so a budget that runs out only ever cuts the tail."""
        services, fmt = self.services()
        if services is not None and self.endpoint.retired:
            self.result.services = service_records(services, self.endpoint, iso(self.crawl_time))
            self.requests(fmt, first_page_only=True)
        elif services is not None:
            self.result.services = service_records(services, self.endpoint, iso(self.crawl_time))
            listed = self.requests(fmt)
            self.lookups(fmt, listed)
            changed = follow.updated(self, fmt)
            if self.plan.follow:
                follow.follow(self, fmt, listed + (changed or []), changed is not None)
            else:
                self.supports = follow.could_follow(self, fmt, listed + (changed or []))
            self.definitions(fmt, services)
            self.discovery()
            if fmt == self.endpoint.format:
                self.other_format()
            if self.plan.backfill:
                read_history(self, fmt)
            if self.plan.without_key and self.api_key:
                self.without_key()
        if self.stopped and self.stopped != "budget spent":
            self.result.notes.append(self.stopped)
        elif self.stopped:
            self.result.notes.append("the budget ended the crawl of this endpoint")
        latest = {t.id: t for t in self.result.tickets}  # a lookup is as fresh as the list, or fresher
        self.result.tickets = list(latest.values())
        self.result.events = list({e.id: e for e in self.result.events}.values())
        return self.result

    def services(self) -> tuple[list[dict[str, Any]] | None, str]:
        """The service list: retried once after a pause, then in the other format, so one bad answer is never an outage."""
        fmt = self.endpoint.format
        answer = self.call("services", fmt, self.url("services", fmt), self.base, parse.services)
        if answer is not None and not answer.ok and answer.record.outcome in RETRIED:
            pause = self.client.limits.retry_pause_s
            if self.budget.allows(pause):
                self.client.sleep(pause)
                answer = self.call("services", fmt, self.url("services", fmt), self.base, parse.services, attempt=2)
        if answer is not None and answer.ok:
            return answer.value, fmt
        if answer is None or answer.record.outcome not in FORMAT_TROUBLE:
            return None, fmt
        other = OTHER[fmt]

        def fell_back(_: Any, findings: Findings) -> None:
            findings.add("format_fallback", f"{fmt} failed ({answer.record.outcome}), {other} works")

        second = self.call("services", other, self.url("services", other), self.base, parse.services, check=fell_back)
        if second is not None and second.ok:
            return second.value, other
        return None, fmt

    def requests(self, fmt: str, first_page_only: bool = False) -> list[dict[str, Any]]:
        """The requests of the day before the crawl (only the first page for a retired endpoint)."""
        params = {**self.base, **self.extensions, "start_date": iso(self.crawl_time - REQUESTS_WINDOW),
                  "end_date": iso(self.crawl_time)}
        return self.pages("requests", fmt, params, "list", MAX_PAGES if not first_page_only else 1) or []

    def pages(self, method: str, fmt: str, params: dict[str, str], via: str, most: int = MAX_PAGES,
              target: str | None = None) -> list[dict[str, Any]] | None:
        """A listing of requests, its tickets and panel events stored; page=2, 3 ... asked for while a page is full
        (full_page) and the endpoint pages. None if the first page failed. A listing of requests (or of a backfill
        window) that may hold more than it gave is marked on its first page (self.cut says so): not read whole."""
        self.cut = False
        first = self.call(method, fmt, self.url("requests", fmt), params, parse.requests, page=1, target=target)
        if first is None or not first.ok:
            return None
        listed: list[dict[str, Any]] = list(first.value)
        stamp = iso(self.crawl_time)
        stores = method in ("requests", "backfill")
        tickets: list[TicketRecord] = []
        if stores:
            tickets += to_tickets(listed, self.endpoint, stamp)
        self.result.events.extend(to_events(listed, self.endpoint, stamp, via))
        seen = {str(i.get("service_request_id")) for i in listed}
        last_count = len(listed)
        first_record = first.record
        for page in range(2, most + 1):
            if not full_page(self.endpoint, last_count) or self.endpoint.pages is False or self.paging_ignored:
                break
            fresh: list[dict[str, Any]] = []

            def new_ones(items: Any, findings: Findings, fresh: list[dict[str, Any]] = fresh, page: int = page) -> None:
                fresh.extend(i for i in items if str(i.get("service_request_id")) not in seen)
                if items and not fresh:
                    findings.add("paging_ignored", f"page {page} repeated page {page - 1}")
                    self.paging_ignored = True  # asked no more in this crawl

            answer = self.call(method, fmt, self.url("requests", fmt), {**params, "page": str(page)}, parse.requests,
                               page=page, check=new_ones, target=target)
            if answer is None or not answer.ok or not fresh:
                break
            if stores:
                tickets += to_tickets(fresh, self.endpoint, stamp)
            self.result.events.extend(to_events(fresh, self.endpoint, stamp, via))
            seen.update(str(i.get("service_request_id")) for i in fresh)
            listed += fresh
            last_count = len(answer.value)
        self.result.tickets.extend(tickets)
        if stores and (full_page(self.endpoint, last_count) or len(listed) >= SPEC_CAP):
            # The listing may hold more than it gave (a cap, no paging, or pages left): not a day read whole.
            self.cut = True
            index = self.result.probes.index(first_record)
            error = f"capped at {len(listed)}: the window is halved" if method == "backfill" else f"capped: {len(listed)} listed, maybe more"
            first_record = self.result.probes[index] = replace(first_record, error=error)
        if stores and params.get("start_date") and params.get("end_date"):
            window = dates.Window(params["start_date"], params["end_date"], tuple(tickets), self.cut)
            self.check_dates(method, self.result.probes.index(first_record), window)
        return listed

    def check_dates(self, method: str, index: int, window: dates.Window) -> None:
        """Whether the server honoured the dates of this listing (its first page's record at index; crawler/dates.py).
        If not, it is said as a finding, the backfill stops (every window would get the same answer), and the crawl's
        listing covers what its answer says of itself (dates.covered_by) instead of the day it asked for."""
        earlier = [w for _, w in self.windows]
        self.windows.append((index, window))
        shown = dates.ignored(window, earlier)
        if shown is None:
            return
        self.filter_ignored = True
        if method == "backfill":  # never read whole: what it covers is the listing's to say
            self._mark(index, shown, (f"capped at {len(window.tickets)}: " if window.cut else "") + "the date filter is ignored")
        listing = next(((n, w) for n, w in self.windows if self.result.probes[n].method == "requests"), None)
        if listing is not None:
            since, until = dates.covered_by(listing[1], self.crawl_time, backfill_span(self.endpoint))
            self._mark(listing[0], shown, None, target=f"{since}/{until}")

    def _mark(self, index: int, shown: str, error: str | None, target: str | None = None) -> None:
        """A listing's first page, said to come from a server that ignores the date filter."""
        record = self.result.probes[index]
        findings = {**record.findings, "date_filter_ignored": record.findings.get("date_filter_ignored", shown[:80])}
        self.result.probes[index] = replace(record, findings=findings, error=error, target=target or record.target)

    def lookups(self, fmt: str, listed: list[dict[str, Any]]) -> None:
        """LOOKUPS listed requests asked for alone, rotating: does GET requests/{id} answer, and with the same status?"""
        by_id = {str(i["service_request_id"]): i for i in listed if not parse.blank(i.get("service_request_id"))}
        for request_id in rotating(sorted(by_id), LOOKUPS, slot_of(self.crawl_time)):
            def compare(items: Any, findings: Findings, request_id: str = request_id) -> None:
                if len(items) != 1 or str(items[0].get("service_request_id")) != request_id:
                    findings.add("lookup_not_one", f"{request_id}: {len(items)} answered")
                    return
                self.lookup_works = True
                was, now = by_id[request_id].get("status"), items[0].get("status")
                if str(was).strip().lower() != str(now).strip().lower():
                    findings.add("lookup_status_differs", f"{request_id}: list {was}, lookup {now}")

            answer = self.call("request", fmt, self.url(f"requests/{quote(request_id, safe='')}", fmt), {**self.base, **self.extensions},
                               parse.requests, target=request_id, check=compare)
            if answer is not None and answer.ok:
                self.result.tickets.extend(to_tickets(answer.value, self.endpoint, iso(self.crawl_time)))
                self.result.events.extend(to_events(answer.value, self.endpoint, iso(self.crawl_time), "lookup"))

    def definitions(self, fmt: str, services: list[dict[str, Any]]) -> None:
        """The service definitions due in this crawl: each once a day, a few per crawl (or by the plan the first few now)."""
        codes = definition_codes(services)
        turn = self.crawl_time.toordinal() * CRAWLS_PER_DAY + slot_of(self.crawl_time) + spread(self.endpoint.id)
        for code in codes[:MAX_DEFINITIONS] if self.plan.definitions_now else due_definitions(codes, turn):
            self.call("service_definition", fmt, self.url(f"services/{quote(code, safe='')}", fmt), self.base,
                      parse.definition, target=code)

    def discovery(self) -> None:
        """The discovery document, when the registry names one; by the plan, else where it usually is (a contributor
        may not know it exists)."""
        url = self.endpoint.discovery_url
        if url:
            self.call("discovery", "xml" if url.endswith(".xml") else "json", url, {}, parse.discovery)
            return
        if not self.plan.discovery_guessed:
            return
        base = self.endpoint.base_url
        for guess in (base.rstrip("/").rsplit("/", 1)[0] + "/discovery.json", f"{base}discovery.json"):
            answer = self.call("discovery", "json", guess, {}, parse.discovery)
            if answer is not None and answer.ok:
                self.found_discovery = guess
                return

    def other_format(self) -> None:
        """Once a day (at a slot fixed per endpoint, to spread the load), or by the plan every time, the other format."""
        if self.plan.other_format_always or slot_of(self.crawl_time) == spread(self.endpoint.id):
            other = OTHER[self.endpoint.format]
            self.call("services", other, self.url("services", other), self.base, parse.services)

    def without_key(self) -> None:
        """Once more, GET services without the key: refused (401 or 403) means the key is required, answered means it
        only raises a limit."""
        key, self.api_key = self.api_key, None
        fmt = self.endpoint.format
        answer = self.call("services", fmt, self.url("services", fmt), self.base, parse.services, target="without the key")
        self.api_key = key
        if answer is not None:
            self.key_required = answer.record.http_status in (401, 403)


def probe_endpoint(endpoint: Endpoint, client: Client, crawl_time: datetime, crawl_started: float | None = None,
                   api_key: str | None = None, host_deadline: float | None = None,
                   panel: Panel | None = None, covered: list[tuple[str, str]] | None = None,
                   backfilled: BackfillState | None = None) -> EndpointResult:
    """One endpoint's calls in one crawl, as records; a failing endpoint is data, never an exception."""
    started = client.clock() if crawl_started is None else crawl_started
    return Probe(endpoint, client, crawl_time, started, api_key, host_deadline, panel, covered, backfilled).run()
