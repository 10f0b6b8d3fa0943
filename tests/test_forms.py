"""The issue forms (issue 31): the forms and the pull-request template hold what they need, their workflow passes the
issue's text only through the environment, and its command answers as promised: a proposed endpoint checked on
loopback (usable, a bad URL, a private address), and an "I see it too" report put on the open incident, not on a new
issue, against the stand-in for GitHub's API that the incidents tests use."""

from __future__ import annotations

import io
import json
import re
import subprocess
from contextlib import redirect_stderr, redirect_stdout

import pytest
import yaml

from forms import FORMS, answers_of, main
from registry import load_registry
from simulator.hostile import Hostile
from tests.conftest import NOW, ROOT
from tests.fake_github import TOKEN, fake_github
from tests.test_check import factory  # the check's clients, unpaced: its own pace is for the internet
from tests.test_workflows import actionlint

REPO = "open311-status/open311-status"
WORKFLOW = ROOT / ".github" / "workflows" / "forms.yml"
SCHEMA = json.loads((ROOT / "endpoints.schema.json").read_text())["items"]


def form(name: str) -> dict:
    return yaml.safe_load((FORMS / f"{name}.yml").read_text())


def body(name: str, /, **answers: str) -> str:
    """An issue's body as GitHub writes a form's answers: '### <label>', a blank line, the answer (or _No response_)."""
    fields = [item for item in form(name)["body"] if "id" in item]
    return "\n\n".join(f"### {item['attributes']['label']}\n\n{answers.get(item['id'], '_No response_')}" for item in fields)


def opened(github, number: int, label: str) -> None:
    """An issue of a form, as GitHub holds it when the workflow starts."""
    github.issues[number], github.comments[number] = _issue(number, "from a form", [label]), []


def run(argv, env, api):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv, lambda: NOW, {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": api, **env},
                    client_factory=factory)
    return code, out.getvalue(), err.getvalue()


def test_the_add_form_asks_for_every_field_the_registry_requires():
    add = form("add-endpoint")
    ids = {item["id"]: item for item in add["body"] if "id" in item}
    assert set(SCHEMA["required"]) - {"id", "notes"} <= set(ids)  # the id is made from the city; notes by the check
    assert all(ids[k]["validations"]["required"] for k in ("base_url", "name", "country", "format", "platform", "timezone", "source"))
    assert ids["format"]["attributes"]["options"] == SCHEMA["properties"]["format"]["enum"]
    assert sorted(ids["platform"]["attributes"]["options"]) == sorted(SCHEMA["properties"]["platform"]["enum"])
    assert add["labels"] == ["add-endpoint"]
    report = form("endpoint-misbehaves")
    assert report["labels"] == ["report"] and [i["id"] for i in report["body"] if "id" in i] == ["endpoint", "kind", "details"]
    assert form("retire-or-correct")["labels"] == ["registry"]
    config = yaml.safe_load((FORMS / "config.yml").read_text())
    assert "SECURITY.md" in config["contact_links"][0]["about"]


def test_the_pull_request_template_lists_what_ci_enforces():
    template = (ROOT / ".github" / "pull_request_template.md").read_text()
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    for job in ci["jobs"]:  # each job the checklist names is a job of CI, and each job of CI is on the checklist
        assert f"CI job *{job}*" in template
    assert template.count("- [ ]") == 5 and "open311-status validate endpoints.yaml" in template and "make test" in template


def test_the_workflow_passes_the_issue_only_through_the_environment(tmp_path):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"issues": {"types": ["opened", "edited"]}}  # (yaml reads the key `on` as True)
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert "'report') && github.event.action == 'opened'" in job["if"]  # an edited report is not moved twice
    answer = job["steps"][-1]
    assert answer["env"]["ISSUE_BODY"] == "${{ github.event.issue.body }}"
    assert all("${{" not in step.get("run", "") for step in job["steps"])  # no expression is ever pasted into a script
    assert "--allow-loopback" not in WORKFLOW.read_text().split("jobs:", 1)[1]
    result = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    # The same step with the body written into its script: actionlint refuses it, as it should.
    run_line = 'run: open311-status forms "${FORM}"'
    injected = WORKFLOW.read_text().replace(run_line, 'run: echo "${{ github.event.issue.body }}"; ' + run_line[5:])
    (tmp_path / "injected.yml").write_text(injected)
    result = subprocess.run([actionlint(), "-no-color", str(tmp_path / "injected.yml")], capture_output=True, text=True)
    assert result.returncode != 0 and "github.event.issue.body" in result.stdout and "potentially untrusted" in result.stdout


def test_answers_are_read_by_the_forms_own_labels():
    text = body("add-endpoint", base_url="https://a.example/v2/", name="Springfield, IL", country="USA").replace("\n", "\r\n")
    assert answers_of("add-endpoint", text) == {"base_url": "https://a.example/v2/", "name": "Springfield, IL", "country": "USA"}


def test_a_good_endpoint_gets_a_comment_with_a_valid_entry_to_paste(tmp_path):
    with Hostile("open311", "127.0.3.41") as server, fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):
        issue = body("add-endpoint", base_url=server.base_url, name="Springfield, IL", country="USA", format="json",
                     platform="in-house", timezone="America/Chicago", source="https://springfield.example/311/docs")
        opened(github, 7, "add-endpoint")
        code, out, err = run(["add", "--issue", "7", "--allow-loopback"], {"ISSUE_BODY": issue}, api)
        [comment] = github.comments.get(7, [])
    assert (code, out, err) == (0, "#7: answered\n", "")
    text = comment["body"]
    assert text.startswith(f"Checked `{server.base_url}` once at 2026-11-20T12:00:00Z. **Usable.**")
    assert "It is valid as it stands." in text
    pasted = re.search(r"The entry to add to `endpoints.yaml`, in a pull request:\n\n```\n(.*?)\n```", text, re.S).group(1)
    [entry] = yaml.safe_load(pasted)
    assert {k: entry[k] for k in ("id", "name", "country", "base_url", "platform", "timezone", "source")} == {
        "id": "springfield", "name": "Springfield, IL", "country": "USA", "base_url": server.base_url, "platform": "in-house",
        "timezone": "America/Chicago", "source": "https://springfield.example/311/docs"}
    (tmp_path / "endpoints.yaml").write_text(pasted)
    assert load_registry(tmp_path / "endpoints.yaml")[0].id == "springfield"


def test_a_bad_url_gets_a_clear_reason_and_no_call():
    with fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):
        opened(github, 8, "add-endpoint")
        code, _, _ = run(["add", "--issue", "8"], {"ISSUE_BODY": body("add-endpoint", base_url="ftp://city.example/open311/")}, api)
        [comment] = github.comments[8]
    assert code == 0
    assert comment["body"].startswith("The base URL `ftp://city.example/open311/` cannot be checked: ")
    assert "http or https" in comment["body"]


@pytest.mark.parametrize("where", ["loopback", "private"])
def test_a_private_address_is_refused(where):
    with Hostile("open311", "127.0.3.42") as server, fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):
        url = server.base_url if where == "loopback" else "http://10.20.30.40/open311/v2/"
        opened(github, 9, "add-endpoint")
        code, _, _ = run(["add", "--issue", "9"], {"ISSUE_BODY": body("add-endpoint", base_url=url, name="Nowhere")}, api)  # no --allow-loopback
        [comment] = github.comments[9]
    assert code == 0 and server.seen == []
    assert "**Not usable**" in comment["body"] and f"refused {where} address" in comment["body"]
    assert "The entry to add" not in comment["body"]


def test_i_see_it_too_goes_onto_the_open_incident_not_a_new_issue():
    registry = ROOT / "endpoints.yaml"
    first = load_registry(registry)[0].id
    with fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):
        github.issues[1] = _issue(1, "Down: the city", ["incident", first])
        github.comments[1] = []
        opened(github, 2, "report")
        details = "Since 09:00 every call answers 502.\n```\n<script>alert(1)</script>"
        issue = body("endpoint-misbehaves", endpoint=first, kind="It does not answer, or answers errors", details=details)
        code, out, _ = run(["report", "--issue", "2", "--endpoints", str(registry)], {"ISSUE_BODY": issue}, api)
        writes = github.writes()
    assert (code, out) == (0, "#2: onto incident #1\n")
    assert ("POST", f"/repos/{REPO}/issues") not in writes  # no second issue
    [onto] = github.comments[1]
    assert onto["body"].startswith("Seen too, reported in #2:") and "Since 09:00 every call answers 502." in onto["body"]
    assert onto["body"].count("```") == 4  # the reporter's own fence cannot close the quote of it
    [thanks] = github.comments[2]
    assert "#1" in thanks["body"] and github.issues[2]["state"] == "closed"


def test_a_report_without_an_incident_stays_and_an_unknown_endpoint_is_named():
    registry = ROOT / "endpoints.yaml"
    first = load_registry(registry)[0].id
    with fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):
        for number in (3, 4):
            opened(github, number, "report")
        run(["report", "--issue", "3", "--endpoints", str(registry)], {"ISSUE_BODY": body("endpoint-misbehaves", endpoint=first)}, api)
        run(["report", "--issue", "4", "--endpoints", str(registry)], {"ISSUE_BODY": body("endpoint-misbehaves", endpoint="atlantis")}, api)
    assert github.issues[3]["state"] == "open" and "stays open as its report" in github.comments[3][0]["body"]
    assert github.comments[4][0]["body"].startswith("There is no endpoint `atlantis` in `endpoints.yaml`.")
    with fake_github(REPO, "2026-11-20T12:00:00Z") as (api, github):  # a stranger's text stays inside its inline code
        opened(github, 5, "report")
        run(["report", "--issue", "5", "--endpoints", str(registry)], {"ISSUE_BODY": body("endpoint-misbehaves", endpoint="x` @everyone `")}, api)
    assert github.comments[5][0]["body"].startswith("There is no endpoint `x' @everyone '` in")


def test_the_command_says_what_is_missing():
    code, _, err = run(["add", "--issue", "1"], {"GITHUB_TOKEN": ""}, "http://127.0.0.1:9")
    assert code == 2 and err == "open311-status forms: ISSUE_BODY, GITHUB_TOKEN not set (the workflow passes them)\n"


def _issue(number: int, title: str, labels: list[str]) -> dict:
    return {"number": number, "title": title, "body": "", "state": "open", "closed_at": None, "state_reason": None,
            "labels": [{"name": n} for n in labels], "html_url": f"https://github.com/{REPO}/issues/{number}",
            "updated_at": "2026-11-20T11:00:00Z", "created_at": "2026-11-20T11:00:00Z"}


def test_each_endpoint_page_links_the_form_with_the_endpoint_filled_in(tmp_path):
    from tests.test_build import build

    assert build(tmp_path / "site", "--repository", "https://github.com/someone/open311-status").returncode == 0
    page = (tmp_path / "site" / "endpoints" / "alpha.html").read_text()
    link = "https://github.com/someone/open311-status/issues/new?template=endpoint-misbehaves.yml&amp;endpoint=alpha"
    assert f'Having trouble with this API? <a href="{link}">Say so</a>' in page
    assert (FORMS / "endpoint-misbehaves.yml").exists() and "endpoint" in {i.get("id") for i in form("endpoint-misbehaves")["body"]}
