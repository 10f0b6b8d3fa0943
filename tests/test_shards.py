"""Sharded crawls with real git: runners each crawl their share from the same checkout, export the
lines they added, and a final job merges them; nothing conflicts and nothing is lost."""

import subprocess
import sys
from datetime import timedelta

import pytest

from crawler.crawl import shard_of
from records.read import read_data
from shards import NotAppended, export, merge
from tests.conftest import NOW, ROOT
from tests.test_crawl import run_main


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


def crawl(data, registry, now, *extra):
    code, _ = run_main("--endpoints", str(registry), "--data", str(data), "--now", now.isoformat(), "--allow-loopback", *extra)
    assert code == 0


def test_shards_are_stable_disjoint_and_keep_a_host_together():
    hosts = [f"host{n}.example.org" for n in range(200)]
    for n in (1, 2, 3, 8):
        shares = [shard_of(h, n) for h in hosts]
        assert set(shares) <= set(range(1, n + 1)) and shares == [shard_of(h, n) for h in hosts]
    assert 70 < sum(shard_of(h, 2) == 1 for h in hosts) < 130  # about half


def test_the_shard_option_is_checked():
    result = subprocess.run([sys.executable, "-m", "crawler", "--endpoints", "x", "--data", "y", "--shard", "3/2"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "I must be between 1 and N; got '3/2'" in result.stderr


def test_two_shards_merge_into_what_one_crawl_would_have_written(fleet, fleet_registry, tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    git(origin, "config", "user.email", "t@example.org")
    git(origin, "config", "user.name", "t")
    (origin / ".gitattributes").write_text((ROOT / ".gitattributes").read_text())
    crawl(origin / "data", fleet_registry, NOW - timedelta(minutes=30))  # the history the shards start from
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "base")
    base = git(origin, "rev-parse", "HEAD")

    artifacts = []
    for i in (1, 2, 3):  # three: the fleet's four hosts all fall in one of two shards
        runner = tmp_path / f"shard{i}"
        git(tmp_path, "clone", "-q", str(origin), str(runner))
        crawl(runner / "data", fleet_registry, NOW, "--shard", f"{i}/3")
        artifacts.append(tmp_path / f"artifact{i}")
        export(runner / "data", base, artifacts[-1])
    single = tmp_path / "single"
    git(tmp_path, "clone", "-q", str(origin), str(single))
    crawl(single / "data", fleet_registry, NOW)

    final = tmp_path / "final"
    git(tmp_path, "clone", "-q", str(origin), str(final))
    merge(final / "data", artifacts)
    git(final, "add", "-A")
    git(final, "commit", "-qm", "the shards' crawl")

    def endpoints_crawled(data):
        return {p["endpoint"] for p in read_data(data, kinds=("probes",)).records["probes"] if p["crawl"] == "2026-11-20T12:00:00Z"}

    def tickets(data):
        return sorted((t["endpoint"], t["id"], t["status"]) for t in read_data(data, kinds=("tickets",)).records["tickets"])

    shards = [endpoints_crawled(tmp_path / f"shard{i}" / "data") for i in (1, 2, 3)]
    assert all(shards) and sum(map(len, shards)) == len(set().union(*shards))  # each had work, none crawled twice
    assert endpoints_crawled(final / "data") == endpoints_crawled(single / "data") == set().union(*shards)
    assert tickets(final / "data") == tickets(single / "data")
    merged = read_data(final / "data")
    assert merged.problems == []
    assert len(merged.records["crawls"]) == 1 + 3  # the base crawl, and one line per shard

    # A shard's checkout whose history was rewritten, not appended to, is refused rather than guessed at.
    day = next((tmp_path / "shard1" / "data" / "probes").rglob("*.jsonl"))
    day.write_text(day.read_text()[10:])
    with pytest.raises(NotAppended, match="changed other than by appending"):
        export(tmp_path / "shard1" / "data", base, tmp_path / "artifact-bad")
