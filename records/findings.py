"""Conformance findings: the catalogue shared by the crawler (which records them) and the metrics
(which score them). A finding is how an answer departs from GeoReport v2 without failing."""

from __future__ import annotations

FINDINGS: dict[str, str] = {
    # The document as a whole
    "bom": "the body starts with a UTF-8 byte-order mark",
    "leading_whitespace": "white space before the document",
    "xml_declaration_missing": "XML without the <?xml ...?> declaration the spec asks for",
    "xml_namespace": "XML with namespaces on elements or the root (the spec asks for none)",
    "xsi_nil": "xsi:nil=\"true\" instead of an empty element",
    "json_wrapper": "a JSON list wrapped in an object (such as FixMyStreet's {\"requests\":[{\"request\":[...]}]})",
    "single_object": "one object where the spec wants a one-element array",
    "content_type": "a Content-Type that does not match the format asked for",
    "error_shape": "an error answer that is not the spec's list of {code, description}",
    # Items
    "nonstandard_key": "keys the spec does not define (extensions or a platform's own)",
    "item_without_id": "items without their id (service_code or service_request_id)",
    "status_case": "status in another case than open/closed (such as \"Open\")",
    "status_nonstandard": "a status other than open or closed",
    "date_not_w3c": "a date-time not in the W3C form (such as a space instead of T)",
    "date_without_timezone": "a date-time without Z or an offset (read in the city's time zone)",
    "date_unreadable": "a date-time that cannot be read at all",
    "updated_before_requested": "updated_datetime earlier than requested_datetime",
    "html_in_text": "HTML markup in a text field (the spec says no HTML)",
    "zero_coordinates": "lat/long of 0 for an unknown location",
    "metadata_not_boolean": "services' metadata not true or false",
    "service_type_nonstandard": "a service type other than realtime, batch or blackbox",
    "attribute_datatype_nonstandard": "an attribute datatype the spec does not define",
    "attribute_order_repeated": "two attributes of one service with the same order",
    "discovery_endpoints_object": "discovery's endpoints as an object rather than a list",
    # Between calls
    "format_fallback": "the registry's format failed where the other one worked",
    "lookup_not_one": "GET requests/{id} did not answer exactly that one request",
    "lookup_status_differs": "GET requests/{id} and the list disagree on a request's status",
    "paging_ignored": "page=2 answered the same requests as page 1",
    "date_filter_ignored": "GET requests with start_date and end_date answered requests from outside those dates",
}

# How much a finding costs the conformance score (metrics/quality.py): "major" would break or
# mislead a client that follows the spec, "minor" a careful client copes with, "cosmetic" none.
MAJOR = {"json_wrapper", "single_object", "content_type", "item_without_id", "status_nonstandard", "date_unreadable",
         "error_shape", "format_fallback", "lookup_not_one", "paging_ignored", "date_filter_ignored"}
COSMETIC = {"bom", "leading_whitespace", "xsi_nil", "nonstandard_key", "zero_coordinates"}
PENALTY = {"major": 10, "minor": 4, "cosmetic": 1}


def severity(code: str) -> str:
    """How much a finding matters (error, warning, note): the conformance score weighs them by it."""
    return "major" if code in MAJOR else "cosmetic" if code in COSMETIC else "minor"
