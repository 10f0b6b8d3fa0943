"""The years bench's scaling (benchmarks/years.py): a city's day of lines becomes another endpoint's later day, its
numbers jittered but its shape kept, so that the aged repository is made of the demo's own lines."""

import json
import random
import re
from datetime import date

from benchmarks.years import Pool, day_files, endpoint_ids, moved, registry_files
from tests.conftest import ROOT

PROBE = ('{"calls":[{"b":1234,"m":"services","ms":180,"n":6,"w":40},{"m":"requests","ms":95,"t":1}],'
         '"crawl":"2026-11-14T06:00:00Z","crawler":"0.2.0","endpoint":"bloomington","v":2}\n')
TICKET = '{"crawl":"2026-11-14T06:00:00Z","endpoint":"bloomington","id":"7","requested":"2026-11-13T09:00:00Z","status":"open"}\n'


def test_a_citys_line_becomes_another_endpoints_later_day_with_its_numbers_jittered():
    rng = random.Random(3)
    lines = [json.loads(moved(PROBE, 50, "bloomington", "bloomington_007", rng)) for _ in range(200)]
    assert {line["crawl"] for line in lines} == {"2027-01-03T06:00:00Z"}
    assert {line["endpoint"] for line in lines} == {"bloomington_007"}
    first = [line["calls"][0] for line in lines]
    assert {c["m"] for c in first} == {"services"} and {c["n"] for c in first} == {6}  # only ms, w and b move
    for key, was in (("ms", 180), ("w", 40), ("b", 1234)):
        values = [c[key] for c in first]
        assert all(0.8 * was * 0.94 <= v <= 1.25 * was * 1.06 for v in values), key  # within a fifth, two digits kept
        assert all(len(str(v).rstrip("0")) <= 2 for v in values) and len(set(values)) > 3, key
    assert moved(TICKET, 50, "bloomington", "bloomington_007", None) == TICKET.replace("2026-11-14", "2027-01-03").replace(
        "2026-11-13", "2027-01-02").replace('"bloomington"', '"bloomington_007"')


def test_a_day_gives_each_endpoint_one_of_its_citys_days():
    pool = Pool(cities=["bloomington", "chicago"], dates=[date(2026, 11, 13 + i) for i in range(7)],
                days={"probes": {(c, i): PROBE.replace("bloomington", c).replace("2026-11-14", f"2026-11-{13 + i}")
                                 for c in ("bloomington", "chicago") for i in range(7)},
                      "tickets": {("bloomington", i): TICKET for i in range(7)},
                      **{kind: {} for kind in ("events", "crawls", "twins", "twin_rows")}},
                first={"endpoints": {"bloomington": '{"endpoint":"bloomington","crawl":"2026-10-21T00:00:00Z"}\n'},
                       "services": {}},
                first_date=date(2026, 10, 21))
    assert endpoint_ids(pool, 3) == [("bloomington", "bloomington_000"), ("chicago", "chicago_001"), ("bloomington", "bloomington_002")]
    files = day_files(pool, date(2027, 3, 1), 3, random.Random(1))
    probes = [json.loads(line) for line in files["probes"].splitlines()]
    assert [p["endpoint"] for p in probes] == ["bloomington_000", "chicago_001", "bloomington_002"]
    assert {p["crawl"][:10] for p in probes} == {"2027-03-01"}
    assert sorted(files) == ["probes", "tickets"]  # a kind with no lines writes no file
    assert registry_files(pool, date(2027, 1, 1), 3) == {
        "endpoints": '{"endpoint":"bloomington_000","crawl":"2027-01-01T00:00:00Z"}\n'
                     '{"endpoint":"bloomington_002","crawl":"2027-01-01T00:00:00Z"}\n',
        "services": ""}


def test_every_endpoint_the_bench_makes_has_an_id_the_site_builds():
    """The registry's id pattern: an id outside it is left out of the site, and the bench would time a build of none
    (as its first runs did, with ids such as bloomington-007)."""
    pattern = json.loads((ROOT / "endpoints.schema.json").read_text())["items"]["properties"]["id"]["pattern"]
    pool = Pool(cities=["bloomington", "quietbrook"], dates=[], days={}, first={}, first_date=date(2026, 10, 21))
    assert all(re.fullmatch(pattern, endpoint) for _, endpoint in endpoint_ids(pool, 1000))
