"""The crawl workflow's commit step (.github/scripts/commit-data.sh) against real git: a bare origin and
two clones, one of them pushing in between, as two overlapping runs would."""

import subprocess

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / ".github" / "scripts" / "commit-data.sh"
DAY = "data/probes/2026/2026-11-20.jsonl"


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_data(cwd, message="Crawl 2026-11-20T12:07Z"):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COMMIT_PAUSE_S": "0", "COMMIT_ATTEMPTS": "3",
           "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["bash", str(SCRIPT), message, "main"], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture
def clones(tmp_path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(origin), str(seed))
    for clone in (seed,):
        git(clone, "config", "user.name", "t"), git(clone, "config", "user.email", "t@example.org")
    (seed / ".gitattributes").write_text((ROOT / ".gitattributes").read_text())
    (seed / "data" / "probes" / "2026").mkdir(parents=True)
    (seed / DAY).write_text('{"crawl":"2026-11-20T11:37:00Z"}\n')
    (seed / "data" / "README.md").write_text("the data dictionary\n")
    git(seed, "add", "-A"), git(seed, "commit", "-q", "-m", "seed"), git(seed, "push", "-q", "origin", "main")
    runs = []
    for name in ("this_run", "other_run"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.name", name), git(clone, "config", "user.email", f"{name}@example.org")
        runs.append(clone)
    return origin, *runs


def append(clone, line):
    with open(clone / DAY, "a") as f:
        f.write(line + "\n")


def test_nothing_new_commits_nothing(clones):
    _, this_run, _ = clones
    result = commit_data(this_run)
    assert result.returncode == 0 and result.stdout == "nothing new to commit\n"
    assert git(this_run, "log", "--format=%s") == "seed\n"


def test_a_push_in_between_is_rebased_on_and_both_runs_lines_are_kept(clones):
    origin, this_run, other_run = clones
    append(other_run, '{"crawl":"2026-11-20T12:07:00Z","shard":2}')
    assert commit_data(other_run, "Crawl (the other run)").returncode == 0
    append(this_run, '{"crawl":"2026-11-20T12:07:00Z","shard":1}')
    result = commit_data(this_run)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "push rejected (try 1 of 3); rebasing on origin/main" in result.stdout
    lines = git(origin, "show", f"main:{DAY}").splitlines()
    assert lines == ['{"crawl":"2026-11-20T11:37:00Z"}', '{"crawl":"2026-11-20T12:07:00Z","shard":2}',
                     '{"crawl":"2026-11-20T12:07:00Z","shard":1}']
    assert git(origin, "log", "--format=%s", "main").splitlines() == ["Crawl 2026-11-20T12:07Z", "Crawl (the other run)", "seed"]


def test_a_failed_rebase_is_undone_and_tried_again_and_the_commit_is_kept(clones):
    """A conflict that union merging cannot settle (a file that is not a day file): every pull fails. Each is
    undone and tried again; in the end the step fails, but this run's commit is intact, not half-rebased."""
    origin, this_run, other_run = clones
    (other_run / "data" / "README.md").write_text("the other run's words\n")
    assert commit_data(other_run, "README (the other run)").returncode == 0
    (this_run / "data" / "README.md").write_text("this run's words\n")
    append(this_run, '{"crawl":"2026-11-20T12:07:00Z","shard":1}')
    result = commit_data(this_run)
    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if "failed" in line] == [
        f"git pull --rebase failed (try {n} of 3); the rebase is undone and tried again" for n in (1, 2, 3)]
    assert "could not push after 3 tries" in result.stderr
    assert git(this_run, "log", "-1", "--format=%s") == "Crawl 2026-11-20T12:07Z\n"
    assert git(this_run, "status", "--porcelain") == "" and not (this_run / ".git" / "rebase-merge").exists()
    assert "shard\":1" in (this_run / DAY).read_text()
