"""The calls a crawl makes, by the name a probe record's method gives them: what each asks for, and which of them the
monitor makes for itself (its history and its accuracy panel) rather than as an app would."""

from __future__ import annotations

METHODS = {
    "discovery": "GET of the registry's discovery_url (Service Discovery)",
    "services": "GET services.FORMAT: the service list",
    "service_definition": "GET services/CODE.FORMAT: one service type's definition, for each the list says has metadata",
    "requests": "GET requests.FORMAT for the 24 hours before the crawl, page 1 and on where the endpoint pages",
    "request": "GET requests/ID.FORMAT: one request, by its id",
    "panel": "the monitor's own: following its accuracy panel (requests.FORMAT with updated_after= or service_request_id=, "
             "or requests/ID.FORMAT of a ticket missing from it)",
    "backfill": "the monitor's own: reading older history, requests.FORMAT with start_date and end_date of a past window",
}
OWN = ("backfill", "panel")  # made for the monitor's own history and accuracy panel: never counted in latency or uptime
APP = ("services", "requests")  # what an app calls: latency is measured on these
