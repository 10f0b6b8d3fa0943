"""The history as Parquet downloads: every kind round-trips, the package validates, DuckDB and pandas read them over HTTP."""

import functools
import http.server
import json
import shutil
import threading
import zipfile
from datetime import date, datetime
from pathlib import Path

import duckdb
import duckdb_extension_httpfs
import frictionless
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli import PagesHandler
from history import downloads
from history.parquet import NESTED_FIELDS, SCHEMAS, write_all
from records.layout import KINDS
from records.read import read_data
from tests.test_build import HISTORY, build
from tests.test_crawl import run_main


@pytest.fixture(scope="module")
def data(tmp_path_factory, request):
    """The fixture history (twins, audits, a corrupt line) and a crawl of two simulated cities: every kind of record."""
    fleet_registry = request.getfixturevalue("module_fleet_registry")
    data = tmp_path_factory.mktemp("history") / "data"
    shutil.copytree(HISTORY, data)
    code, _ = run_main("--endpoints", str(fleet_registry), "--data", str(data), "--now", "2026-11-20T12:00:00Z",
                       "--allow-loopback", "--only", "springfield", "shelbyville")
    assert code == 0
    return data


@pytest.fixture(scope="module")
def module_fleet_registry(tmp_path_factory):
    from simulator.fleet import Fleet
    from tests.conftest import FOUR, NOW, registry_of

    with Fleet.of(FOUR[:2], NOW) as fleet:
        yield registry_of(fleet, tmp_path_factory.mktemp("registry"))


def as_record(row: dict, kind: str) -> dict:
    """A Parquet row back to the record records.read gives: times as ISO text, JSON text as values."""
    out = {}
    for f in SCHEMAS[kind]:
        value = row[f.name]
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, date):
            value = value.isoformat()
        elif f.name in NESTED_FIELDS[kind] and value is not None:
            value = json.loads(value)
        out[f.name] = value
    return out


def canonical(records: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def test_every_kind_round_trips_through_parquet(data, tmp_path):
    entries, problems = write_all(data, tmp_path)
    loaded = read_data(data)
    assert problems == loaded.problems and any("2026-11-20.jsonl:3" in p for p in problems)  # the corrupt line, left out
    assert {e["kind"] for e in entries} == set(KINDS)  # every kind has at least one month here
    for kind in KINDS:
        rows = [as_record(row, kind) for e in entries if e["kind"] == kind for row in pq.read_table(tmp_path / e["path"]).to_pylist()]
        expected = [{f.name: r.get(f.name) for f in SCHEMAS[kind]} for r in loaded.records[kind]]
        assert canonical(rows) == canonical(expected), kind
        assert sum(e["rows"] for e in entries if e["kind"] == kind) == len(expected) > 0


def test_columns_are_typed_and_a_month_is_a_file(data, tmp_path):
    entries, _ = write_all(data, tmp_path)
    probes = pq.read_table(tmp_path / "probes-2026-11.parquet")
    types = {f.name: str(f.type) for f in probes.schema}
    assert types["crawl"] == types["probed_at"] == "timestamp[ms, tz=UTC]"  # Parquet has no seconds: milliseconds, whole seconds
    assert types["endpoint"] == types["method"] == types["outcome"] == "dictionary<values=string, indices=int32, ordered=0>"
    assert types["elapsed_ms"] == "int32" and types["bytes"] == "int64" and types["findings"] == "string"
    assert pq.ParquetFile(tmp_path / "probes-2026-11.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
    assert str(pq.read_table(tmp_path / "twins-2026-11.parquet").schema.field("day").type) == "date32[day]"
    assert [e["path"] for e in entries if e["kind"] == "probes"] == ["probes-2026-09.parquet", "probes-2026-11.parquet"]
    again, _ = write_all(data, tmp_path / "again")
    assert [e["sha256"] for e in again] == [e["sha256"] for e in entries]  # the same data, the same bytes


def test_an_unchanged_month_comes_from_the_cache(data, tmp_path):
    cache = tmp_path / "cache"
    first, _ = write_all(data, tmp_path / "one", cache)
    kept = sorted(p.name for p in (cache / "parquet").iterdir())
    assert len(kept) == len(first)
    day = data / "crawls" / "2026" / "2026-11-20.jsonl"
    original = day.read_bytes()
    try:
        day.write_bytes(original + original.splitlines(keepends=True)[0])  # the day grew: its month is written again
        second, _ = write_all(data, tmp_path / "two", cache)
    finally:
        day.write_bytes(original)
    changed = [b["path"] for a, b in zip(first, second) if a["sha256"] != b["sha256"]]
    assert changed == ["crawls-2026-11.parquet"] and len(list((cache / "parquet").iterdir())) == len(first)


def test_the_plan_keeps_the_newest_months_and_moves_whole_older_ones_by_year():
    sizes = {"2025-11": 40, "2025-12": 40, "2026-01": 40, "2026-02": 40, "2026-03": 40}
    assert downloads.plan(sizes, 1000) == (["2026-03", "2026-02", "2026-01", "2025-12", "2025-11"], {})
    assert downloads.plan(sizes, 100) == (["2026-03", "2026-02"], {"2025": ["2025-11", "2025-12"], "2026": ["2026-01"]})
    assert downloads.plan({"2026-03": 500, "2026-02": 1}, 100) == (["2026-03"], {"2026": ["2026-02"]})  # the newest always stays
    assert downloads.plan({}, 100) == ([], {})


def test_the_site_publishes_the_months_a_manifest_and_a_valid_package(data, tmp_path):
    out = tmp_path / "site"
    result = build(out, data=data)
    assert result.returncode == 0, result.stderr
    downloads_dir = out / "downloads"
    assert not (downloads_dir / "open311-status.sqlite").exists()
    manifest = json.loads((downloads_dir / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == {p.name for p in downloads_dir.iterdir()} - {"manifest.json", "datapackage.json"}
    assert all(listed[name]["bytes"] == (downloads_dir / name).stat().st_size for name in listed)
    assert manifest["archives"] == [] and not (tmp_path / "site.archive").exists()
    # A month holds only the days watched, said for each of its files alike: September only its 1st, November to the 20th.
    spans = {(f["month"], f["first_day"], f["last_day"], f["partial"]) for f in manifest["files"] if "month" in f}
    assert spans == {("2026-09", "2026-09-01", "2026-09-01", True), ("2026-11", "2026-11-01", "2026-11-20", True)}
    about = (out / "about.html").read_text()
    assert ("The history runs from\n2026-09-01 to 2026-11-20, so 2026-11\nis partial until it is over." in about)
    report = frictionless.validate(str(downloads_dir / "datapackage.json"))
    assert report.valid, report.flatten(["resource", "type", "note"])[:5]
    package = json.loads((downloads_dir / "datapackage.json").read_text())
    parquet = [r for r in package["resources"] if r["format"] == "parquet"]
    assert {r["path"] for r in parquet} == {f["path"] for f in manifest["files"] if f["path"].endswith(".parquet")}
    for r in parquet:
        assert [f["name"] for f in r["schema"]["fields"]] == pq.read_schema(downloads_dir / r["path"]).names


def test_older_months_move_to_a_zip_per_year_that_the_manifest_links(data, tmp_path):
    out = tmp_path / "site"
    result = build(out, "--downloads-limit", "0.000001", "--archive", str(tmp_path / "archive"),
                   "--release-url", "https://github.com/example/status/releases/download/", data=data)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "downloads" / "manifest.json").read_text())
    on_site = {f["month"] for f in manifest["files"] if "month" in f}
    assert on_site == {"2026-11"}  # the newest month stays, whatever the limit
    [archive] = manifest["archives"]
    assert archive["year"] == "2026" and archive["months"] == ["2026-09"]
    assert archive["url"] == "https://github.com/example/status/releases/download/data-2026/open311-status-2026.zip"
    zipped = tmp_path / "archive" / "open311-status-2026.zip"
    assert archive["bytes"] == zipped.stat().st_size and archive["sha256"] == downloads.sha256(zipped)
    with zipfile.ZipFile(zipped) as z:
        assert sorted(z.namelist()) == sorted(f["path"] for f in archive["files"]) and all(n.endswith("-2026-09.parquet") for n in z.namelist())
    first = zipped.read_bytes()
    assert build(out, "--downloads-limit", "0.000001", "--archive", str(tmp_path / "archive"), data=data).returncode == 0
    assert zipped.read_bytes() == first  # the same bytes each build: the workflow uploads only a changed year


class Quiet(PagesHandler):
    def log_message(self, *args: object) -> None:
        pass


def fetch(url: str, **headers: str) -> tuple[int, bytes, dict]:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
        return r.status, r.read(), dict(r.headers)


@pytest.fixture(scope="module")
def served(data, tmp_path_factory):
    """The built site on loopback, as Pages serves it (byte ranges)."""
    out = tmp_path_factory.mktemp("served") / "site"
    assert build(out, data=data).returncode == 0
    handler = functools.partial(Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_duckdb_reads_the_months_over_http_as_the_about_page_says(served, data):
    ext = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{ext}'")  # the file the PyPI package ships: nothing is downloaded
    con.execute(f"""SET VARIABLE probes = (SELECT list('{served}downloads/' || f.path)
        FROM (SELECT unnest(files) AS f FROM read_json('{served}downloads/manifest.json')) WHERE f.kind = 'probes')""")
    rows = con.execute("SELECT endpoint, count(*), CAST(min(crawl) AS VARCHAR) FROM read_parquet(getvariable('probes')) "
                       "GROUP BY ALL ORDER BY ALL").fetchall()
    calls = read_data(data, kinds=("probes",)).records["probes"]
    expected = {e: sum(p["endpoint"] == e for p in calls) for e in {p["endpoint"] for p in calls}}
    assert {e: n for e, n, _ in rows} == expected
    month = con.execute(f"SELECT count(*) FROM read_parquet('{served}downloads/probes-2026-11.parquet')").fetchone()[0]
    assert month == sum(p["crawl"].startswith("2026-11") for p in calls)


def test_pandas_reads_them_as_the_about_page_says(served, data):
    files = json.loads(fetch(served + "downloads/manifest.json")[1])["files"]
    probes = pd.concat(pd.read_parquet(served + "downloads/" + f["path"]) for f in files if f.get("kind") == "probes")
    assert len(probes) == len(read_data(data, kinds=("probes",)).records["probes"])
    assert str(probes["probed_at"].dtype) in ("datetime64[ms, UTC]", "datetime64[s, UTC]")
    about = fetch(served + "about.html")[1].decode()
    for line in ('pd.concat(pd.read_parquet(site + "downloads/" + f["path"]) for f in files if f.get("kind") == "probes")',
                 "FROM read_parquet(getvariable('probes'))", "read_json('downloads/manifest.json')"):
        assert line in about  # the page's snippets are the code these tests run: built without --site-url, from its folder


def test_a_range_is_answered_206_and_a_bad_one_416(served):
    import urllib.error

    url = served + "downloads/manifest.json"
    _, whole, _ = fetch(url)
    status, part, headers = fetch(url, Range="bytes=2-9")
    assert status == 206 and part == whole[2:10] and headers["Content-Range"] == f"bytes 2-9/{len(whole)}"
    assert fetch(url, Range="bytes=-5")[1] == whole[-5:] and fetch(url, Range="bytes=5-")[1] == whole[5:]
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch(url, Range=f"bytes={len(whole)}-")
    assert e.value.code == 416
    e.value.close()
