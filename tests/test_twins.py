"""Open-data twins: small files in the layouts of Chicago's, San Francisco's and Boston's datasets, served
by a loopback portal that answers Socrata and CKAN queries, fetched by the real crawler; the figures
below are worked out by hand from those files and the API-side records written here."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

import audits as audit
from metrics.twin import audit_figures, twin_figures
from records.read import read_data
from simulator.opendata import Portal
from tests.conftest import ROOT, entry, fast_client, read_lines, sim
from twins import main

FILES = ROOT / "tests" / "fixtures" / "twins"
NOW = datetime(2026, 11, 20, 20, tzinfo=timezone.utc)  # the day before, in every city's time zone, is 2026-11-19
CHICAGO = {"id": "sr_number", "requested": "created_date", "closed": "closed_date", "status": "status", "service": "sr_type",
           "channel": "origin"}
SF = {"id": "service_request_id", "requested": "requested_datetime", "closed": "closed_date", "status": "status_description",
      "service": "service_name", "channel": "source", "reason": "status_notes", "photo": "media_url"}
BOSTON = {"id": "case_enquiry_id", "requested": "open_dt", "closed": "closed_dt", "status": "case_status", "service": "type",
          "channel": "source", "reason": "closure_reason", "photo": "closed_photo"}


def boston_rows(name):
    import csv
    return list(csv.DictReader((FILES / name).read_text().splitlines()))


def factory(interval, allow_loopback=False, limits=None, host=""):
    return fast_client(0.0, allow_loopback)


def twins(*args, now=NOW):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*args, "--now", now.isoformat(), "--allow-loopback"], clock=lambda: now, env={},
                    client_factory=factory)
    return code, out.getvalue(), err.getvalue()


def api_side(data):
    """What the API showed: Chicago lists three of its six tickets, San Francisco all four."""
    def write(kind, records):
        folder = data / kind / "2026"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "2026-11-19.jsonl", "a") as f:
            for r in records:
                f.write(json.dumps({"v": 1, **r}) + "\n")

    def service(endpoint, name):
        return {"crawl": "2026-11-19T12:00:00Z", "endpoint": endpoint, "id": name[:3], "name": name, "group": None,
                "metadata": False, "listed": True}

    def event(endpoint, ticket, crawl, status, updated, notes=""):
        return {"crawl": crawl, "endpoint": endpoint, "id": ticket, "status": status, "notes": notes, "updated": updated,
                "expected": None, "via": "list", "requested": None, "service_code": None, "work_order": None, "gone": False}

    write("services", [service("chicago", n) for n in ("Pothole in Street Complaint", "Graffiti Removal Request",
                                                       "Street Light Out Complaint")]
          + [service("sf", n) for n in ("Street and Sidewalk Cleaning", "Graffiti")])
    write("tickets", [{"crawl": "2026-11-19T20:00:00Z", "endpoint": e, "id": i, "status": "open", "service_code": None,
                       "requested": None, "updated": None}
                      for e, ids in (("chicago", ["SR26-0001", "SR26-0002", "SR26-0003"]), ("sf", ["101", "102", "103", "104"]))
                      for i in ids])
    write("events", [
        event("chicago", "SR26-0001", "2026-11-19T14:30:00Z", "open", "2026-11-19T14:00:00Z"),
        event("chicago", "SR26-0001", "2026-11-19T16:30:00Z", "closed", "2026-11-19T16:00:00Z", "Completed"),  # as the twin
        event("chicago", "SR26-0002", "2026-11-19T15:30:00Z", "open", "2026-11-19T15:00:00Z"),
        event("chicago", "SR26-0003", "2026-11-19T18:30:00Z", "closed", "2026-11-19T18:00:00Z"),  # the twin: 16:05
        event("sf", "101", "2026-11-19T17:30:00Z", "closed", "2026-11-19T17:00:00Z", "Case Resolved - pickup completed"),
        event("sf", "102", "2026-11-19T20:30:00Z", "closed", "2026-11-19T20:00:00Z", "Case Resolved"),  # twin: a duplicate
        event("sf", "103", "2026-11-19T17:30:00Z", "open", "2026-11-19T17:00:00Z"),
        event("sf", "104", "2026-11-19T18:30:00Z", "closed", "2026-11-19T18:30:00Z", "Case is a Duplicate"),
    ])


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twins")
    chicago = Portal(json.loads((FILES / "chicago.json").read_text()), "127.0.0.41", resource="v6vf-nfxy")
    sf = Portal(json.loads((FILES / "sf.json").read_text()), "127.0.0.42", resource="vw6y-z8j6")
    boston = Portal(boston_rows("boston.csv"), "127.0.0.43", table="boston-311-2026",
                    csv_text=(FILES / "boston-malformed.csv").read_text())
    with chicago, sf, boston:
        def twin(kind, url, columns, channels=(), **extra):
            return {"kind": kind, "url": url, "columns": columns, **({"open311_channels": list(channels)} if channels else {}), **extra}

        entries = [
            entry(id="chicago", timezone="America/Chicago", panel_rate=1, open_data=twin(
                "socrata", chicago.base + "resource/v6vf-nfxy.json", CHICAGO, ["Open311 Interface", "Mobile Device"])),
            entry(id="sf", timezone="America/Los_Angeles", panel_rate=1, open_data=twin(
                "socrata", sf.base + "resource/vw6y-z8j6.json", SF, ["Mobile/Open311"])),
            entry(id="boston", timezone="America/New_York", panel_rate=1, open_data=twin(
                "ckan", boston.base, BOSTON, ["Citizens Connect App"], resource_id="boston-311-2026")),
            entry(id="boston_csv", timezone="America/New_York", panel_rate=1, open_data=twin(
                "csv", boston.base + "requests.csv", BOSTON, ["Citizens Connect App"])),
            entry(id="chicago_bare", timezone="America/Chicago", panel_rate=1, open_data=twin(
                "socrata", chicago.base + "resource/v6vf-nfxy.json", {"id": "sr_number", "requested": "created_date"})),
        ]
        registry = tmp / "endpoints.yaml"
        registry.write_text(yaml.safe_dump(entries))
        data = tmp / "data"
        api_side(data)
        code, out, err = twins("--endpoints", str(registry), "--data", str(data))
        calls = {"chicago": list(chicago.calls), "boston": list(boston.calls)}
        # The crawl workflow calls it every run: later the same day, nothing is fetched again.
        same_day = twins("--endpoints", str(registry), "--data", str(data), now=NOW + timedelta(hours=1))
        assert same_day[0] == 0 and same_day[1] == "" and len(chicago.calls) == len(calls["chicago"])
        # A day on: SR26-0002 was closed since; the open panel rows are asked for again by id.
        chicago.rows[1] = {**chicago.rows[1], "status": "Completed", "closed_date": "2026-11-20T09:00:00.000"}
        again = twins("--endpoints", str(registry), "--data", str(data), "--only", "chicago", now=NOW + timedelta(days=1))
        later_calls = chicago.calls[len(calls["chicago"]):]
    return {"code": code, "out": out, "err": err, "data": data, "calls": calls, "again": again, "later_calls": later_calls}


def day(fetched, endpoint):
    [d] = [d for d in read_lines(fetched["data"], "twins") if d["endpoint"] == endpoint and d["crawl"] == "2026-11-20T20:00:00Z"]
    return d


def test_a_day_of_each_twin_is_counted(fetched):
    assert fetched["code"] == 0
    c = day(fetched, "chicago")
    assert (c["day"], c["rows"], c["closed"], c["open311"], c["bad_rows"], c["truncated"]) == ("2026-11-19", 6, 4, 2, 1, False)
    assert c["by_service"] == {"Pothole in Street Complaint": 2, "Graffiti Removal Request": 1, "311 INFORMATION ONLY CALL": 1,
                               "Street Light Out Complaint": 1, "Aircraft Noise Complaint": 1}
    assert c["by_channel"] == {"Open311 Interface": 1, "Phone Call": 2, "Mobile Device": 1, "Internet": 2}
    b = day(fetched, "boston")
    assert (b["rows"], b["closed"], b["open311"]) == (4, 3, 2)  # 101005000005 was opened on the 18th
    bare = day(fetched, "chicago_bare")
    assert (bare["rows"], bare["closed"], bare["by_service"], bare["open311"]) == (6, None, None, None)


def test_only_the_mapped_columns_and_the_day_travel(fetched):
    [first, *_] = fetched["calls"]["chicago"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(first).query).items()}
    assert set(query["$select"].split(", ")) == set(CHICAGO.values())
    assert query["$where"] == "created_date >= '2026-11-19T00:00:00' AND created_date < '2026-11-20T00:00:00'"
    sql = parse_qs(urlsplit(fetched["calls"]["boston"][0]).query)["sql"][0]
    assert sql.startswith('SELECT "') and 'FROM "boston-311-2026" WHERE "open_dt" >= \'2026-11-19T00:00:00\'' in sql


def test_a_malformed_file_names_its_rows_and_loses_nothing_else(fetched):
    d = day(fetched, "boston_csv")
    assert (d["rows"], d["bad_rows"]) == (3, 2)
    err = fetched["err"]
    assert "boston_csv: csv page 1 line 4: 4 fields where the header has 17; row left out" in err
    assert "boston_csv: csv page 1 line 5: open_dt 'yesterday' is not a time; row left out" in err
    assert "boston_csv: 2026-11-19: 3 rows, 3 panel rows, 2 left out" in fetched["out"]


def test_the_panel_rows_are_kept_and_asked_for_again_until_closed(fetched):
    rows = [r for r in read_lines(fetched["data"], "twin_rows") if r["endpoint"] == "chicago"]
    first = {r["id"]: r for r in rows if r["crawl"] == "2026-11-20T20:00:00Z"}
    assert sorted(first) == ["SR26-0001", "SR26-0002", "SR26-0003", "SR26-0004", "SR26-0005", "SR26-0006"]
    assert first["SR26-0001"]["closed"] == "2026-11-19T16:00:00Z" and first["SR26-0001"]["photo"] is None
    code, out, _ = fetched["again"]
    assert code == 0 and "chicago: 2026-11-20: 0 rows, 2 panel rows" in out
    [by_id] = [c for c in fetched["later_calls"] if "+in+" in c]
    assert "SR26-0002" in by_id and "SR26-0005" in by_id and "SR26-0001" not in by_id
    later = [r for r in rows if r["crawl"] == "2026-11-21T20:00:00Z"]
    assert [(r["id"], r["closed"]) for r in later] == [("SR26-0002", "2026-11-20T15:00:00Z")]  # SR26-0005: unchanged


def test_figures_by_hand(fetched):
    loaded = read_data(fetched["data"]).records
    c = twin_figures("chicago", loaded, NOW, min_n=1)
    assert (c["exposure"]["value"], c["exposure"]["n"]) == (0.6, 5)  # 3 of 5 types are in the service list
    assert c["exposed_tickets"]["value"] == round(4 / 6, 4)
    assert (c["adoption"]["value"], c["adoption"]["n"]) == (round(2 / 6, 4), 6)
    assert c["completeness"]["value"] == 0.75  # of the 4 of offered types, the API listed 3 (not SR26-0005)
    assert (c["agreement"]["value"], c["agreement"]["n"]) == (round(2 / 3, 4), 3)  # SR26-0003 closed 1 h 55 min apart
    assert c["hidden_outcomes"]["reason"] == "not measurable"  # Chicago's dataset has no closure reason
    s = twin_figures("sf", loaded, NOW, min_n=1)
    # Encampments is not in SF's service list, but the API listed ticket 103 of that type: it is exposed.
    assert (s["exposure"]["value"], s["adoption"]["value"], s["completeness"]["value"], s["agreement"]["value"]) == (
        1.0, 0.5, 1.0, 1.0)
    assert s["offered_types"] == ["Encampments", "Graffiti", "Street and Sidewalk Cleaning"]
    assert (s["hidden_outcomes"]["value"], s["hidden_outcomes"]["n"]) == (round(1 / 3, 4), 3)  # 102: "Case Resolved", a duplicate
    b = twin_figures("boston", loaded, NOW, min_n=1)
    assert b["exposure"]["value"] == 0.0 and b["completeness"]["reason"] == "not measurable"  # no API records at all
    assert b["adoption"]["value"] == 0.5
    # With the site's minimum of 30 cases, a sample of 3 shows no share.
    assert twin_figures("chicago", loaded, NOW)["agreement"]["reason"] == "not enough data"


def test_a_twin_without_the_columns_is_not_measurable(fetched):
    f = twin_figures("chicago_bare", read_data(fetched["data"]).records, NOW, min_n=1)
    for name in ("exposure", "exposed_tickets", "adoption", "agreement", "hidden_outcomes", "completeness"):
        assert f[name]["value"] is None and f[name]["reason"] == "not measurable", name  # completeness: no API records


def test_field_audits_are_imported_row_by_row(fetched, tmp_path):
    data = fetched["data"]
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = audit.main([str(FILES / "audits.csv"), "--endpoint", "chicago", "--data", str(data), "--now", NOW.isoformat()])
    assert code == 1
    assert err.getvalue().splitlines() == [
        f"{FILES / 'audits.csv'}:4: date: must be YYYY-MM-DD; got '2026-13-01'; row left out",
        f"{FILES / 'audits.csv'}:5: observed: must be one of fixed, partly_fixed, not_fixed, cannot_tell; got 'looked fine'; "
        "observer: empty; row left out",
    ]
    with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):
        audit.main([str(FILES / "audits.csv"), "--endpoint", "chicago", "--data", str(data), "--now", NOW.isoformat()])
    assert len(read_lines(data, "audits")) == 2  # imported once
    still_open = tmp_path / "open.csv"
    still_open.write_text("id,observed,date,observer\nSR26-0002,fixed,2026-11-19,K. Lee\n")
    with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):
        assert audit.main([str(still_open), "--endpoint", "chicago", "--data", str(data), "--now", NOW.isoformat()]) == 0
    f = twin_figures("chicago", read_data(data).records, NOW, min_n=1)
    # SR26-0001 fixed, SR26-0003 not; SR26-0002 was still open to the panel on the day of the visit: left out.
    assert (f["audits"]["fixed"]["value"], f["audits"]["fixed"]["n"], f["audits"]["n"]) == (0.5, 2, 3)
    assert audit_figures("chicago", read_data(data).records, NOW, min_n=1) == f["audits"]  # with or without a twin
    assert audit_figures("sf", read_data(data).records, NOW) is None
    bad = tmp_path / "bad.csv"
    bad.write_text("ticket,seen\nA,fixed\n")
    with redirect_stderr(err := io.StringIO()):
        assert audit.main([str(bad), "--endpoint", "chicago", "--data", str(tmp_path / "d")]) == 2
    assert "the header must be id,observed,date,observer" in err.getvalue()


def test_the_records_match_their_schemas(fetched):
    from tests.conftest import record_validator
    for kind in ("twins", "twin_rows", "audits"):
        validator = record_validator(kind)
        for record in read_lines(fetched["data"], kind):
            validator.validate(record)


def test_a_bug_in_one_twin_leaves_the_others_and_is_in_the_job_summary(tmp_path):
    """One twin hits a bug of ours: the other's records are still written, the exit is 1 (the workflow's step
    goes on: continue-on-error), and the job summary says which twin failed."""
    chicago = Portal(json.loads((FILES / "chicago.json").read_text()), "127.0.0.44", resource="v6vf-nfxy")
    sf = Portal(json.loads((FILES / "sf.json").read_text()), "127.0.0.45", resource="vw6y-z8j6")
    with chicago, sf:
        registry = tmp_path / "endpoints.yaml"
        registry.write_text(yaml.safe_dump([
            entry(id="chicago", timezone="America/Chicago", open_data={
                "kind": "socrata", "url": chicago.base + "resource/v6vf-nfxy.json", "columns": CHICAGO}),
            entry(id="sf", timezone="America/Los_Angeles", open_data={
                "kind": "socrata", "url": sf.base + "resource/vw6y-z8j6.json", "columns": SF}),
        ]))

        def buggy(interval, allow_loopback=False, limits=None, host=""):
            if host == "127.0.0.44":
                raise KeyError("a bug of ours")
            return fast_client(0.0, allow_loopback)

        summary = tmp_path / "summary.md"
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--endpoints", str(registry), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                         "--allow-loopback", "--summary", str(summary)], clock=lambda: NOW, env={}, client_factory=buggy)
    assert code == 1
    assert [d["endpoint"] for d in read_lines(tmp_path / "data", "twins")] == ["sf"]
    assert "BUG while fetching the twin of chicago" in err.getvalue() and "KeyError: 'a bug of ours'" in err.getvalue()
    assert summary.read_text() == ("## Open-data twins\n\n- `chicago`: BUG (the crawler's fault; see the log)\n"
                                   "- `sf`: 2026-11-19: 4 rows, 4 panel rows, 0 left out\n")


def test_the_twins_share_one_budget_and_the_next_run_fetches_the_rest(tmp_path):
    from functools import partial

    from crawler.memory import Memory
    from registry import load_registry
    from twins import run_twins

    sf = Portal(json.loads((FILES / "sf.json").read_text()), "127.0.0.46", resource="vw6y-z8j6")
    with sf:
        registry = tmp_path / "endpoints.yaml"
        registry.write_text(yaml.safe_dump([
            entry(id=name, timezone="America/Los_Angeles", open_data={
                "kind": "socrata", "url": sf.base + "resource/vw6y-z8j6.json", "columns": SF}) for name in ("first", "second")]))
        endpoints = load_registry(registry)
        data = tmp_path / "data"
        loopback = partial(factory, allow_loopback=True)
        ticks = iter([0.0, 0.0, 175.0])  # the first twin takes 175 of the 180 s
        report = run_twins(endpoints, data, NOW, loopback, Memory(data, NOW), clock=lambda: next(ticks))
        assert report.lines["second"] == "left for the next run: the twins' time of this run is spent"
        assert [d["endpoint"] for d in read_lines(data, "twins")] == ["first"]
        later = NOW + timedelta(minutes=30)
        report = run_twins(endpoints, data, later, loopback, Memory(data, later))
        assert list(report.lines) == ["second"] and not report.bugs
    assert sorted(d["endpoint"] for d in read_lines(data, "twins")) == ["first", "second"]


def test_a_twin_that_mirrors_its_api_agrees_though_crawls_and_fetches_are_hours_apart(tmp_path):
    """A city that closes every ticket honestly and publishes them all: its twin is a mirror of its API. The twin is
    fetched once a day, the API crawled every 12 hours; each twin row is compared with the API as it stood when the row
    was fetched, so a ticket the city closed in between is no disagreement."""
    from figures import as_json
    from history import load
    from metrics.summary import summarize
    from simulator.demo import run
    from simulator.scenario import city

    mirror = sim("mirror", "127.0.7.9", requests_per_day=40, open_data={"open311_share": 0.5})
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=10)
    run([city(mirror)], tmp_path, start, end, timedelta(hours=12), progress=False, shards=1, panel_rate=1.0)
    detail = as_json(summarize(load(tmp_path / "data", end), end))["details"]["mirror"]["twin_detail"]
    assert detail["agreement"]["n"] >= 30
    assert detail["agreement"]["value"] == 1.0
