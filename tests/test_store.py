import json
import multiprocessing
import shutil
import subprocess
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from records import ProbeRecord, TicketRecord, dumps, terse
from records.read import read_data
from records.store import append
from tests.conftest import ROOT


def probe(i: int, day: str = "2026-11-20") -> dict:
    """The probe line of a crawl of one call, told apart by its items (elapsed_ms is kept to two digits)."""
    [line] = terse.pack([ProbeRecord(crawl=f"{day}T12:{i % 60:02d}:00Z", endpoint="springfield", method="services", format="json",
                                     probed_at=f"{day}T12:{i % 60:02d}:00Z", outcome="ok", http_status=200, elapsed_ms=100,
                                     bytes=10, items=i, error=None, crawler="0.2.0").to_dict()])
    return line


def ticket(i: int) -> dict:
    return TicketRecord(crawl="2026-11-20T12:00:00Z", endpoint="springfield", id=f"T{i}", status="open", service_code="001",
                        requested="2026-11-20T11:00:00Z", updated=None).to_dict()


def by_probed_at(r: dict) -> date:
    return date.fromisoformat(r["crawl"][:10])


def test_append_only_grows_the_day_file_and_never_rewrites_it(tmp_path):
    [path] = append(tmp_path, "probes", [probe(1), probe(2)], by_probed_at)
    assert path == tmp_path / "probes" / "2026" / "2026-11-20.jsonl"
    first = path.read_bytes()
    append(tmp_path, "probes", [probe(3)], by_probed_at)
    second = path.read_bytes()
    assert second.startswith(first)
    assert second[len(first):] == (dumps(probe(3)) + "\n").encode()
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary file left


def test_records_are_split_by_day_one_sorted_compact_line_each(tmp_path):
    paths = append(tmp_path, "probes", [probe(1, "2026-11-19"), probe(2, "2026-11-20")], by_probed_at)
    assert [p.name for p in paths] == ["2026-11-19.jsonl", "2026-11-20.jsonl"]
    line = paths[0].read_text().splitlines()[0]
    assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"))
    assert list(json.loads(line)) == sorted(json.loads(line))


@pytest.mark.parametrize("durable", [True, False])  # renamed over, or (scratch data) appended in place
def test_a_truncated_last_line_is_kept_and_new_records_start_on_their_own_line(tmp_path, durable):
    [path] = append(tmp_path, "probes", [probe(1)], by_probed_at, durable=durable)
    path.write_bytes(path.read_bytes() + b'{"bytes":1,"cra')  # a crash mid-line, by someone else
    append(tmp_path, "probes", [probe(2)], by_probed_at, durable=durable)
    lines = path.read_text().splitlines()
    assert lines[1] == '{"bytes":1,"cra'
    loaded = read_data(tmp_path)
    assert [r["items"] for r in loaded.records["probes"]] == [1, 2]
    assert len(loaded.problems) == 1
    assert loaded.problems[0].startswith(f"{path}:2: not valid JSON (JSONDecodeError: ")
    assert loaded.problems[0].endswith("; skipped")


def _writer(args):
    data_dir, worker = args
    for i in range(20):
        append(data_dir, "probes", [probe(worker * 100 + i)], by_probed_at)


def test_concurrent_writers_lose_nothing(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_writer, [(str(tmp_path), w) for w in range(4)])
    loaded = read_data(tmp_path)
    assert loaded.problems == []
    assert sorted(r["items"] for r in loaded.records["probes"]) == sorted(w * 100 + i for w in range(4) for i in range(20))


def test_written_records_match_their_json_schema(tmp_path):
    append(tmp_path, "probes", [probe(1)], by_probed_at)
    schema = json.loads((ROOT / "schemas" / "probe_line.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for line in (tmp_path / "probes" / "2026" / "2026-11-20.jsonl").read_text().splitlines():
        validator.validate(json.loads(line))


def test_the_reader_reports_bad_records_with_file_and_line(tmp_path):
    path = tmp_path / "tickets" / "2026" / "2026-11-20.jsonl"
    path.parent.mkdir(parents=True)
    good = dumps(ticket(1))
    missing = dumps({k: v for k, v in ticket(2).items() if k != "status"})
    wrong = dumps({**ticket(3), "requested": 1234})
    path.write_text("\n".join([good, "[1, 2]", missing, "", wrong, good]) + "\n")
    (tmp_path / "tickets" / "2026" / "notes.jsonl").write_text("x\n")
    loaded = read_data(tmp_path)
    assert len(loaded.records["tickets"]) == 2
    assert loaded.problems == [
        f"{tmp_path}/tickets/2026/2026-11-20.jsonl:2: not a JSON object; skipped",
        f"{tmp_path}/tickets/2026/2026-11-20.jsonl:3: missing field 'status'; skipped",
        f"{tmp_path}/tickets/2026/2026-11-20.jsonl:5: field 'requested' has the wrong type (int); skipped",
        f"{tmp_path}/tickets/2026/notes.jsonl: not a day file (expected YYYY-MM-DD.jsonl); skipped",
    ]


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_two_crawls_appending_to_one_day_file_merge_without_conflict(tmp_path):
    origin, a, b = tmp_path / "origin.git", tmp_path / "a", tmp_path / "b"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(a))
    shutil.copy(ROOT / ".gitattributes", a / ".gitattributes")
    append(a / "data", "probes", [probe(1)], by_probed_at)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "first crawl")
    git(a, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", str(origin), str(b))

    # Two runners crawl at once and both append to the same day file.
    append(a / "data", "probes", [probe(2)], by_probed_at)
    git(a, "commit", "-qam", "crawl A")
    append(b / "data", "probes", [probe(3), probe(4)], by_probed_at)
    git(b, "commit", "-qam", "crawl B")
    git(a, "push", "-q", "origin", "main")
    # B's push is rejected; it rebases as the crawl workflow does, and must not conflict.
    git(b, "pull", "-q", "--rebase", "origin", "main")
    git(b, "push", "-q", "origin", "main")

    loaded = read_data(b / "data")
    assert loaded.problems == []
    assert sorted(r["items"] for r in loaded.records["probes"]) == [1, 2, 3, 4]
    # A plain merge (sharded crawls) keeps both sides too.
    append(a / "data", "probes", [probe(5)], by_probed_at)
    git(a, "commit", "-qam", "crawl A2")
    git(a, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    assert sorted(r["items"] for r in read_data(a / "data").records["probes"]) == [1, 2, 3, 4, 5]
