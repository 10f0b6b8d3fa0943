"""Data products: api/endpoints.json and per-endpoint JSON, shields.io badges, Atom feeds of outages,
CSV downloads described by a Frictionless data package. Each function returns text; write_products
writes them all."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from figures import EndpointFigures, SiteFigures, as_json
from render.pages import write

OUTAGE_ID = "tag:open311-status,2026:outage"
FEED_ID = "tag:open311-status,2026:outages"
INCIDENT_ID = "tag:open311-status,2026:incident"
COLORS = {"up": "brightgreen", "degraded": "yellow", "down": "red", "unknown": "lightgrey", "maintenance": "blue"}
SVG_COLORS = {"brightgreen": "#2e7d32", "yellow": "#9a6700", "red": "#c62828", "lightgrey": "#6e7781", "blue": "#3f51b5"}


def dumps(data: Any) -> str:
    """JSON as the site publishes it: indented, keys sorted, so diffs of the products stay readable."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def uptime_color(share: float | None) -> str:
    """A badge's colour for an uptime share, at the thresholds status pages commonly use."""
    if share is None:
        return "lightgrey"
    return "brightgreen" if share >= 0.99 else "yellow" if share >= 0.95 else "red"


def badges(e: EndpointFigures) -> dict[str, dict[str, Any]]:
    """shields.io endpoint badges (https://shields.io/badges/endpoint-badge): status and 30-day uptime."""
    share = e.uptime["30d"]
    return {
        "status": {"schemaVersion": 1, "label": "open311", "message": e.status, "color": COLORS[e.status]},
        "uptime": {"schemaVersion": 1, "label": "uptime 30d", "message": "no data" if share is None else f"{share * 100:.1f}%",
                   "color": uptime_color(share)},
    }


def svg_badge(badge: dict[str, Any]) -> str:
    """The same badge as a self-contained SVG, for pages that cannot call shields.io."""
    label, message = escape(badge["label"]), escape(badge["message"])
    left, right = 7 * len(badge["label"]) + 10, 7 * len(badge["message"]) + 10
    color = SVG_COLORS[badge["color"]]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
            f'aria-label="{label}: {message}"><title>{label}: {message}</title>'
            f'<rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{color}"/>'
            f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
            f'<text x="{left / 2}" y="14">{label}</text><text x="{left + right / 2}" y="14">{message}</text></g></svg>\n')


def atom(title: str, feed_id: str, link: str, updated: str, outages: list[tuple[EndpointFigures, dict[str, Any]]]) -> str:
    """An Atom feed (RFC 4287) of outages: (endpoint, outage) pairs, newest first; an outage that was part of an
    incident carries the incident's words and a link to its issue, and a stale incident is an entry of its own."""
    entries = []
    for e, o in outages:
        page = f"{link}endpoints/{e.id}.html"
        if o.get("kind") == "stale":  # no outage: the API answered, but no new request came
            entries.append(_entry(f"{INCIDENT_ID}:{o['id']}", o["heading"] + ("" if o["end"] else " (ongoing)"), o["end"] or o["start"],
                                  page, o.get("issue"), o["summary"] or o["title"]))
            continue
        state = f"ended {o['end']}" if o["end"] else "ongoing"
        hours = o["duration_s"] / 3600
        if o.get("maintenance"):  # down inside a window the city declared: said as such, never as an outage
            entries.append(_entry(f"{OUTAGE_ID}:{e.id}:{o['start']}", f"{e.name}: planned maintenance, {state}",
                                  o["end"] or o["start"], page, None,
                                  f"{e.name} was down from {o['start']} ({state}, {hours:.1f} h) inside the planned "
                                  f"maintenance its registry entry declares: not counted as an outage."))
            continue
        summary = f"{e.name} was down from {o['start']} ({state}, {hours:.1f} h, {o['crawls']} failed crawls, mostly {o['failure']})."
        incident = _incident_of(e, o)
        if incident:
            summary += f" Incident: {incident['heading']}." + (f" {incident['summary']}" if incident["summary"] else "")
        entries.append(_entry(f"{OUTAGE_ID}:{e.id}:{o['start']}",  # the same in every feed it is in
                              f"{e.name}: down ({o['failure']}), {state}", o["end"] or o["start"], page,
                              (incident or {}).get("issue"), summary))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>{escape(feed_id)}</id><updated>{escape(updated)}</updated>"
            f'<link href="{escape(link)}"/><author><name>Open311 Status</name></author>' + "".join(entries) + "</feed>\n")


def _incident_of(e: EndpointFigures, outage: dict[str, Any]) -> dict[str, Any] | None:
    """The endpoint's incident an outage was part of (metrics.incidents.link_outages), whole."""
    if not outage.get("incident"):
        return None
    return next((i for i in e.incidents if i["id"] == outage["incident"]["id"]), None)


def _entry(entry_id: str, title: str, updated: str, page: str, issue: dict[str, Any] | None, summary: str) -> str:
    """One feed entry, every text escaped; with a related link to its incident's issue when it has one."""
    related = f'<link rel="related" href="{escape(issue["url"])}"/>' if issue and issue.get("url") else ""
    return (f"<entry><id>{escape(entry_id)}</id><title>{escape(title)}</title><updated>{escape(updated)}</updated>"
            f'<link href="{escape(page)}"/>{related}<summary>{escape(summary)}</summary></entry>')


DAILY_FIELDS = [
    ("endpoint", "string", "Registry id."),
    ("day", "date", "UTC day."),
    ("crawls", "integer", "Crawls that day with a known status (an unknown crawl is left out, as in uptime)."),
    ("up", "integer", "Crawls with status up."),
    ("degraded", "integer", "Crawls with status degraded."),
    ("down", "integer", "Crawls with status down."),
    ("uptime", "number", "Share of the day's known crawls that were not down; empty without any."),
    ("maintenance", "integer", "Crawls down inside the planned maintenance the registry declares: not counted in crawls or uptime."),
]


def _csv(fields: list[tuple[str, str, str]], rows: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f[0] for f in fields])
    writer.writerows(rows)
    return out.getvalue()


def daily_csv(details: dict[str, EndpointFigures]) -> str:
    """One row per endpoint and day with a crawl, from the 90-day status bar."""
    return _csv(DAILY_FIELDS, (
        [endpoint_id, d["day"], d["crawls"], d["crawls"] - d["down"] - d["degraded"], d["degraded"], d["down"],
         "" if d["uptime"] is None else d["uptime"], d.get("maintenance", 0)]
        for endpoint_id in sorted(details) for d in details[endpoint_id].status_days if d["crawls"] or d.get("maintenance")))


REQUEST_FIELDS = [
    ("endpoint", "string", "Registry id."),
    ("day", "date", "UTC day the requests were made (requested_datetime)."),
    ("requests", "integer", "Distinct service requests seen with that requested day."),
    ("covered", "number", "Share of that day whose requests were read whole (1 for a whole day; a day not covered at all is left out)."),
]


def requests_csv(details: dict[str, EndpointFigures]) -> str:
    """downloads/daily-requests.csv: requests per endpoint and day, for spreadsheets."""
    return _csv(REQUEST_FIELDS, ([endpoint_id, d["day"], d["requests"], d["covered"]]
                                 for endpoint_id in sorted(details) for d in details[endpoint_id].daily_requests))


def datapackage(generated_at: str, published: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Frictionless data package (https://specs.frictionlessdata.io/data-package/): the CSVs, and each month of each
    kind of record as Parquet that is on the site (published: history.downloads.publish's)."""
    def resource(name: str, path: str, title: str, fields: list[tuple[str, str, str]]) -> dict[str, Any]:
        return {"name": name, "path": path, "title": title, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in fields],
                           "primaryKey": ["endpoint", "day"], "missingValues": [""]}}

    return {
        "name": "open311-status", "title": "Open311 Status: daily aggregates", "profile": "tabular-data-package",
        "created": generated_at,
        "description": "Daily availability and utilization of public Open311 GeoReport v2 endpoints, computed from "
                       "the crawl records in the repository's data/ (the full history, one line per call).",
        "licenses": [{"name": "ODC-PDDL-1.0", "path": "https://opendatacommons.org/licenses/pddl/", "title": "Public Domain Dedication and License"}],
        "resources": [resource("daily-status", "daily-status.csv", "Crawls and uptime per endpoint and day", DAILY_FIELDS),
                      resource("daily-requests", "daily-requests.csv", "Service requests per endpoint and requested day", REQUEST_FIELDS)]
                     + [parquet_resource(e, (published or {})["schemas"][e["kind"]]) for e in (published or {}).get("parquet", [])],
    }


def parquet_resource(entry: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """One month of one kind of record, as Parquet (history/parquet.py; its fields: data/README.md)."""
    return {"name": entry["path"].removesuffix(".parquet").replace("_", "-"), "path": entry["path"],
            "title": f"{entry['kind']} of {entry['month']} (data/README.md)", "format": "parquet",
            "mediatype": "application/vnd.apache.parquet", "profile": "tabular-data-resource",
            "schema": schema}  # sizes and hashes: manifest.json (Frictionless cannot count a Parquet file's bytes)


def manifest(generated_at: str, published: dict[str, Any], csv_sizes: dict[str, int]) -> dict[str, Any]:
    """downloads/manifest.json: every file of downloads/ with its size, and the years moved to release assets."""
    return {"generated_at": generated_at, "limit_bytes": published["limit_bytes"],
            "files": [{"path": name, "bytes": size} for name, size in sorted(csv_sizes.items())] + published["parquet"],
            "archives": published["archives"]}


def write_products(out: Path, site: SiteFigures, published: dict[str, Any] | None = None) -> None:
    """api/endpoints.json, api/<id>.json, badges/<id>/*.json|svg, feeds/*.xml, downloads/*.csv, datapackage.json and
    manifest.json (published: the Parquet files build.py put in downloads/, and the years it moved to their zips)."""
    stamp = site.generated_at
    write(out / "api" / "endpoints.json", dumps({"generated_at": stamp, "endpoints": as_json(site.endpoints)}))
    everything = []
    for endpoint_id, detail in site.details.items():
        write(out / "api" / f"{endpoint_id}.json", dumps(as_json(detail)))
        for name, badge in badges(detail).items():
            write(out / "badges" / endpoint_id / f"{name}.json", dumps(badge))
            write(out / "badges" / endpoint_id / f"{name}.svg", svg_badge(badge))
        stale = [i for i in detail.incidents if i["kind"] == "stale"]
        own = sorted([(detail, o) for o in detail.outages + stale], key=lambda pair: pair[1]["start"], reverse=True)
        everything += own
        write(out / "feeds" / f"{endpoint_id}.xml", atom(f"Outages of {detail.name}", f"{FEED_ID}:{endpoint_id}", "../", stamp, own))
    everything.sort(key=lambda pair: (pair[1]["start"], pair[0].id), reverse=True)
    write(out / "feeds" / "outages.xml", atom("Open311 Status: outages", FEED_ID, "../", stamp, everything))
    write(out / "downloads" / "daily-status.csv", daily_csv(site.details))
    write(out / "downloads" / "daily-requests.csv", requests_csv(site.details))
    write(out / "downloads" / "datapackage.json", dumps(datapackage(stamp, published)))
    published = published or {"limit_bytes": None, "parquet": [], "archives": []}
    sizes = {p.name: p.stat().st_size for p in (out / "downloads").glob("*.csv")}
    write(out / "downloads" / "manifest.json", dumps(manifest(stamp, published, sizes)))
