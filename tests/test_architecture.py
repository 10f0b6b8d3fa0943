"""The data walks one way: registry → probe → records → data/ → history → metrics → figures → render → site/.

Every package and top-level module is held to what it may import of the others (MAY), so that no
two import each other, the crawler never reaches the metrics, and only the crawler's client, guard and
stopwatch (with its failures' classes), and the incidents' GitHub client, touch the network (the simulator and `serve`
serve on loopback). cli.py is the command-line adapter: it may call any package, but stays off the network too; a
package's __main__.py is held to its package's rules.
"""

import ast

import pytest

from tests.conftest import ROOT

PACKAGES = ["audits", "builder", "check", "crawler", "figures", "forms", "history", "incidents", "metrics", "records", "registry", "render", "shards",
            "simulator", "twins", "vocabulary"]
MODULES = ["build", "cli"]
MAY = {  # what each may import of the project, besides itself
    "vocabulary": set(),  # the shared words (the cadence, outcomes and statuses, stored times): every other may import it
    "records": set(),
    "registry": set(),
    "figures": set(),  # the figures' types: what metrics gives and render takes
    "history": {"records"},
    "metrics": {"figures", "history", "records"},
    "render": {"figures", "records"},  # the figures come as a value: render computes none
    "builder": {"figures", "history", "metrics", "records", "render"},
    "build": {"builder"},  # the script
    "crawler": {"records", "registry"},
    "check": {"crawler", "records", "registry"},
    "twins": {"crawler", "records", "registry"},
    "audits": {"records"},
    "shards": {"records"},
    "incidents": {"crawler", "history", "metrics", "records", "registry"},  # reads like the build, writes like the crawler
    "forms": {"check", "crawler", "incidents", "registry"},  # the issue forms: a check, or a comment on an incident
    "simulator": {"audits", "builder", "crawler", "history", "incidents", "records", "registry", "twins"},  # the demo runs the whole pipeline
}
for _name in set(MAY) - {"vocabulary"}:
    MAY[_name].add("vocabulary")
NETWORK = {"requests", "urllib3", "http", "socket", "ssl"}
ON_THE_NETWORK = {"crawler/client.py", "crawler/guard.py", "crawler/stopwatch.py",  # the crawler's one seam
                  "crawler/failures.py",  # and the seam's exceptions, classed (it imports them, and calls nothing)
                  "incidents/github.py"}  # and the GitHub API's, for the incident issues
SERVERS = {"simulator", "cli"}  # they serve on loopback, and reach nothing else


def sources():
    for name in PACKAGES:
        for path in sorted((ROOT / name).glob("*.py")):
            yield name, path
    for name in MODULES:
        yield name, ROOT / f"{name}.py"


def imports(path):
    """The top-level names a file imports (typing-only imports left out)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                   for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_every_package_is_held_to_the_rules():
    found = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(PACKAGES), "a new package needs its place in MAY"
    assert set(MAY) == set(PACKAGES + MODULES) - {"cli"}


@pytest.mark.parametrize("name, path", list(sources()), ids=lambda v: v if isinstance(v, str) else v.relative_to(ROOT).as_posix())
def test_imports_follow_the_one_way_flow(name, path):
    project = set(PACKAGES + MODULES)
    used = set(imports(path)) & project - {name}
    if name != "cli":  # a __main__.py too: its package's rules hold for its command line
        assert used <= MAY[name], f"{path.relative_to(ROOT)} must not import {sorted(used - MAY[name])}"
    relative = path.relative_to(ROOT).as_posix()
    if relative not in ON_THE_NETWORK and name not in SERVERS:
        assert not set(imports(path)) & NETWORK, f"{relative} must not touch the network"


def test_the_crawler_never_reaches_the_metrics():
    """The status rule its console line needs is records/status.py, shared with the site."""
    def reach(name, seen):
        for other in MAY.get(name, set()):
            if other not in seen:
                seen.add(other)
                reach(other, seen)
        return seen

    assert "metrics" not in reach("crawler", set())
    assert not {"crawler", "simulator", "check", "twins"} & reach("builder", set())


def test_no_two_packages_import_each_other():
    """MAY has no circle, so neither has the code it holds."""
    def visit(name, path):
        assert name not in path, " → ".join([*path, name])
        for other in MAY.get(name, set()):
            visit(other, [*path, name])

    for name in MAY:
        visit(name, [])


def test_every_public_function_and_class_says_why_it_is_there():
    """A docstring on every public function, method and class of the project (tests aside)."""
    bare = []
    for _, path in sources():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            members = [node] + ([m for m in node.body if isinstance(m, ast.FunctionDef)] if isinstance(node, ast.ClassDef) else [])
            for member in members:
                if isinstance(member, (ast.FunctionDef, ast.ClassDef)) and not member.name.startswith("_") \
                        and ast.get_docstring(member) is None:
                    bare.append(f"{path.relative_to(ROOT)}:{member.lineno} {member.name}")
    assert bare == []


def every_python_file():
    """Every Python file of the project, tests and benchmarks included (not the virtualenv, the built site or tools)."""
    skip = {".venv", "tools", "site", ".demo", ".bench-demo", "golden", "node_modules"}
    return [p for p in sorted(ROOT.rglob("*.py")) if not skip & set(p.relative_to(ROOT).parts)]


def test_no_module_over_400_lines_and_no_function_over_60():
    """Small enough to read at a sitting (issue 30): a longer one is split by what its parts do."""
    long_modules, long_functions = [], []
    for path in every_python_file():
        text = path.read_text()
        if len(text.splitlines()) > 400:
            long_modules.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long_modules == [] and long_functions == []
