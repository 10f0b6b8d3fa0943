"""The shapes of the crawler's requests, pinned by vcrpy cassettes recorded from loopback servers.

A cassette holds the requests one probe of an endpoint makes, with the key scrubbed. Replaying
it, the probe must send the same requests (method, path, query, the headers that matter), so a
change to what the crawler asks of a city shows up in review as a changed cassette. To record
again after a deliberate change: delete the cassette and run the tests (it is recorded from a
loopback server).
"""

from datetime import timedelta
from pathlib import Path

import pytest
import vcr

from crawler.plan import spread
from crawler.probe import probe_endpoint
from registry import Endpoint
from simulator.hostile import Hostile
from tests.conftest import NOW, entry, fast_client
from vocabulary import CRAWLS_PER_DAY

CASSETTES = Path(__file__).resolve().parent / "cassettes"
KEY = "s3cret-KEY"
HEADERS = ("accept-encoding", "connection", "authorization")


def same_shape(r1, r2):
    for name in HEADERS:
        assert r1.headers.get(name) == r2.headers.get(name), name
    assert r1.headers["User-Agent"].split("/")[0] == r2.headers["User-Agent"].split("/")[0] == "Open311Status"


def recorder():
    v = vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode="once", match_on=["method", "path", "query", "shape"],
        filter_query_parameters=[("api_key", "[key]")], filter_headers=[("authorization", "Bearer [key]")],
        decode_compressed_response=True,
    )
    v.register_matcher("shape", same_shape)
    return v


@pytest.mark.parametrize("how", ["param", "bearer"])
def test_the_request_shapes_of_one_probe(how):
    name = f"probe-api-key-{how}.yaml"
    cassette_path = CASSETTES / name
    recording = not cassette_path.exists()
    server = Hostile("open311", "127.0.4.1").__enter__() if recording else None
    try:
        # Replaying, nothing listens on the address: every request must be answered from the cassette.
        base = server.base_url if server else "http://127.0.4.1:9/open311/v2/"
        endpoint = Endpoint(**entry(base_url=base, jurisdiction_id="springfield.gov", api_key_env="K", api_key_as=how))
        with recorder().use_cassette(name, allow_playback_repeats=False) as cassette:
            client = fast_client()  # made inside: the recorder's connection classes are in place
            # The crawl of the day that also asks for the service definition.
            due = NOW.replace(hour=0) + timedelta(minutes=30 * (-spread(endpoint.id) % CRAWLS_PER_DAY))
            result = probe_endpoint(endpoint, client, due, api_key=KEY)
    finally:
        if server:
            server.__exit__(None, None, None)
    assert [p.outcome for p in result.probes] == ["ok"] * 8
    assert cassette.all_played or recording
    recorded = cassette_path.read_text()
    assert KEY not in recorded and ("[key]" in recorded or "%5Bkey%5D" in recorded)
    assert [(r.method, r.path) for r in cassette.requests] == [
        ("GET", "/open311/v2/services.json"), ("GET", "/open311/v2/requests.json"),
        ("GET", "/open311/v2/requests/A-1.json"), ("GET", "/open311/v2/services/001.json"),
        *[("GET", "/open311/v2/requests.json")] * 4,  # the backfill: the four days before, a call each
    ]
    assert [dict(r.query)["end_date"] for r in cassette.requests[4:]] == [
        f"2026-11-{d:02d}T04:30:00Z" for d in (19, 18, 17, 16)]
    first_query = dict(cassette.requests[1].query)
    assert first_query["start_date"] == "2026-11-19T04:30:00Z" and first_query["jurisdiction_id"] == "springfield.gov"
