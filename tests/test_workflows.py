"""The workflows cannot run here, so what they must do is held by reading them.

Each rule below was found by reading them against GitHub's documentation (permissions, job
conditions, schedules, the cache); each test failed on the workflows as they were before it.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from registry import load_registry
from tests.conftest import ROOT
from vocabulary import timing

WORKFLOWS = ROOT / ".github" / "workflows"

# What each action needs of the GITHUB_TOKEN, from its documentation. A job that names any permission
# gets none of the others, so a job must name all of these for the actions it uses.
NEEDS = {
    "actions/checkout": {"contents": "read"},
    "actions/setup-python": {},
    "actions/cache": {},
    "actions/upload-artifact": {},  # artifacts of the same run: the runner's own token
    "actions/download-artifact": {},
    "actions/upload-pages-artifact": {},
    "actions/configure-pages": {"pages": "read"},  # GET /repos/{owner}/{repo}/pages (actions/configure-pages#188)
    "actions/deploy-pages": {"pages": "write", "id-token": "write"},
}
# The current major versions (GitHub moved actions to the Node 24 runtime in 2026).
CURRENT = {"actions/checkout": 6, "actions/setup-python": 6, "actions/cache": 5, "actions/upload-artifact": 7,
           "actions/download-artifact": 8, "actions/upload-pages-artifact": 5, "actions/configure-pages": 6,
           "actions/deploy-pages": 5}
LEVEL = {"none": 0, "read": 1, "write": 2}


def load(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow):
    return [(job_name, step) for job_name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert found, "actionlint is installed with the test extras (make test)"
    return found


def test_the_workflows_pass_actionlint():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert [Path(f).name for f in files] == ["ci.yml", "crawl.yml", "forms.yml", "lock.yml"]
    result = subprocess.run([actionlint(), "-no-color", *files], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    result = subprocess.run([actionlint(), "-no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "nope" in result.stdout


def test_the_crawl_workflow_does_what_the_readme_promises():
    crawl = load("crawl.yml")
    assert "workflow_dispatch" in crawl[True]  # YAML 1.1 reads the key `on` as true
    assert crawl["concurrency"] == {"group": "crawl", "cancel-in-progress": False}
    runs = [s.get("run", "") + s.get("uses", "") for _, s in steps(crawl)]
    assert any("python -m crawler --endpoints endpoints.yaml --data data --cache .crawl-cache --shard" in s for s in runs)
    assert any("open311-status shards export --data data --base HEAD" in s for s in runs)
    assert any("open311-status shards merge --data data shards/shard-*" in s for s in runs)
    assert crawl["jobs"]["crawl"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert crawl["jobs"]["merge"]["needs"] == "crawl" and crawl["jobs"]["build"]["needs"] == "merge"
    assert any('python build.py --data data --out site --cache .build-cache --site-url "$SITE_URL" --archive archive' in s for s in runs)
    [built] = [s for _, s in steps(crawl) if "python build.py" in s.get("run", "")]
    assert built["env"]["SITE_URL"].startswith("${{ vars.SITE_URL || format('https://{0}.github.io/{1}/'")
    assert any(s.startswith("actions/upload-pages-artifact@") for s in runs)
    assert any(s.startswith("actions/deploy-pages@") for s in runs)
    ci_runs = [s.get("run", "") for _, s in steps(load("ci.yml"))]
    assert "make test" in ci_runs and "python -m crawler.registry endpoints.yaml" in ci_runs


def test_the_years_moved_off_the_site_are_released_before_the_site_goes_up():
    build_steps = load("crawl.yml")["jobs"]["build"]["steps"]
    names = [s.get("name") or s.get("uses") for s in build_steps]
    [built] = [s for s in build_steps if "python build.py" in s.get("run", "")]
    assert '--release-url "https://github.com/${{ github.repository }}/releases/download/"' in built["run"]
    assert '--repository "https://github.com/${{ github.repository }}"' in built["run"]  # every page links the repository
    [release] = [s for s in build_steps if "release-archive.sh" in s.get("run", "")]
    assert release["run"] == ".github/scripts/release-archive.sh archive"
    assert release["env"] == {"GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}"}
    assert names.index(release["name"]) < names.index("actions/upload-pages-artifact@v5")


def test_the_release_script_uploads_a_year_once_and_again_only_when_it_changed(tmp_path):
    """Against a stand-in gh on PATH that keeps releases in a folder, as the real one keeps them on GitHub."""
    import subprocess

    releases, bin_dir, archive = tmp_path / "releases", tmp_path / "bin", tmp_path / "archive"
    bin_dir.mkdir()
    archive.mkdir()
    (bin_dir / "gh").write_text(f"""#!/usr/bin/env bash
set -e
echo "$*" >> {tmp_path}/calls
R={releases}
case "$1 $2" in
  "release view") test -d "$R/$3" ;;
  "release create") mkdir -p "$R/$3" ;;
  "release download") cat "$R/$3/$5" ;;
  "release upload") tag=$3; shift 3; for f in "$@"; do [ "$f" = --clobber ] || cp "$f" "$R/$tag/"; done ;;
  *) exit 2 ;;
esac
""")
    (bin_dir / "gh").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    script = str(ROOT / ".github" / "scripts" / "release-archive.sh")
    (archive / "open311-status-2025.zip").write_bytes(b"year 2025")

    def run():
        result = subprocess.run([script, str(archive)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert run() == "data-2025: uploaded open311-status-2025.zip\n"
    assert (releases / "data-2025" / "open311-status-2025.zip").read_bytes() == b"year 2025"
    assert run() == "data-2025: open311-status-2025.zip unchanged\n"
    (archive / "open311-status-2025.zip").write_bytes(b"year 2025, one month more")
    assert run() == "data-2025: uploaded open311-status-2025.zip\n"
    assert (releases / "data-2025" / "open311-status-2025.zip").read_bytes() == b"year 2025, one month more"
    assert sum(line.startswith("release create") for line in (tmp_path / "calls").read_text().splitlines()) == 1
    (archive / "open311-status-2025.zip").unlink()
    assert run() == ""  # no year moved: nothing to do


def test_every_api_key_in_the_registry_reaches_the_crawl():
    crawl = load("crawl.yml")
    [step] = [s for s in crawl["jobs"]["crawl"]["steps"] if s.get("name") == "Crawl"]
    names = {e.api_key_env for e in load_registry(ROOT / "endpoints.yaml") if e.api_key_env}
    assert names and set(step["env"]) == names
    assert all(step["env"][n] == "${{ secrets.%s }}" % n for n in names)


# -- permissions ------------------------------------------------------------------------------------

def granted(workflow, job):
    """The token's permissions in a job: its own list if it names one (the rest are none), else the workflow's."""
    perms = workflow["jobs"][job].get("permissions", workflow.get("permissions"))
    if perms is None:
        return {"contents": "write", "pages": "write", "id-token": "none"}  # the repository default, at best
    if isinstance(perms, str):
        return {k: perms for k in ("contents", "pages", "id-token", "actions", "issues")}
    return perms


def needed(step):
    uses = step.get("uses", "")
    if uses:
        action = uses.split("@")[0]
        assert action in NEEDS, f"{action}: add what it needs of the token to NEEDS, from its documentation"
        return NEEDS[action]
    if any(write in step.get("run", "") for write in ("commit-data.sh", "git push", "release-archive.sh")):
        return {"contents": "write"}
    if "open311-status incidents" in step.get("run", "") and "--dry-run" not in step.get("run", ""):
        return {"issues": "write"}  # POST /repos/{owner}/{repo}/issues, its comments, PATCH to close
    return {}


@pytest.mark.parametrize("name", ["crawl.yml", "ci.yml"])
def test_each_job_has_the_permissions_its_actions_need(name):
    workflow = load(name)
    missing = []
    for job, step in steps(workflow):
        have = granted(workflow, job)
        for scope, level in needed(step).items():
            if LEVEL[have.get(scope, "none")] < LEVEL[level]:
                missing.append(f"{job}: {step.get('uses') or step.get('name')} needs {scope}: {level}")
    assert missing == []


def test_nothing_but_the_merge_and_the_releases_may_write_and_only_deploy_touches_pages():
    crawl = load("crawl.yml")
    writers = sorted(job for job in crawl["jobs"] if "write" in granted(crawl, job).values())
    assert writers == ["build", "deploy", "merge"]
    assert granted(crawl, "merge") == {"contents": "write", "issues": "write"}  # the incidents' issues
    assert granted(crawl, "build") == {"contents": "write"}
    assert granted(crawl, "deploy") == {"pages": "write", "id-token": "write"}


# -- no run's records lost -------------------------------------------------------------------------

def test_the_crawl_s_records_are_committed_before_anything_optional():
    merge = load("crawl.yml")["jobs"]["merge"]["steps"]
    names = [s.get("name", s.get("uses", "")) for s in merge]
    first_commit = next(i for i, s in enumerate(merge) if "commit-data.sh" in s.get("run", ""))
    assert names[first_commit - 1] == "Merge the shards"
    twins = next(i for i, s in enumerate(merge) if "open311-status twins" in s.get("run", ""))
    assert first_commit < twins
    after = merge[first_commit + 1:]
    # Whatever comes after the commit may fail without failing the job, or is itself a commit that
    # runs only once the crawl's records are in.
    assert all(s.get("continue-on-error") is True or "commit-data.sh" in s.get("run", "") for s in after)
    assert "--summary \"$GITHUB_STEP_SUMMARY\"" in merge[twins]["run"]
    later = [s for s in after if "commit-data.sh" in s.get("run", "")]
    assert len(later) == 2 and all(s["if"] == "${{ !cancelled() && steps.commit.outcome == 'success' }}" for s in later)
    assert merge[first_commit]["id"] == "commit"


def test_the_incidents_run_after_the_crawl_is_committed_and_their_log_is_committed_with_the_twins():
    merge = load("crawl.yml")["jobs"]["merge"]["steps"]
    commits = [i for i, s in enumerate(merge) if "commit-data.sh" in s.get("run", "")]
    [step] = [i for i, s in enumerate(merge) if "open311-status incidents" in s.get("run", "")]
    assert commits[0] < step < commits[-1] and "Twins and incidents" in merge[commits[-1]]["run"]
    incidents = merge[step]
    assert incidents["continue-on-error"] is True  # GitHub failing never fails the run
    assert incidents["timeout-minutes"] * 60 == timing.INCIDENTS_S  # and never takes the twins' time
    assert incidents["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert '--repo "${{ github.repository }}"' in incidents["run"] and '--summary "$GITHUB_STEP_SUMMARY"' in incidents["run"]
    assert "--dry-run" not in incidents["run"]


def test_every_commit_goes_through_the_script_that_retries():
    runs = " ".join(s.get("run", "") for _, s in steps(load("crawl.yml")))
    assert "git push" not in runs and "git pull" not in runs
    assert runs.count(".github/scripts/commit-data.sh") == 3  # the crawl's records, the archive, the twins and incidents
    assert (ROOT / ".github" / "scripts" / "commit-data.sh").stat().st_mode & 0o111


# -- time ------------------------------------------------------------------------------------------

def test_the_cron_is_off_the_hour_at_the_cadence_everything_reads():
    """The workflow's cron is the one copy of the cadence outside vocabulary/, so it is held to it here."""
    from datetime import datetime, timedelta, timezone

    import vocabulary
    from crawler.crawl import scheduled_slot

    [schedule] = load("crawl.yml")[True]["schedule"]
    minute, *rest = schedule["cron"].split()
    assert rest == ["*", "*", "*", "*"]
    minutes = sorted(int(m) for m in minute.split(","))
    step = int(vocabulary.CADENCE.total_seconds() // 60)
    assert 0 not in minutes and minutes == [int(vocabulary.CRON_OFFSET.total_seconds() // 60) + step * n for n in range(60 // step)]
    assert vocabulary.CRAWLS_PER_DAY == 24 * 60 // step
    start = datetime(2026, 11, 20, 12, minutes[1], tzinfo=timezone.utc)
    assert scheduled_slot(start + timedelta(minutes=12)) == start


def test_each_job_s_timeout_covers_its_budget_and_a_run_fits_its_slot():
    jobs = load("crawl.yml")["jobs"]
    assert set(jobs) == set(timing.JOBS)
    short = {job: (jobs[job].get("timeout-minutes"), timing.needed_s(job)) for job in jobs
             if jobs[job].get("timeout-minutes") is None or jobs[job]["timeout-minutes"] * 60 < timing.needed_s(job)}
    assert short == {}
    assert sum(job["timeout-minutes"] for job in jobs.values()) * 60 <= timing.CADENCE.total_seconds()


def test_the_crawler_and_the_twins_keep_to_those_budgets():
    import inspect

    from crawler.client import Limits
    from twins import LIMITS, run_twins

    assert Limits().host_s == timing.HOST_S
    assert LIMITS.endpoint_s <= timing.TWINS_S
    assert inspect.signature(run_twins).parameters["budget_s"].default == timing.TWINS_S
    from incidents.github import GitHub
    assert GitHub("o/r", "t").budget_s == timing.INCIDENTS_WAIT_S < timing.INCIDENTS_S
    [deploy] = load("crawl.yml")["jobs"]["deploy"]["steps"]
    assert deploy["with"]["timeout"] <= timing.DEPLOY_S * 1000 + 30_000


# -- the build cache -------------------------------------------------------------------------------

def test_the_build_cache_is_keyed_by_the_code_and_saved_once_a_day():
    [cache] = [s for s in load("crawl.yml")["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/cache@")]
    key, restore = cache["with"]["key"], cache["with"]["restore-keys"]
    code = "hashFiles('history/**/*.py', 'metrics/**/*.py', 'records/**/*.py', 'requirements/run.txt')"
    assert key == f"build-cache-${{{{ {code} }}}}-${{{{ steps.day.outputs.day }}}}"
    assert restore == f"build-cache-${{{{ {code} }}}}-"
    assert "run_id" not in key and "run_number" not in key


def test_the_crawl_keeps_its_digests_in_a_cache_restored_before_it_and_saved_once_a_day():
    crawl_steps = load("crawl.yml")["jobs"]["crawl"]["steps"]
    [at] = [i for i, s in enumerate(crawl_steps) if s.get("uses", "").startswith("actions/cache@")]
    [crawled] = [i for i, s in enumerate(crawl_steps) if s.get("run", "").startswith("python -m crawler --endpoints")]
    cache = crawl_steps[at]["with"]
    assert at < crawled and f"--cache {cache['path']} " in crawl_steps[crawled]["run"]
    code = "hashFiles('crawler/digest.py', 'records/**/*.py')"  # a digest is made by these
    assert cache["key"] == f"crawl-memory-${{{{ {code} }}}}-${{{{ steps.day.outputs.day }}}}-${{{{ matrix.shard }}}}"
    assert cache["restore-keys"] == f"crawl-memory-${{{{ {code} }}}}-"  # any shard's: each reads every endpoint's days
    [day] = [s for s in crawl_steps[:at] if s.get("id") == "day"]
    assert 'date -u +%Y-%m-%d' in day["run"]


# -- current actions, a lock, and a shallow pull-request check -------------------------------------

@pytest.mark.parametrize("name", ["crawl.yml", "ci.yml"])
def test_every_action_is_at_its_current_major_version(name):
    old = []
    for _, step in steps(load(name)):
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert action in CURRENT, f"{action}: add its current major version to CURRENT"
            if not re.fullmatch(r"v\d+", version) or int(version[1:]) < CURRENT[action]:
                old.append(step["uses"])
    assert old == []


@pytest.mark.parametrize("name", ["crawl.yml", "ci.yml"])
def test_every_install_is_from_the_lock(name):
    installs = [s["run"] for _, s in steps(load(name)) if "pip install" in s.get("run", "")]
    assert installs
    for run in installs:
        for line in (line.strip() for line in run.splitlines() if "pip install" in line):
            assert (line == "pip install --require-hashes -r requirements/run.txt"
                    or line == "pip install --no-deps --no-build-isolation -e ."), line
    setup = [s["with"] for _, s in steps(load(name)) if s.get("uses", "").startswith("actions/setup-python@")]
    assert all(w["python-version"] == "3.11" and w["cache-dependency-path"].startswith("requirements/") for w in setup)


def test_pull_requests_check_the_endpoints_they_touch_from_a_shallow_clone():
    ci = load("ci.yml")
    job = ci["jobs"]["check-endpoints"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert all("fetch-depth" not in s.get("with", {}) for _, s in steps(ci))
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert 'git fetch --no-tags --depth=1 origin "${BASE_REF}"' in runs and "git show FETCH_HEAD:endpoints.yaml" in runs
    assert "open311-status check --endpoints endpoints.yaml --changed-from" in runs and "GITHUB_STEP_SUMMARY" in runs
