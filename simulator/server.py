"""One simulated city's GeoReport v2 server, answering from the world's ground truth.

Implements discovery, services, services/{code}, GET requests (service_request_id, service_code,
status, start_date/end_date; the 90-day span and the 1000-request cap; page/page_size where the
scenario pages), requests/{id}, tokens/{token} and POST requests with api_key, in JSON and XML,
with errors as the spec says and the scenario's quirks.

Time: a request carrying ``X-Simulated-Now`` is answered as of that moment, and its latency is
reported in ``X-Simulated-Latency-Ms`` instead of slept (simulator/virtual.py's client reads it),
so a month of crawls runs in minutes. Without the header the server uses the fleet's clock and
sleeps its latency for real, like any server.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from simulator.scenario import City
from simulator.serving import CityState, Headers, Listed, city_date, parse_time, service_item, to_xml, to_xml_tree
from simulator.world import Ticket, lifecycle, rng

MAX_SPAN = timedelta(days=90)
MAINTENANCE_PAGE = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Down for maintenance</h1></body></html>"
HANG_S = 60.0  # a "timeout" failure answers this late
MAX_HEADERS = 100  # as http.client allows
MAX_LINE = 65536


class CityHandler(BaseHTTPRequestHandler):
    """One city's GeoReport v2 server: routes each call, answers it from the city's ground truth.

    A plain class, so its methods can be read and tested on their own; handler_for(state) gives the
    subclass bound to one city that http.server instantiates per connection.
    """

    state: CityState  # set by handler_for
    raw_requestline: bytes  # set by http.server before parse_request (typeshed does not declare it)
    protocol_version = "HTTP/1.1"  # connections kept alive, as most real servers do
    disable_nagle_algorithm = True  # as real servers do: else a kept-alive answer's second write waits for a delayed ACK
    server_version = "Open311Simulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a month of simulated crawls would fill the terminal."""
        pass

    # -- the wire ----------------------------------------------------------------------

    def parse_request(self) -> bool:
        """The request line and headers, read the short way: http.server reads headers with the email package, a
        third of the simulator's time a call. A request line that is not plain HTTP/1.x goes to http.server's reading."""
        words = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        self.requestline = " ".join(words)
        self.command, self.path, self.request_version = words
        self.headers = headers = Headers()  # type: ignore[assignment]  # read the short way, not as an email.Message
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            if len(line) > MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self.send_error(431, "Too many headers")
            return False
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (self.request_version == "HTTP/1.0" and connection != "keep-alive")
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _moment(self) -> tuple[datetime, bool]:
        said = self.headers.get("X-Simulated-Now")
        if said:
            try:
                return parse_time(said), True
            except ValueError:
                pass
        return self.state.clock.now(), False

    def send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        """One answer, with the simulated latency in a header when the time is simulated; logged with the time it took
        the server (simulated, or from the request read to the answer written), what the crawler's figures are checked
        against."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.virtual:
            self.send_header("X-Simulated-Latency-Ms", f"{self.latency * 1000:.1f}")
            if self.city.network_ms:
                self.send_header("X-Simulated-Network-Ms", f"{self.city.network_ms:g}")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self._headers_buffer.extend((b"\r\n", body))  # type: ignore[attr-defined]  # http.server's own buffer: headers and body in one write
        self.flush_headers()
        took = self.latency if self.virtual else time.monotonic() - self.read_at
        self.state.log.append((self.moment, urlsplit(self.path).path, status, took))

    def error(self, status: int, fmt: str, message: str, extra: dict[str, str] | None = None) -> None:
        """An error in the spec's shape (a list of code and description), in the format asked for."""
        errors = [{"code": status, "description": message}]
        if fmt == "xml":
            self.send(status, to_xml("errors", "error", errors), "text/xml; charset=utf-8", extra)
        else:
            self.send(status, json.dumps(errors).encode(), "application/json; charset=utf-8", extra)

    def do_GET(self) -> None:
        """Every GET goes through the same failures, limits and quirks."""
        self.handle_call("GET")

    def do_POST(self) -> None:
        """Every POST goes through the same failures, limits and quirks."""
        self.handle_call("POST")

    def handle_call(self, verb: str) -> None:
        """The city's state of health at this moment first (down, slow, limited, jurisdiction, key), then the method."""
        self.read_at = time.monotonic()
        now, self.virtual = self._moment()
        self.moment = now
        url = urlsplit(self.path)
        self.latency = self.state.latency_s(now, url.path)
        failure = self.state.truth.failure(now)
        if failure == "refused":
            self.close_connection = True
            return  # the socket closes without a byte: the city is gone
        if failure == "timeout":
            self.latency = HANG_S
        if not self.virtual:
            time.sleep(min(self.latency, HANG_S))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()} if length else {}
        path = url.path.split("/open311/", 1)[-1].removeprefix("v2/")
        name, _, fmt = path.rpartition(".")
        fmt = fmt if fmt in ("json", "xml") else ""
        reply_fmt = fmt if fmt in self.city.formats else self.city.formats[0]
        if failure in ("unavailable", "html"):
            self.send(503 if failure == "unavailable" else 200, MAINTENANCE_PAGE, "text/html; charset=utf-8")
            return
        if failure == "error":
            self.error(500, reply_fmt, "internal server error")
            return
        if (wait := self.state.limited(now)) is not None:
            retry = f"{wait:g}"
            self.error(429, reply_fmt, "rate limit exceeded: 10 requests per minute", {"Retry-After": retry})
            return
        if fmt not in self.city.formats:
            self.error(404, reply_fmt, f"format {fmt or 'none'} not supported")
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        params = {**query, **form}
        jurisdiction = params.get("jurisdiction_id")
        if self.city.jurisdiction_id and jurisdiction not in (None, "", self.city.jurisdiction_id):
            self.error(404, fmt, f"jurisdiction_id {jurisdiction} not found")
            return
        if self.city.quirks["jurisdiction_required"] and not jurisdiction:
            self.error(400, fmt, "jurisdiction_id was not provided")
            return
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if self.city.quirks["key_required"] and not ({params.get("api_key"), bearer} & set(self.city.api_keys)):
            self.error(401, fmt, "an api_key is required for every call")
            return
        self.route(verb, name, fmt, params, now)

    def route(self, verb: str, name: str, fmt: str, params: dict[str, str], now: datetime) -> None:
        """The GeoReport method a path names."""
        if verb == "POST":
            if name == "requests":
                self.post(fmt, params, now)
            else:
                self.error(404, fmt, f"cannot POST {name}")
        elif name == "discovery":
            self.discovery(fmt)
        elif name == "services":
            self.reply(fmt, "services", "service", [service_item(s) for s in self.city.services])
        elif name.startswith("services/"):
            code = name.split("/", 1)[1]
            service = next((s for s in self.city.services if s.code == code and s.attributes), None)
            if service is None:
                self.error(404, fmt, f"service_code {code} not found or has no definition")
            else:
                self.definition(fmt, service)
        elif name == "requests":
            self.requests(fmt, params, now)
        elif name.startswith("requests/"):
            ticket = self.state.truth.by_id.get(name.split("/", 1)[1])
            if ticket is None or ticket.state(now) is None:
                self.error(404, fmt, f"service request {name.split('/', 1)[1]} not found")
            else:
                self.reply(fmt, "service_requests", "request", [self.item(ticket, now, params, fmt)])
        elif name.startswith("tokens/"):
            token = name.split("/", 1)[1]
            if token not in self.state.tokens:
                self.error(404, fmt, f"token {token} not found")
            else:
                self.reply(fmt, "service_requests", "request", [{"service_request_id": self.state.tokens[token], "token": token}])
        else:
            self.error(404, fmt, f"no such method: {name}")

    # -- the methods -------------------------------------------------------------------

    def requests(self, fmt: str, params: dict[str, str], now: datetime) -> None:
        """GET requests: by id, by updated_after, or by date window with the spec's 90-day span, filters and paging."""
        q = self.city.quirks
        if params.get("service_request_id"):
            wanted = [self.state.truth.by_id.get(i.strip()) for i in params["service_request_id"].split(",")]
            found = [t for t in wanted if t is not None and t.state(now) is not None]
            self.reply(fmt, "service_requests", "request", [self.item(t, now, params, fmt) for t in found])
            return
        if q["updated_after"] and params.get("updated_after"):
            try:
                after = parse_time(params["updated_after"])
                before = parse_time(params["updated_before"]) if params.get("updated_before") else now
                int(params.get("page") or 1), int(params.get("page_size") or 0)
            except ValueError:
                self.error(400, fmt, "updated_after and updated_before must be W3C date-times; page and page_size whole numbers")
                return
            changed = self.state.truth.changed(after, before, now)
            self.reply(fmt, "service_requests", "request", [self.item(t, now, params, fmt) for t in self.page(changed, params)])
            return
        kept = timedelta(days=self.city.quirks["history_days"] or MAX_SPAN.days)  # how far back this city lists
        if q["date_filter"] == "ignored":
            params = {k: v for k, v in params.items() if k not in ("start_date", "end_date")}
        try:
            end = parse_time(params["end_date"]) if params.get("end_date") else now
            start = parse_time(params["start_date"]) if params.get("start_date") else end - min(MAX_SPAN, kept)
            int(params.get("page") or 1), int(params.get("page_size") or 0)  # checked here, used by page()
        except ValueError:
            self.error(400, fmt, "start_date and end_date must be W3C date-times; page and page_size whole numbers")
            return
        if end - start > MAX_SPAN:
            self.error(400, fmt, "start_date and end_date may not span more than 90 days")
            return
        if start < now - kept:
            self.error(400, fmt, f"start_date may not be more than {kept.days} days ago")
            return
        if any(start <= bad <= end for bad in self.state.truth.bad_data):
            self.error(500, fmt, "internal server error")  # one ticket it cannot show spoils every window that holds it
            return
        codes = set(params["service_code"].split(",")) if params.get("service_code") else None
        statuses = set(params["status"].lower().split(",")) if params.get("status") else None
        listed = []
        for ticket in reversed(self.state.truth.between(start, min(end, now + timedelta(seconds=1)))):
            event = ticket.state(now)
            if event is None or (codes and ticket.service_code not in codes) or (statuses and event[1] not in statuses):
                continue
            listed.append(ticket)
        self.reply(fmt, "service_requests", "request", [self.item(t, now, params, fmt) for t in self.page(listed, params)])

    def page(self, listed: list[Ticket], params: dict[str, str]) -> list[Ticket]:
        """The 1000-request cap, then the page asked for, where the city pages."""
        q = self.city.quirks
        listed = listed[: q["max_requests"]]
        if q["page_size"]:
            size = max(1, min(int(params.get("page_size") or q["page_size"]), q["max_page_size"]))
            page = 1 if q["paging_ignored"] else max(1, int(params.get("page") or 1))
            listed = listed[(page - 1) * size: page * size]
        return listed

    def item(self, ticket: Ticket, now: datetime, params: dict[str, str] | None = None, fmt: str = "json") -> dict[str, Any]:
        """A ticket as the city's API shows it at a moment, with the city's quirks: made once per state of the ticket
        (a listing shows the same tickets crawl after crawl), except with the notes history, which is of the moment."""
        when, status, notes = ticket.state(now) or ticket.events[0]
        q = self.city.quirks
        history = bool(q["extensions"] and params and params.get("extensions") == "true" and fmt == "json")
        key = (ticket.id, when, status)
        if not history and (made := self.state.items.get(key)) is not None:
            return made
        out: dict[str, Any] = {"service_request_id": ticket.id, "status": status.capitalize() if q["status_case"] == "capitalised" else status}
        if q["notes"]:
            out["status_notes"] = notes
        out.update({
            "service_name": ticket.service_name, "service_code": ticket.service_code, "description": ticket.description,
            "agency_responsible": None, "service_notice": None, "requested_datetime": self.date(ticket.requested),
            "updated_datetime": self.date(when), "expected_datetime": None, "address": ticket.address, "address_id": None,
            "zipcode": None, "lat": ticket.lat, "long": ticket.long, "media_url": None,
        })
        if q["extra_keys"]:
            out.update({"title": ticket.service_name, "address_string": ticket.address,
                        "status_note": f"<p>{escape(notes)}</p>" if notes else None})
        if history:
            out["notes"] = [{"datetime": self.date(when), "type": kind, "summary": text, "description": text}
                            for when, kind, text in ticket.history(now)]
        else:
            out = self.state.items[key] = Listed(out)
        return out

    def date(self, moment: datetime) -> str:
        """A time in the city's date style (W3C, without a zone, or SF's spaced one)."""
        return city_date(moment, self.city.timezone, self.city.quirks["dates"])

    def definition(self, fmt: str, service: Any) -> None:
        """GET services/{code}: a service's attributes."""
        attributes = [{"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
                       "datatype_description": None, "order": a.order, "description": a.description,
                       "values": [{"key": k, "name": v} for k, v in a.values.items()]} for a in service.attributes]
        body = {"service_code": service.code, "attributes": attributes}
        if fmt == "xml":
            self.send(200, to_xml_tree("service_definition", body), "text/xml; charset=utf-8")
        else:
            self.send(200, json.dumps(body).encode(), "application/json; charset=utf-8")

    def discovery(self, fmt: str) -> None:
        """The discovery document, pointing at this very server."""
        host, port = cast(tuple[str, int], self.server.server_address)[:2]
        types = {"json": "application/json", "xml": "text/xml"}
        body = {"changeset": "2026-01-01T00:00:00Z", "contact": f"Simulated city {self.city.name}",
                "key_service": "Ask the simulator for demo-key",
                "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": f"http://{host}:{port}/open311/v2",
                               "changeset": "2026-01-01T00:00:00Z", "type": "production",
                               "formats": [types[f] for f in self.city.formats]}]}
        if fmt == "xml":
            self.send(200, to_xml_tree("discovery", body), "text/xml; charset=utf-8")
        else:
            self.send(200, json.dumps(body).encode(), "application/json; charset=utf-8")

    def post(self, fmt: str, params: dict[str, str], now: datetime) -> None:
        """POST requests: checked as the spec says (key, service, location, required attributes), then a new ticket."""
        if params.get("api_key") not in self.city.api_keys:
            self.error(403, fmt, "api_key is missing or not valid")
            return
        service = next((s for s in self.city.services if s.code == params.get("service_code")), None)
        if service is None:
            self.error(404, fmt, f"service_code {params.get('service_code')} not found")
            return
        if not (params.get("lat") and params.get("long")) and not params.get("address_string") and not params.get("address_id"):
            self.error(400, fmt, "a location is required: lat and long, address_string or address_id")
            return
        missing = [a.code for a in service.attributes if a.required and not params.get(f"attribute[{a.code}]")]
        if missing:
            self.error(400, fmt, "required attributes missing: " + ", ".join(missing))
            return
        with self.state.lock:
            self.state.posted += 1
            number = self.state.posted
        ticket = lifecycle(self.city, service, f"{self.city.id[:3].upper()}-P{number:05d}", now, rng(self.city.seed, "post", number), "honest")
        ticket.description = params.get("description", "")[:4000]
        self.state.truth.add(ticket)
        if self.city.quirks["post_returns"] == "token":
            token = f"tok-{number:05d}"
            self.state.tokens[token] = ticket.id
            self.reply(fmt, "service_requests", "request", [{"token": token, "service_notice": "Thank you."}])
        else:
            self.reply(fmt, "service_requests", "request", [{"service_request_id": ticket.id, "service_notice": "Thank you.", "account_id": None}])

    def reply(self, fmt: str, root: str, item: str, items: list[dict[str, Any]]) -> None:
        """A list answer in the format asked for, in the city's wrapper."""
        if fmt == "xml":
            self.send(200, to_xml(root, item, items), "text/xml; charset=utf-8")
            return
        # json.dumps of the list, from each listed item's own JSON
        body = b"[" + b", ".join(i.json if isinstance(i, Listed) else json.dumps(i).encode() for i in items) + b"]"
        if self.city.quirks["wrapper"] == "fixmystreet":
            body = json.dumps({"requests" if root == "service_requests" else root: [{item: None}]}).encode().replace(b"null", body)
        self.send(200, body, "application/json; charset=utf-8")

    @property
    def city(self) -> City:
        """The city this handler answers for."""
        return self.state.city


def handler_for(state: CityState) -> type[CityHandler]:
    """The handler class of one city, for http.server (which makes one handler per connection)."""
    return type(f"CityHandler_{state.city.id}", (CityHandler,), {"state": state})


