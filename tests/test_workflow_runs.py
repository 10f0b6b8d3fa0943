"""What runs after a failure, worked out from the crawl workflow as GitHub would (its expressions and needs),
since no workflow can run here."""

import re

from tests.test_workflows import load

# -- what runs after a failure ---------------------------------------------------------------------

TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|'[^']*'|[A-Za-z_][A-Za-z0-9_.-]*)")


def evaluate(expression, context):
    """The part of GitHub's expression language the workflows use in `if:` (status functions, needs.*,
    steps.*, literals, !, &&, ||, ==, !=)."""
    text = expression.strip()
    if text.startswith("${{"):
        text = text[3:].rstrip()[:-2]
    tokens, at = [], 0
    while at < len(text.rstrip()):
        match = TOKEN.match(text, at)
        assert match, f"cannot read {text[at:]!r} in {expression!r}"
        tokens.append(match.group(1))
        at = match.end()

    def primary(i):
        token = tokens[i]
        if token == "(":
            value, i = either(i + 1)
            assert tokens[i] == ")"
            return value, i + 1
        if token == "!":
            value, i = primary(i + 1)
            return not value, i
        if token.startswith("'"):
            return token[1:-1], i + 1
        if i + 1 < len(tokens) and tokens[i + 1] == "(":
            assert tokens[i + 2] == ")"
            return context["functions"][token](), i + 3
        value = context
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value, i + 1

    def compare(i):
        left, i = primary(i)
        if i < len(tokens) and tokens[i] in ("==", "!="):
            right, j = primary(i + 1)
            return (left == right) == (tokens[i] == "=="), j
        return left, i

    def joined(i, operator, inner):
        value, i = inner(i)
        while i < len(tokens) and tokens[i] == operator:
            other, i = inner(i + 1)
            value = (bool(value) and bool(other)) if operator == "&&" else (bool(value) or bool(other))
        return value, i

    def both(i):
        return joined(i, "&&", compare)

    def either(i):
        return joined(i, "||", both)

    value, end = either(0)
    assert end == len(tokens), expression
    return bool(value)


def run_of(workflow, results, cancelled=False):
    """Which jobs run, given the result of the jobs that do not depend on others' results here. A job's
    default condition is success(): every job it depends on, directly or not, succeeded."""
    jobs = workflow["jobs"]

    def ancestors(job):
        needs = jobs[job].get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        return set(needs).union(*(ancestors(n) for n in needs)) if needs else set()

    outcome = dict(results)
    for job in jobs:  # in the file's order, which is the order of needs here
        if job in outcome:
            continue
        above = [outcome[a] for a in ancestors(job)]
        needs = jobs[job].get("needs", [])
        context = {
            "needs": {n: {"result": outcome[n]} for n in ([needs] if isinstance(needs, str) else needs)},
            "functions": {"success": lambda above=above: all(r == "success" for r in above), "failure": lambda above=above: "failure" in above,
                          "cancelled": lambda: cancelled, "always": lambda: True},
        }
        runs = evaluate(jobs[job].get("if", "success()"), context)
        outcome[job] = "success" if runs else "skipped"
    return outcome


def test_the_expression_reader_reads_github_s_rules():
    context = {"needs": {"merge": {"result": "success"}}, "functions": {"cancelled": lambda: False, "success": lambda: False}}
    assert evaluate("${{ !cancelled() && needs.merge.result == 'success' }}", context)
    assert not evaluate("success()", context)
    assert evaluate("!(success() || cancelled())", context)


def test_build_and_deploy_run_after_a_shard_failed():
    """A shard that exits 1 or times out fails the crawl job; the merge still commits the other shards'
    records, and then the site must be built and published from them."""
    outcome = run_of(load("crawl.yml"), {"plan": "success", "crawl": "failure"})
    assert outcome["merge"] == outcome["build"] == outcome["deploy"] == "success"


def test_nothing_is_published_when_the_merge_failed_or_the_run_was_cancelled():
    crawl = load("crawl.yml")
    outcome = run_of(crawl, {"plan": "success", "crawl": "success", "merge": "failure"})
    assert outcome["build"] == outcome["deploy"] == "skipped"
    outcome = run_of(crawl, {"plan": "success", "crawl": "failure"}, cancelled=True)
    assert outcome["merge"] == outcome["build"] == outcome["deploy"] == "skipped"
