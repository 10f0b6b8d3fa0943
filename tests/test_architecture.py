"""The data walks one way: only the crawler touches the network, and metrics never import it."""

import ast

import pytest

from tests.conftest import ROOT

NETWORK = {"requests", "urllib3", "http", "socket"}
NETWORK_MODULES = {"crawler/client.py", "crawler/guard.py"}


def imports(path, full=False):
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                   for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name if full else a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module if full else node.module.split(".")[0]


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.py") if p.parts[-2] in ("crawler", "records", "metrics")) + ["build.py"])
def test_layering(path):
    names = set(imports(ROOT / path))
    if path not in NETWORK_MODULES:
        assert not names & NETWORK, f"{path} must not touch the network"
    if path.startswith(("metrics/", "records/")) or path == "build.py":
        assert "crawler" not in names, f"{path} must not import the crawler"
    if path.startswith("records/"):
        assert "metrics" not in names


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("crawler/*.py")))
def test_the_crawler_never_imports_the_metrics(path):
    """The status rule it needs for its console line is records/status.py, shared with the site."""
    assert "metrics" not in set(imports(ROOT / path)), path
