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
    assert recipe == ["$(VENV)/bin/ruff check .", "$(VENV)/bin/mypy"]


def test_ruff_fails_on_what_it_is_there_to_catch(tmp_path):
    """A name used but never defined (as a refactor once left parse_moment in crawler/__main__.py), and imports out of order."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\n\ndef f():\n    return parse_moment(os.sep, sys.argv)\n")
    result = subprocess.run([BIN / "ruff", "check", "--config", ROOT / "pyproject.toml", "--output-format", "concise", bad],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert {line.split()[1] for line in result.stdout.splitlines() if line.startswith(str(bad))} == {"I001", "F821"}


def test_mypy_holds_every_package_strictly(tmp_path):
    """An untyped function and a float that may be None: caught in a data layer and in the crawler alike."""
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["strict"] is True
    for package in ("metrics", "crawler"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "bad.py").write_text("def share(n, of):\n    return n / of\n\n\ndef half() -> float:\n    return None\n")
    result = subprocess.run([BIN / "mypy", "--config-file", ROOT / "pyproject.toml", "--no-incremental", "-p", "metrics", "-p", "crawler"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    errors = sorted(line.split(": error: ")[0] + ": " + line.rsplit("[", 1)[-1] for line in result.stdout.splitlines() if ": error: " in line)
    assert errors == ["crawler/bad.py:1: no-untyped-def]", "crawler/bad.py:6: return-value]",
                      "metrics/bad.py:1: no-untyped-def]", "metrics/bad.py:6: return-value]"]


def test_every_type_ignore_says_why_on_its_line():
    bare = [f"{path.relative_to(ROOT)}:{n}" for path in sorted(ROOT.rglob("*.py"))
            if not {".venv", "tools", "golden", "site", ".demo"} & set(path.relative_to(ROOT).parts)
            for n, line in enumerate(path.read_text().splitlines(), start=1)
            if "type: ignore" in line and not re.search(r"type: ignore\[[a-z, -]+\]  # \S", line) and path != Path(__file__)]
    assert bare == []
