"""The accuracy panel's calls in one look at an endpoint (crawler/probe.py, step 4): the tickets changed lately, those
due a recheck and a draw of those still open; or, in a contributor's check, whether the endpoint could have a panel.
Functions of the Probe that makes the calls, so that its plan (crawler/plan.py) says which of them are made."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from crawler import parse
from crawler.plan import CONFIRMS, FOLLOW_PER_CRAWL, LATER_CALLS, RECHECKS_PER_CRAWL, UPDATED_WINDOW, drawn
from crawler.tickets import gone_event, to_events
from records import iso
from records.coverage import REQUESTS_WINDOW

if TYPE_CHECKING:
    from crawler.probe import Probe


def updated(probe: Probe, fmt: str) -> list[dict[str, Any]] | None:
    """Where the endpoint has the v2.1 draft's updated_after: every request changed lately (None: no such list)."""
    if "updated_after" not in probe.endpoint.supports or not (probe.panel.open or probe.panel.due):
        return None
    params = {**probe.base, **probe.extensions, "updated_after": iso(probe.crawl_time - UPDATED_WINDOW),
              "updated_before": iso(probe.crawl_time)}
    return probe.pages("panel", fmt, params, "updated")


def follow(probe: Probe, fmt: str, shown_items: list[dict[str, Any]], all_changes_shown: bool = False) -> None:
    """The panel's tickets due a recheck, then those last seen open that were not shown this crawl:
    one GET requests with their ids (the spec's service_request_id list)."""
    shown = {str(i.get("service_request_id")) for i in shown_items}
    due = [i for i in probe.panel.due if i not in shown][:RECHECKS_PER_CRAWL]
    room = FOLLOW_PER_CRAWL - len(due)
    if all_changes_shown:
        room = min(room, FOLLOW_PER_CRAWL // 5)  # unchanged tickets need a look only to see they are still there
    # A fresh draw each crawl, so that each is looked at every few crawls however many stay open
    # and however irregular the crawls: an unchanged look is not stored, so the choice cannot
    # come from when each was last looked at.
    wanted = due + drawn([i for i in probe.panel.open if i not in shown], room, iso(probe.crawl_time))
    if not wanted:
        return
    answer = probe.call("panel", fmt, probe.url("requests", fmt),
                       {**probe.base, **probe.extensions, "service_request_id": ",".join(wanted)}, parse.requests)
    if answer is None or not answer.ok:
        return
    rechecked = set(due)
    stamp = iso(probe.crawl_time)
    events = to_events(answer.value, probe.endpoint, stamp, "panel")
    probe.result.events.extend(replace(e, via="recheck") if e.id in rechecked else e for e in events)
    answered = {e.id for e in events}
    for ticket_id in [i for i in wanted if i not in answered][:CONFIRMS]:
        if probe.budget.calls <= LATER_CALLS:
            break  # a confirmation can wait a crawl; the day's definitions may not come round again
        confirm(probe, fmt, ticket_id, "recheck" if ticket_id in rechecked else "confirm")


def confirm(probe: Probe, fmt: str, ticket_id: str, via: str) -> None:
    """A panel ticket missing from the panel's call, asked for alone: gone if the answer is empty or
    404, but only when this crawl's lookups showed that GET requests/{id} works here."""
    answer = probe.call("panel", fmt, probe.url(f"requests/{quote(ticket_id, safe='')}", fmt),
                       {**probe.base, **probe.extensions}, parse.requests, target=ticket_id)
    if answer is None:
        return
    stamp = iso(probe.crawl_time)
    if answer.ok:
        found = [e for e in to_events(answer.value, probe.endpoint, stamp, via) if e.id == ticket_id]
        if found:
            probe.result.events.extend(found)
            return
    missing = (answer.ok and not answer.value) or answer.record.http_status == 404
    if missing and probe.lookup_works:
        probe.result.events.append(replace(gone_event(probe.endpoint, ticket_id, stamp), via=via))


def could_follow(probe: Probe, fmt: str, shown_items: list[dict[str, Any]]) -> tuple[str, ...]:
    """What a check finds instead of following a panel: whether the endpoint has the extensions (a notes[] history or
    extended_attributes with extensions=true) and the updated_after filter (every request answered was updated after
    the time asked for). Both help its accuracy panel."""
    found = []
    url = probe.url("requests", fmt)
    window = {"start_date": iso(probe.crawl_time - REQUESTS_WINDOW), "end_date": iso(probe.crawl_time)}
    answer = probe.call("panel", fmt, url, {**probe.base, **window, "extensions": "true"}, parse.requests)
    if answer is not None and answer.ok and any(
            isinstance(i.get("notes"), list) or isinstance(i.get("extended_attributes"), dict) for i in answer.value):
        found.append("extensions")
    # updated_after at the middle of the listed requests' updated times: a server that honours it
    # answers only the later ones, one that ignores it answers the earlier ones too.
    tz = ZoneInfo(probe.endpoint.timezone)
    times = sorted({t for i in shown_items if (t := parse.parse_time(i.get("updated_datetime"), tz))})
    if len(times) >= 2:
        middle = times[len(times) // 2]
        answer = probe.call("panel", fmt, url, {**probe.base, "updated_after": middle}, parse.requests)
        if answer is not None and answer.ok and answer.value:
            updated = [parse.parse_time(i.get("updated_datetime"), tz) for i in answer.value]
            if all(u is not None and u >= middle for u in updated):
                found.append("updated_after")
    return tuple(found)
