"""make lint: ruff and mypy from the lock, run by make test before the tests, each failing it (issue 30)."""

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def target(name: str) -> tuple[list[str], list[str]]:
    """A Makefile target's prerequisites and recipe lines."""
    text = (ROOT / "Makefile").read_text()
    found = re.search(rf"^{name}:([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.M)
    assert found, name
    return found[1].split(), [line.strip() for line in found[2].splitlines()]


def test_make_test_lints_first_and_lint_runs_ruff():
    prerequisites, _ = target("test")
    assert prerequisites[0] == "lint"
    _, recipe = target("lint")
    assert "$(VENV)/bin/ruff check ." in recipe


def test_ruff_fails_on_what_it_is_there_to_catch(tmp_path):
    """A name used but never defined (as a refactor once left parse_moment in crawler/__main__.py), and imports out of order."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\n\ndef f():\n    return parse_moment(os.sep, sys.argv)\n")
    result = subprocess.run([BIN / "ruff", "check", "--config", ROOT / "pyproject.toml", "--output-format", "concise", bad],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert {line.split()[1] for line in result.stdout.splitlines() if line.startswith(str(bad))} == {"I001", "F821"}
