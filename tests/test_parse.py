"""The tolerant parser against answers captured from real city APIs (tests/fixtures/realworld), quirks, and fuzz."""

import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler import parse
from crawler.conformance import FINDINGS, Findings
from crawler.parse import NotOpen311, ParseError, SchemaError, parse_time
from crawler.tickets import to_tickets
from registry import Endpoint
from tests.conftest import REALWORLD


def body(name: str) -> bytes:
    return (REALWORLD / name).read_bytes()


def read(reader, raw, fmt):
    findings = Findings()
    return reader(raw, fmt, findings), findings.as_dict()


@pytest.mark.parametrize("name, reader, fmt, count, findings", [
    ("san-francisco-2012.requests.xml", parse.requests, "xml", 56, {
        "date_not_w3c": "2012-05-22 23:57:23.97", "date_without_timezone": "2012-05-22 23:57:23.97", "status_case": "Open",
        "xml_namespace": '<service_requests xmlns:m="http://org/sfgov/sf311v2part2/services" xmlns:soapenv',
        "xsi_nil": "updated_datetime", "zero_coordinates": "1129806: 0.0, 0.0"}),
    ("san-francisco-2012.services.xml", parse.services, "xml", 38, {
        "xml_namespace": '<services xmlns:m="http://org/sfgov/sf311v2/services" xmlns:soapenv="http://sche'}),
    ("bloomington-2012.requests.json", parse.requests, "json", 21, {"zero_coordinates": "4fbd2b76b1fe2c195f000000: 0, 0"}),
    ("bloomington-2012.services.json", parse.services, "json", 46, {}),
    ("washington-dc-2012.services.xml", parse.services, "xml", 86, {"html_in_text": "description: <br>"}),
    ("koeln-2024.requests.json", parse.requests, "json", 100, {
        "html_in_text": "status_note: <p>", "nonstandard_key": "address_string, status_note, title"}),
])
def test_real_lists_parse_with_their_findings(name, reader, fmt, count, findings):
    items, found = read(reader, body(name), fmt)
    assert len(items) == count
    assert found == findings


def test_bloomington_has_eleven_services_with_definitions():
    items, _ = read(parse.services, body("bloomington-2012.services.json"), "json")
    assert sum(parse.is_true(i["metadata"]) for i in items) == 11


def test_washington_dc_definition_s0301():
    definition, found = read(parse.definition, body("washington-dc-2012.service-definition-S0301.xml"), "xml")
    assert definition["service_code"] == "S0301"
    assert len(definition["attributes"]) == 6
    assert found == {}  # orders 9, 3, ... are unique, if not sequential; <values /> is an empty list
    listed = [a for a in definition["attributes"] if a["values"]]
    assert all(isinstance(a["values"], list) and {"key", "name"} <= set(a["values"][0]) for a in listed)


@pytest.mark.parametrize("name, fmt, endpoints, findings", [
    ("washington-dc-2012.discovery.xml", "xml", 2, {}),
    ("helsinki-2013.discovery.json", "json", 2, {"bom": "EF BB BF"}),
])
def test_discovery_documents(name, fmt, endpoints, findings):
    document, found = read(parse.discovery, body(name), fmt)
    assert len(document["endpoints"]) == endpoints
    assert all("specification" in e and "url" in e for e in document["endpoints"])
    assert found == findings


def test_an_error_document_is_not_a_list():
    with pytest.raises(SchemaError, match="an error answer: Service request not found with id or token not-an-id"):
        read(parse.requests, body("connected-bits.error-404.xml"), "xml")


def test_sf_quirks_become_clean_tickets():
    sf = Endpoint(id="san_francisco", name="SF", country="USA", base_url="https://x.org/", format="xml",
                  platform="Connected Bits", timezone="America/Los_Angeles", notes="", source="")
    items, _ = read(parse.requests, body("san-francisco-2012.requests.xml"), "xml")
    tickets = to_tickets(items, sf, "2012-05-23T00:00:00Z")
    assert len(tickets) == 56
    assert {t.status for t in tickets} == {"open", "closed"}  # "Open"/"Closed" lower-cased
    first = next(t for t in tickets if t.id == "1129806")
    assert first.requested == "2012-05-23T06:57:23Z"  # 23:57:23.97 Pacific daylight time
    assert first.updated is None  # xsi:nil


@pytest.mark.parametrize("raw, fmt, error", [
    (b"", "json", NotOpen311),
    (b"  <!DOCTYPE html><html><body>Maintenance</body></html>", "json", NotOpen311),
    (b'[{"service_code": "1"', "json", ParseError),
    (b"<services><service>", "xml", ParseError),
    (b'{"not": "a list"}', "json", SchemaError),
    (b"[1, 2]", "json", SchemaError),
    (b'[{"code": 400, "description": "jurisdiction_id not provided"}]', "json", SchemaError),
    (b'{"error": "Missing jurisdiction_id"}', "json", SchemaError),
    (b'[{"service_name": "Pothole"}]', "json", SchemaError),
])
def test_what_is_not_a_service_list(raw, fmt, error):
    with pytest.raises(error):
        read(parse.services, raw, fmt)


def test_xml_entities_are_refused_not_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b'<services><service><service_code>&b;</service_code></service></services>')
    with pytest.raises(ParseError, match="XML refused: EntitiesForbidden"):
        read(parse.services, bomb, "xml")


@pytest.mark.parametrize("raw, fmt, ids, findings", [
    # FixMyStreet's wrapper, with a byte-order mark and white space before it.
    (b'\xef\xbb\xbf {"requests":[{"request":[{"service_request_id":"1"},{"service_request_id":"2"}]}]}', "json", ["1", "2"],
     {"bom": "EF BB BF", "leading_whitespace": "' '", "json_wrapper": "{'requests': ...}"}),
    # One object where the spec wants a one-element array.
    (b'{"service_request_id": 7, "status": "open"}', "json", [7], {"single_object": "requests: an object"}),
    (b'{"service_requests": [{"service_request_id": "9"}]}', "json", ["9"], {"json_wrapper": "{'service_requests': ...}"}),
    # Zurich: single values as one-element lists.
    (b'[{"service_request_id": ["5"], "status": ["closed"]}]', "json", ["5"], {"json_wrapper": "service_request_id: [value]"}),
    # XML: white space before the declaration, a default namespace, one request alone, an empty element.
    (b'\n  <?xml version="1.0"?><service_requests xmlns="http://wiki.open311.org/GeoReport_v2"><request>'
     b"<service_request_id>3</service_request_id><status_notes/></request></service_requests>", "xml", ["3"],
     {"leading_whitespace": "'\\n  '", "xml_namespace": '<service_requests xmlns="http://wiki.open311.org/GeoReport_v2">'}),
    (b"<service_requests><request><service_request_id>4</service_request_id></request></service_requests>", "xml", ["4"],
     {"xml_declaration_missing": "<service_requests><request><service_requ"}),
    # A JSON body where XML was asked for is read, and noted.
    (b'[{"service_request_id": "8"}]', "xml", ["8"], {"content_type": "asked for xml, the body is json"}),
])
def test_tolerated_shapes(raw, fmt, ids, findings):
    items, found = read(parse.requests, raw, fmt)
    assert [i["service_request_id"] for i in items] == ids
    assert found == findings


@pytest.mark.parametrize("item, findings", [
    ({"status": "Closed"}, {"status_case": "Closed"}),
    ({"status": "acknowledged"}, {"status_nonstandard": "acknowledged"}),
    ({"requested_datetime": "2012-05-22T23:57:23.123456789-04:00"}, {}),  # fractions of any length are W3C
    ({"requested_datetime": "2012-05-22 23:57"}, {"date_not_w3c": "2012-05-22 23:57", "date_without_timezone": "2012-05-22 23:57"}),
    ({"requested_datetime": "2012-05-22T23:57:00"}, {"date_without_timezone": "2012-05-22T23:57:00"}),
    ({"requested_datetime": "2012-05-22T23:57:00+0200"}, {"date_not_w3c": "2012-05-22T23:57:00+0200"}),
    ({"requested_datetime": "22/05/2012"}, {"date_unreadable": "22/05/2012"}),
    ({"requested_datetime": "2012-05-22T10:00:00Z", "updated_datetime": "2012-05-21T10:00:00Z"},
     {"updated_before_requested": "1: 2012-05-21T10:00:00Z"}),
    ({"description": "Hole <b>deep</b>"}, {"html_in_text": "description: <b>"}),
    ({"title": "Pothole"}, {"nonstandard_key": "title"}),
])
def test_request_item_findings(item, findings):
    raw = json.dumps([{"service_request_id": "1", **item}]).encode()
    assert read(parse.requests, raw, "json")[1] == findings


def test_some_items_without_an_id_are_a_finding_not_a_failure():
    raw = b'[{"service_request_id": "1"}, {"token": "abc"}]'  # Chicago lists requests not yet given an id
    assert read(parse.requests, raw, "json")[1] == {"item_without_id": "1 of 2 without service_request_id"}


def test_service_findings():
    raw = json.dumps([{"service_code": "1", "metadata": "true", "type": "instant"}]).encode()
    assert read(parse.services, raw, "json")[1] == {"metadata_not_boolean": "'true'", "service_type_nonstandard": "instant"}


@pytest.mark.parametrize("raw, expected", [
    ("2012-05-22 23:57:23.97", "2012-05-23T06:57:23Z"),
    ("2012-05-22T23:57:23-04:00", "2012-05-23T03:57:23Z"),
    ("2012-05-22T23:57:23Z", "2012-05-22T23:57:23Z"),
    ("2012-05-22T23:57:23.1234567Z", "2012-05-22T23:57:23Z"),
    ("not a date", None),
    ("", None),
    (None, None),
])
def test_parse_time(raw, expected):
    assert parse_time(raw, ZoneInfo("America/Los_Angeles")) == expected


def test_every_finding_code_is_documented():
    with pytest.raises(KeyError, match="unknown finding code 'made_up'"):
        Findings().add("made_up")
    assert all(FINDINGS.values())


READERS = [parse.services, parse.requests, parse.definition, parse.discovery]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["service_code", "service_request_id", "status", "requests", "request", "services", "errors",
                         "attributes", "endpoints", "metadata", "requested_datetime", "description", "code", "x"]),
        inner, max_size=5),
    max_leaves=20,
)
xml_names = st.sampled_from(["services", "service", "service_requests", "request", "service_code", "status", "errors",
                             "error", "attributes", "values", "discovery", "endpoints", "x"])


@st.composite
def xml_documents(draw, depth=0):
    tag = draw(xml_names)
    if depth > 3 or draw(st.booleans()):
        text = draw(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=10))
        from xml.sax.saxutils import escape
        return f"<{tag}>{escape(text)}</{tag}>"
    children = draw(st.lists(xml_documents(depth=depth + 1), max_size=3))
    return f"<{tag}>{''.join(children)}</{tag}>"


def assert_only_findings(reader, raw, fmt):
    findings = Findings()
    try:
        reader(raw, fmt, findings)
    except (NotOpen311, ParseError, SchemaError):
        pass  # the three ways an answer may fail; anything else escaping is a bug
    assert set(findings.as_dict()) <= set(FINDINGS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, reader=st.sampled_from(READERS))
def test_fuzz_json_structures(value, reader):
    assert_only_findings(reader, json.dumps(value).encode(), "json")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=xml_documents(), reader=st.sampled_from(READERS), declaration=st.booleans())
def test_fuzz_xml_structures(document, reader, declaration):
    raw = (('<?xml version="1.0" encoding="utf-8"?>' if declaration else "") + document).encode()
    assert_only_findings(reader, raw, "xml")


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200), reader=st.sampled_from(READERS), fmt=st.sampled_from(["json", "xml"]))
def test_fuzz_bytes(raw, reader, fmt):
    assert_only_findings(reader, raw, fmt)
