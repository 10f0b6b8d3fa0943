"""The skeleton's parser against responses captured from real city APIs (../shared/realworld)."""

from zoneinfo import ZoneInfo

import pytest

from crawler.parse import NotOpen311, ParseError, SchemaError, parse_list, parse_time, to_tickets
from crawler.registry import Endpoint
from tests.conftest import REALWORLD

pytestmark = pytest.mark.skipif(not REALWORLD.is_dir(), reason="../shared/realworld is not beside the checkout")


def body(name: str) -> bytes:
    return (REALWORLD / name).read_bytes()


@pytest.mark.parametrize("name, fmt, key, count", [
    ("san-francisco-2012.requests.xml", "xml", "service_request_id", 56),
    ("san-francisco-2012.services.xml", "xml", "service_code", 38),
    ("bloomington-2012.requests.json", "json", "service_request_id", 21),
    ("bloomington-2012.services.json", "json", "service_code", 46),
    ("washington-dc-2012.services.xml", "xml", "service_code", 86),
    ("koeln-2024.requests.json", "json", "service_request_id", 100),
])
def test_real_lists_parse(name, fmt, key, count):
    items = parse_list(body(name), fmt, key)
    assert len(items) == count
    assert all(key in item for item in items)


def test_sf_quirks_become_clean_tickets():
    sf = Endpoint(id="san_francisco", name="SF", country="USA", base_url="https://x.org/", format="xml",
                  platform="Connected Bits", timezone="America/Los_Angeles", notes="", source="")
    tickets = to_tickets(parse_list(body("san-francisco-2012.requests.xml"), "xml", "service_request_id"), sf, "2012-05-23T00:00:00Z")
    assert len(tickets) == 56
    assert {t.status for t in tickets} <= {"open", "closed"}  # "Open"/"Closed" lower-cased
    # "2012-05-22 23:57:23.97" without a zone is read in Pacific time (UTC-7 in May).
    assert all(t.requested and t.requested.endswith("Z") for t in tickets)


def test_an_error_document_is_not_a_list():
    with pytest.raises(SchemaError, match="an error list"):
        parse_list(body("connected-bits.error-404.xml"), "xml", "service_request_id")


@pytest.mark.parametrize("raw, error", [
    (b"", NotOpen311),
    (b"  <!DOCTYPE html><html><body>Maintenance</body></html>", NotOpen311),
    (b'[{"service_code": "1"', ParseError),
    (b"<services><service>", ParseError),
    (b'{"not": "a list"}', SchemaError),
    (b'[1, 2]', SchemaError),
    (b'[{"code": 400, "description": "jurisdiction_id not provided"}]', SchemaError),
])
def test_what_is_not_a_list(raw, error):
    with pytest.raises(error):
        parse_list(raw, "xml" if raw.lstrip().startswith(b"<s") else "json", "service_code")


def test_xml_entities_are_refused_not_expanded():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><services><service><service_code>&b;</service_code></service></services>'
    with pytest.raises(ParseError):
        parse_list(bomb, "xml", "service_code")


def test_json_wrappers_and_a_bom():
    fms = b'\xef\xbb\xbf {"requests":[{"request":[{"service_request_id":"1"},{"service_request_id":"2"}]}]}'
    assert [i["service_request_id"] for i in parse_list(fms, "json", "service_request_id")] == ["1", "2"]
    single = b'{"service_request_id": 7, "status": "open"}'
    assert parse_list(single, "json", "service_request_id") == [{"service_request_id": 7, "status": "open"}]


@pytest.mark.parametrize("raw, expected", [
    ("2012-05-22 23:57:23.97", "2012-05-23T06:57:23Z"),
    ("2012-05-22T23:57:23-04:00", "2012-05-23T03:57:23Z"),
    ("2012-05-22T23:57:23Z", "2012-05-22T23:57:23Z"),
    ("not a date", None),
    ("", None),
    (None, None),
])
def test_parse_time(raw, expected):
    assert parse_time(raw, ZoneInfo("America/Los_Angeles")) == expected
