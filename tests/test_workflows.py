import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from crawler.registry import load_registry
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert found, "actionlint is installed with the test extras (make test)"
    return found


def test_the_workflows_pass_actionlint():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert [Path(f).name for f in files] == ["ci.yml", "crawl.yml"]
    result = subprocess.run([actionlint(), "-no-color", *files], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    result = subprocess.run([actionlint(), "-no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "nope" in result.stdout


def test_the_crawl_workflow_does_what_the_readme_promises():
    crawl = yaml.safe_load((WORKFLOWS / "crawl.yml").read_text())
    triggers = crawl[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "*/30 * * * *"}] and "workflow_dispatch" in triggers
    assert crawl["concurrency"]["group"] == "crawl"
    steps = [s.get("run", "") + s.get("uses", "") for job in crawl["jobs"].values() for s in job["steps"]]
    assert any("python -m crawler --endpoints endpoints.yaml --data data --shard" in s for s in steps)
    assert any("python -m records.shards export --data data --base HEAD" in s for s in steps)
    assert any("python -m records.shards merge --data data shards/shard-*" in s for s in steps)
    assert crawl["jobs"]["crawl"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert crawl["jobs"]["merge"]["needs"] == "crawl" and crawl["jobs"]["build"]["needs"] == "merge"
    assert any("git pull -q --rebase" in s for s in steps)
    assert any("python build.py --data data --out site" in s for s in steps)
    assert any(s.startswith("actions/upload-pages-artifact@") for s in steps)
    assert any(s.startswith("actions/deploy-pages@") for s in steps)
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    ci_steps = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
    assert "make test" in ci_steps and "python -m crawler.registry endpoints.yaml" in ci_steps


def test_every_api_key_in_the_registry_reaches_the_crawl():
    crawl = yaml.safe_load((WORKFLOWS / "crawl.yml").read_text())
    [step] = [s for s in crawl["jobs"]["crawl"]["steps"] if s.get("name") == "Crawl"]
    names = {e.api_key_env for e in load_registry(ROOT / "endpoints.yaml") if e.api_key_env}
    assert names and set(step["env"]) == names
    assert all(step["env"][n] == "${{ secrets.%s }}" % n for n in names)


def test_pull_requests_check_the_endpoints_they_touch():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    job = ci["jobs"]["check-endpoints"]
    assert job["if"] == "github.event_name == 'pull_request'"
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "python -m crawler check --endpoints endpoints.yaml --changed-from" in runs and "GITHUB_STEP_SUMMARY" in runs


def test_one_cadence_everywhere():
    """The cron, the crawler's slots and the metrics' schedule all say every 30 minutes."""
    from datetime import timedelta

    from crawler.crawl import CADENCE
    from crawler.probe import CRAWLS_PER_DAY
    from metrics.status import CADENCE as METRICS_CADENCE

    crawl = yaml.safe_load((WORKFLOWS / "crawl.yml").read_text())
    assert crawl[True]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert CADENCE == METRICS_CADENCE == timedelta(minutes=30) == timedelta(days=1) / CRAWLS_PER_DAY
