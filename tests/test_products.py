"""The data products of the site: per-endpoint JSON, badges, Atom feeds, CSV with a data package."""

import csv
import json

import frictionless
import jsonschema
import pytest
from defusedxml import ElementTree

from tests.test_build import built  # noqa: F401 (the fixture: the fixed history, built once)

ATOM = "{http://www.w3.org/2005/Atom}"
# shields.io's endpoint badge (https://shields.io/badges/endpoint-badge), as a schema.
SHIELDS = {
    "type": "object", "required": ["schemaVersion", "label", "message"], "additionalProperties": False,
    "properties": {
        "schemaVersion": {"const": 1}, "label": {"type": "string"}, "message": {"type": "string", "minLength": 1},
        "color": {"type": "string"}, "labelColor": {"type": "string"}, "isError": {"type": "boolean"},
        "namedLogo": {"type": "string"}, "logoSvg": {"type": "string"}, "logoColor": {"type": "string"},
        "logoWidth": {"type": "integer"}, "style": {"type": "string"}, "cacheSeconds": {"type": "integer", "minimum": 300},
    },
}


def test_every_endpoint_has_its_full_detail_as_json(built):  # noqa: F811
    out, _ = built
    alpha = json.loads((out / "api" / "alpha.json").read_text())
    listed = {e["id"]: e for e in json.loads((out / "api" / "endpoints.json").read_text())["endpoints"]}
    assert {k: alpha[k] for k in listed["alpha"]} == listed["alpha"]  # the summary, and more
    assert alpha["outages"][0] == {"start": "2026-11-20T06:00:00Z", "end": "2026-11-20T11:30:00Z", "duration_s": 19800,
                                   "failure": "http_5xx", "crawls": 1, "incident": None, "maintenance": False}  # one crawl: no incident
    assert sorted(p.name for p in (out / "api").glob("*.json")) == ["alpha.json", "beta.json", "endpoints.json", "gamma.json"]


@pytest.mark.parametrize("endpoint, status, uptime, color", [
    ("alpha", "degraded", "60.0%", "red"),
    ("gamma", "unknown", "no data", "lightgrey"),
])
def test_badges_follow_the_shields_endpoint_schema(built, endpoint, status, uptime, color):  # noqa: F811
    out, _ = built
    status_badge = json.loads((out / "badges" / endpoint / "status.json").read_text())
    uptime_badge = json.loads((out / "badges" / endpoint / "uptime.json").read_text())
    for badge in (status_badge, uptime_badge):
        jsonschema.validate(badge, SHIELDS)
    assert status_badge["message"] == status and (uptime_badge["message"], uptime_badge["color"]) == (uptime, color)
    svg = ElementTree.fromstring((out / "badges" / endpoint / "uptime.svg").read_bytes())
    assert svg.get("aria-label") == f"uptime 30d: {uptime}"


def test_the_outage_feeds_parse_as_atom(built):  # noqa: F811
    out, _ = built
    feed = ElementTree.fromstring((out / "feeds" / "outages.xml").read_bytes())
    assert feed.tag == f"{ATOM}feed" and feed.findtext(f"{ATOM}updated") == "2026-11-20T12:00:00Z"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Alpha <script>alert(1)</script> & Co: down (http_5xx), ended 2026-11-20T11:30:00Z",
        # the incident log's stale one, over: headed as resolved, with its span
        "Resolved: Alpha <script>alert(1)</script> & Co had no new request from 2026-11-09 18:20 UTC to 2026-11-10 11:30 UTC (17 h 10 min)",
        "Alpha <script>alert(1)</script> & Co: down (timeout), ended 2026-11-15T12:00:00Z",
    ]  # escaped in the XML, read back as text
    stale = entries[1]
    assert stale.find(f"{ATOM}link[@rel='related']").get("href") == "https://github.com/open311status/open311-status/issues/7"
    assert stale.findtext(f"{ATOM}summary").endswith("listed new requests again by 2026-11-10 11:30 UTC, after none since "
                                                      "2026-11-09 18:20 UTC (17 h 10 min).")
    assert all(e.findtext(f"{ATOM}id") and e.findtext(f"{ATOM}updated") for e in entries)
    own = ElementTree.fromstring((out / "feeds" / "alpha.xml").read_bytes())
    assert [e.findtext(f"{ATOM}id") for e in own.findall(f"{ATOM}entry")] == [e.findtext(f"{ATOM}id") for e in entries]
    assert ElementTree.fromstring((out / "feeds" / "gamma.xml").read_bytes()).findall(f"{ATOM}entry") == []


def test_the_data_package_validates_and_describes_the_csvs(built):  # noqa: F811
    out, _ = built
    package = out / "downloads" / "datapackage.json"
    report = frictionless.validate(str(package))
    assert report.valid, report.flatten(["type", "note"])
    descriptor = json.loads(package.read_text())
    for resource in (r for r in descriptor["resources"] if r["format"] == "csv"):  # Parquet: tests/test_parquet.py
        with open(out / "downloads" / resource["path"], newline="") as f:
            header = next(csv.reader(f))
        assert header == [field["name"] for field in resource["schema"]["fields"]]
    with open(out / "downloads" / "daily-status.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[-1] == {"endpoint": "alpha", "day": "2026-11-20", "crawls": "3", "up": "1", "degraded": "1", "down": "1",
                        "uptime": "0.6667", "maintenance": "0"}
