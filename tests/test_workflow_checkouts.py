"""The jobs' checkouts, held to issue 29: each checks out what it reads, so that none grows with the years."""

import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.test_workflows import load

# -- checkouts that do not grow with the years ------------------------------------------------------

SPARSE = "/*\n!/data/archive/\n"


@pytest.mark.parametrize("job", ["crawl", "merge"])
def test_the_crawl_and_the_merge_check_out_the_code_the_live_days_and_the_archive_months_they_read(job):
    found = load("crawl.yml")["jobs"][job]["steps"]
    checkout = found[0]
    assert checkout["uses"] == "actions/checkout@v6"
    assert checkout["with"] == {"sparse-checkout": SPARSE, "sparse-checkout-cone-mode": False}  # blobless, so sparse
    names = [s.get("name", "") for s in found]
    [add] = [i for i, s in enumerate(found) if "git sparse-checkout add" in s.get("run", "")]
    assert found[add]["run"] == f"git sparse-checkout add $(open311-status archive checkout --job {job})"
    install = names.index("Install (every package at its locked version and hash)")
    reads = min(i for i, s in enumerate(found) if "--data data" in s.get("run", "") or s.get("uses", "").startswith("actions/download"))
    assert install < add < reads


def test_the_build_checks_out_every_month_for_its_downloads_read_them_all():
    from history.archive import READS

    assert set(READS["build"].values()) == {None}
    assert "sparse-checkout" not in load("crawl.yml")["jobs"]["build"]["steps"][0].get("with", {})


def test_the_merge_archives_the_months_that_are_over_and_commits_them_through_the_script():
    merge = load("crawl.yml")["jobs"]["merge"]["steps"]
    [step] = [i for i, s in enumerate(merge) if "open311-status archive compact" in s.get("run", "")]
    assert merge[step]["run"] == "open311-status archive compact --data data" and merge[step]["continue-on-error"] is True
    assert "commit-data.sh \"Archive" in merge[step + 1]["run"]
    assert "git add --sparse data/" in (ROOT / ".github" / "scripts" / "commit-data.sh").read_text()


def test_a_sparse_checkout_as_the_crawl_job_makes_it_holds_what_the_crawl_s_memory_reads(tmp_path):
    """Real git: a blobless clone with the workflow's patterns, the archive months added as the job adds them; the
    crawl's memory read from it is the memory read from everything. Then a commit from it, as commit-data.sh makes
    one: an archive month outside its patterns goes in, and nothing it did not check out is taken as removed."""
    from datetime import datetime, timezone

    from crawler.memory import Memory
    from history.archive import checkout, compact

    origin = tmp_path / "origin"
    shutil.copytree(ROOT / "tests" / "fixtures" / "history", origin / "data")
    compact(origin / "data", datetime(2026, 12, 5, tzinfo=timezone.utc))
    (origin / "data" / "probes" / "2027").mkdir(parents=True)
    (origin / "data" / "probes" / "2027" / "2027-02-15.jsonl").write_text(
        '{"v":2,"crawl":"2027-02-15T00:07:00Z","endpoint":"alpha","crawler":"0.8.0","calls":[{"m":"services","n":7}]}\n')
    (origin / "crawler").mkdir()
    (origin / "crawler" / "x.py").write_text("code\n")

    def git(cwd, *args):
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout

    git(origin, "init", "-q", "-b", "main"), git(origin, "add", "-A")
    git(origin, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "seed")
    git(origin, "config", "uploadpack.allowFilter", "true"), git(origin, "config", "receive.denyCurrentBranch", "ignore")
    job = tmp_path / "job"
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{origin}", str(job))
    git(job, "sparse-checkout", "set", "--no-cone", *SPARSE.split())
    git(job, "checkout", "-q", "main")
    now = datetime(2027, 2, 15, 12, tzinfo=timezone.utc)  # 92 days back: from 11-15 on, so not September's probes
    git(job, "sparse-checkout", "add", *checkout("crawl", now))
    held = sorted(p.relative_to(job / "data").as_posix() for p in (job / "data").rglob("*") if p.is_file())
    assert held == ["archive/endpoints/2026-09.parquet", "archive/endpoints/2026-11.parquet", "archive/events/2026-11.parquet",
                    "archive/probes/2026-11.parquet", "archive/tickets/2026-11.parquet", "archive/twin_rows/2026-11.parquet",
                    "probes/2027/2027-02-15.jsonl"]
    whole, sparse = Memory(origin / "data", now), Memory(job / "data", now)
    assert sparse.covered() == whole.covered() and whole.covered()
    for kind in ("tickets", "events", "services", "endpoints", "twin_rows"):
        assert sparse.states.of(kind) == whole.states.of(kind), kind
    (job / "data" / "archive" / "crawls").mkdir(parents=True)
    (job / "data" / "archive" / "crawls" / "2025-01.parquet").write_bytes(b"an old month, outside the patterns")
    (job / "data" / "probes" / "2027" / "2027-02-15.jsonl").unlink()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COMMIT_PAUSE_S": "0", "COMMIT_ATTEMPTS": "1", "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(["bash", str(ROOT / ".github" / "scripts" / "commit-data.sh"), "Archive", "main"], cwd=job,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(git(origin, "show", "--name-status", "--format=", "main").splitlines()) == [
        "A\tdata/archive/crawls/2025-01.parquet", "D\tdata/probes/2027/2027-02-15.jsonl"]
