"""The locks (requirements/run.txt for the crawl, requirements/test.txt for make test) pin every package that
pyproject.toml asks for, within its range, with hashes: CI installs exactly them, so an upstream release
changes nothing until `make lock` is run and its diff committed."""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def pins(name):
    """{package: (version, hashes)} of a lock file."""
    out, current = {}, None
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            out[current] = (match.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            out[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return out


def wanted(extra=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    asked = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    build = [line for line in (ROOT / "requirements" / "build.in").read_text().splitlines() if line and not line.startswith("#")]
    return [Requirement(r) for r in asked + build]


@pytest.mark.parametrize("lock, extra", [("run.txt", None), ("test.txt", "test")])
def test_every_requirement_is_pinned_within_its_range_with_hashes(lock, extra):
    pinned = pins(lock)
    for requirement in wanted(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements/{lock}: run make lock"
        version, hashes = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{name} {version} is outside {requirement.specifier}"
    assert all(len(h) == 64 for _, hashes in pinned.values() for h in hashes)
    assert all(hashes for _, hashes in pinned.values())


def test_the_crawl_runs_what_the_tests_tested():
    run, test = pins("run.txt"), pins("test.txt")
    assert {name: version for name, (version, _) in run.items()} == {name: test[name][0] for name in run}


def test_make_installs_from_the_lock_only():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line.strip() for line in makefile.splitlines() if "pip install" in line and "$(UV)" not in line]
    assert installs == [
        "$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/test.txt",
        "$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .",
    ]


def test_the_installed_project_leaves_pypas_build_alone_and_needs_no_plotly_package(tmp_path):
    """Installed (make's editable install), the project puts no module named `build` on the path, where it would shadow
    PyPA's `python -m build`; build.py is a script run from the checkout. And it does not install the plotly package,
    which nothing imports: the site's charts are plotly.js bundles kept in render/plotly/."""
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('build') is None, "
                            "u.find_spec('builder').origin)"], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert found.stdout.split() == ["True", str(ROOT / "builder" / "__init__.py")]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "plotly" not in {canonicalize_name(Requirement(d).name) for d in declared}
