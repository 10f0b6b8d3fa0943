"""The monthly archive (history/archive.py): a month that is over becomes one Parquet file per kind, read back as the
same records, and its day files go; everything that reads data/ reads both."""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.memory import Memory
from history.archive import due, main
from records.layout import KINDS
from records.read import read_data
from tests.conftest import ROOT
from tests.test_build import HISTORY, NOW
from tests.test_parquet import data, module_fleet_registry  # noqa: F401  # the fixtures: every kind of record

LATER = "2026-12-05T00:00:00Z"  # November has been over for 4 days


def compact(data_dir: Path, now: str = LATER) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", "archive", "compact", "--data", str(data_dir), "--now", now],
                          capture_output=True, text=True, cwd=ROOT)


def export(data_dir: Path, month: str, kind: str, command_line: bool = False) -> list[dict]:
    """A month's records as `open311-status archive export` writes them: by the command line itself, or (quicker, for
    every month and kind) by the function it calls."""
    args = ["export", "--data", str(data_dir), "--month", month, "--kind", kind]
    if command_line:
        result = subprocess.run([sys.executable, "-m", "cli", "archive", *args], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        out = result.stdout
    else:
        written = io.StringIO()
        with contextlib.redirect_stdout(written):
            assert main(args) == 0
        out = written.getvalue()
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def compacted(data, tmp_path_factory):  # noqa: F811
    copy = tmp_path_factory.mktemp("compacted") / "data"
    shutil.copytree(data, copy)
    result = compact(copy)
    assert result.returncode == 0, result.stderr
    return copy, result


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def canonical(records: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def test_a_compaction_keeps_every_record_and_removes_the_day_files(data, compacted):  # noqa: F811
    copy, result = compacted
    before, after = read_data(data), read_data(copy)
    for kind in KINDS:
        if kind == "probes":  # one row a call, by endpoint and crawl
            assert canonical(after.records[kind]) == canonical(before.records[kind])
        else:  # in the order written
            assert after.records[kind] == before.records[kind], kind
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*.jsonl")) == []
    months = {p.relative_to(data).parts[0]: set() for p in data.rglob("*.jsonl")}
    for p in data.rglob("*.jsonl"):
        months[p.relative_to(data).parts[0]].add(p.stem[:7])
    assert {p.parent.name: set() for p in (copy / "archive").rglob("*.parquet")}.keys() == months.keys()
    for kind, held in months.items():
        assert {p.stem for p in (copy / "archive" / kind).glob("*.parquet")} == held
    assert re.search(r"^archived probes 2026-11: \d+ records from 3 day file\(s\)$", result.stdout, re.M)
    # the corrupt line of the fixture is said, and left out as the build leaves it out (git's history keeps it)
    assert "2026-11-20.jsonl:3: not valid JSON" in result.stderr


def test_the_same_lines_give_the_same_bytes_and_a_rerun_changes_nothing(data, compacted, tmp_path):  # noqa: F811
    copy, _ = compacted
    again = tmp_path / "data"
    shutil.copytree(data, again)
    assert compact(again).returncode == 0
    assert files(again) == files(copy)
    rerun = compact(again)
    assert (rerun.returncode, rerun.stdout) == (0, "nothing to compact\n")
    assert files(again) == files(copy)


def test_a_month_is_compacted_once_it_has_been_over_three_days():
    assert due("2026-11", datetime(2026, 12, 4, tzinfo=timezone.utc))  # over at 12-01 00:00, and 3 days since
    assert not due("2026-11", datetime(2026, 12, 3, 23, 59, 59, tzinfo=timezone.utc))
    assert due("2026-12", datetime(2027, 1, 4, tzinfo=timezone.utc)) and not due("2026-12", datetime(2027, 1, 3, tzinfo=timezone.utc))


def parsed(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None  # the fixture's corrupt line


def test_export_gives_back_a_line_for_each_stored_line(data, compacted):  # noqa: F811
    copy, _ = compacted
    for kind in KINDS:
        for month in sorted({p.stem[:7] for p in (data / kind).rglob("*.jsonl")}):
            stored = [parsed(line) for p in sorted((data / kind).rglob(f"{month}-*.jsonl"))
                      for line in p.read_text().splitlines() if line.strip()]
            if kind == "probes":  # the sound lines exactly (the corrupt one is left out), in the archive's order
                sound = [line for line in stored if isinstance(line, dict) and "calls" in line]
                assert canonical(export(copy, month, kind, command_line=True)) == canonical(sound) == canonical(export(data, month, kind))
            else:  # the same records, with the fields added since a line was written
                first = date.fromisoformat(f"{month}-01")
                records = read_data(data, since=first, until=first + timedelta(days=30), kinds=(kind,)).records[kind]
                assert export(copy, month, kind) == export(data, month, kind) == json.loads(json.dumps(records)), (kind, month)


def test_a_month_holding_a_field_the_archive_has_no_column_for_is_left_as_day_files(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(HISTORY, copy)
    tickets = copy / "tickets" / "2026" / "2026-11-20.jsonl"
    line = json.loads(tickets.read_text().splitlines()[0]) | {"surprise": 1}
    tickets.write_text(tickets.read_text() + json.dumps(line) + "\n")
    result = compact(copy)
    assert result.returncode == 1
    assert (f"left: tickets 2026-11: {tickets} has field(s) the archive has no column for: surprise; left as day files"
            in result.stderr.splitlines())
    assert tickets.exists() and not (copy / "archive" / "tickets").exists()
    assert (copy / "archive" / "events" / "2026-11.parquet").exists()  # the other kinds went on


def test_the_crawls_memory_reads_an_archived_month_as_its_day_files(data, compacted):  # noqa: F811
    copy, _ = compacted
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    before, after = Memory(data, now), Memory(copy, now)
    assert after.covered() == before.covered() and before.covered()
    for kind in ("tickets", "events", "services", "endpoints", "twin_rows"):
        assert after.states.of(kind) == before.states.of(kind), kind
    assert after.tracks.tracks == before.tracks.tracks


def test_the_command_line_says_what_is_wrong(tmp_path):
    with pytest.raises(SystemExit):
        main(["export", "--data", str(tmp_path), "--month", "2026-13", "--kind", "probes"])
    bad = subprocess.run([sys.executable, "-m", "cli", "archive", "export", "--data", str(tmp_path), "--month", "2026-1",
                          "--kind", "probes"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "not a month as YYYY-MM: '2026-1'" in bad.stderr
    empty = subprocess.run([sys.executable, "-m", "cli", "archive", "export", "--data", str(tmp_path), "--month", "2026-11",
                            "--kind", "probes"], capture_output=True, text=True, cwd=ROOT)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", f"no probes of 2026-11 in {tmp_path}\n")


def test_a_site_built_after_a_compaction_is_the_one_built_before(tmp_path):
    """Every file of the site, the downloads and api/ included, byte for byte: a compaction as of the build's moment
    (September), and one a month later (November too, the build's own month, crawls after --now and all)."""
    site = tmp_path / "before"
    subprocess.run([sys.executable, "build.py", "--data", str(HISTORY), "--out", str(site), "--now", NOW],
                   capture_output=True, text=True, cwd=ROOT, check=True)
    for when in (NOW, LATER):
        copy = tmp_path / when[:10] / "data"
        shutil.copytree(HISTORY, copy)
        assert compact(copy, when).returncode == 0
        assert (copy / "archive" / "probes" / "2026-09.parquet").exists()
        assert (copy / "archive" / "probes" / "2026-11.parquet").exists() == (when == LATER)
        out = copy.parent / "site"
        subprocess.run([sys.executable, "build.py", "--data", str(copy), "--out", str(out), "--now", NOW],
                       capture_output=True, text=True, cwd=ROOT, check=True)
        assert files(out) == files(site), when


def test_the_build_cache_keeps_its_days_across_a_compaction(tmp_path):
    copy, cache = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(HISTORY, copy)

    def build(out: str) -> dict[str, bytes]:
        subprocess.run([sys.executable, "build.py", "--data", str(copy), "--out", str(tmp_path / out), "--now", NOW,
                        "--cache", str(cache)], capture_output=True, text=True, cwd=ROOT, check=True)
        return files(tmp_path / out)

    before = build("before")
    kept = {p: p.stat().st_mtime_ns for p in (cache / "days").glob("*.bin")}
    assert sorted(p.stem for p in kept) == ["2026-09-01", "2026-11-01", "2026-11-15", "2026-11-20"]  # the days with a crawl
    assert compact(copy).returncode == 0
    assert build("after") == before
    assert {p: p.stat().st_mtime_ns for p in (cache / "days").glob("*.bin")} == kept  # every day reused, none read again


def test_a_month_whose_file_reads_back_otherwise_keeps_its_day_files(tmp_path, monkeypatch):
    """The check before the day files go: a written file that lost a call (a bug of ours) stops the compaction, says
    where they part, and removes nothing: not the day files, and not the partial file."""
    from history import parquet

    copy = tmp_path / "data"
    shutil.copytree(HISTORY, copy)
    write = parquet.write_table
    monkeypatch.setattr(parquet, "write_table", lambda kind, table, out: write(kind, table.slice(0, table.num_rows - 1), out))
    before = files(copy)
    target = copy / "archive" / "probes" / "2026-09.parquet"  # the first kind and month due
    with pytest.raises(RuntimeError, match=re.escape(f"{target}: read back, its 1 records are not the 2 of its day files "
                                                     "(the first difference at record 2); nothing removed")):
        main(["compact", "--data", str(copy), "--now", LATER])
    assert files(copy) == before


def test_a_day_file_holding_another_days_crawl_is_left_as_it_is(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(HISTORY, copy)
    probes = copy / "probes" / "2026" / "2026-11-20.jsonl"
    line = json.loads(probes.read_text().splitlines()[0]) | {"crawl": "2026-11-19T18:00:00Z"}
    probes.write_text(probes.read_text() + json.dumps(line) + "\n")
    result = compact(copy)
    assert result.returncode == 1
    assert (f"left: probes 2026-11: {probes} holds a crawl of another day (2026-11-19T18:00:00Z); left as day files"
            in result.stderr.splitlines())
    assert probes.exists() and not (copy / "archive" / "probes" / "2026-11.parquet").exists()


def test_the_crawls_start_reads_the_calls_it_needs_alike_from_day_files_and_archive(data, compacted):  # noqa: F811
    from records.read import probe_calls

    copy, _ = compacted
    days = [date(2026, 11, d) for d in range(1, 31)]
    names = ("endpoint", "crawl", "method", "page", "outcome", "target", "items", "findings", "probed_at")

    def calls(folder: Path, methods: frozenset[str]) -> list[tuple]:
        got = list(probe_calls(folder, days, [], methods, names))
        return sorted((day, *row) for day, cols in got for row in zip(*(cols[n] for n in names)))

    for methods in (frozenset({"requests", "backfill"}), frozenset({"services"})):
        from_days, from_archive = calls(data, methods), calls(copy, methods)
        assert from_days == from_archive and from_days, methods
        assert {row[3] for row in from_days} <= methods
    with pytest.raises(ValueError, match=re.escape("probe_calls does not give ['rtt_ms']")):
        list(probe_calls(copy, days, [], frozenset({"services"}), ("endpoint", "rtt_ms")))


def test_a_value_changed_on_the_way_to_the_archive_is_caught(tmp_path, monkeypatch):
    """Value by value, not only by count: a ticket's status changed in the file keeps the month's tickets as day files."""
    import pyarrow as pa

    from history import parquet

    copy = tmp_path / "data"
    shutil.copytree(HISTORY, copy)
    write = parquet.write_table

    def changed(kind, table, out):
        if kind == "tickets":
            at = table.schema.get_field_index("status")
            table = table.set_column(at, "status", pa.array(["wontfix"] * table.num_rows, pa.string()).dictionary_encode()
                                     .cast(table.schema.field(at).type))
        write(kind, table, out)

    monkeypatch.setattr(parquet, "write_table", changed)
    target = copy / "archive" / "tickets" / "2026-11.parquet"
    with pytest.raises(RuntimeError, match=re.escape(f"{target}: read back, its 6 records are not the 6 of its day files "
                                                     "(the first difference at record 1); nothing removed")):
        main(["compact", "--data", str(copy), "--now", LATER])
    assert sorted(p.name for p in (copy / "tickets" / "2026").iterdir()) == ["2026-11-15.jsonl", "2026-11-20.jsonl"]
    assert not (copy / "archive" / "tickets").exists() or not any((copy / "archive" / "tickets").iterdir())
