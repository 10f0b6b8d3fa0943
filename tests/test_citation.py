"""How to cite the project (issue 31): CITATION.cff valid under the Citation File Format 1.2.0's own schema (kept in
tests/fixtures/cff/, so the check is offline), agreeing with pyproject.toml and the data package, and shown on the
site's about page. And the licences it names are the files the repository carries."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_build import built  # noqa: F401  # the fixture

SCHEMA = ROOT / "tests" / "fixtures" / "cff" / "schema-1.2.0.json"


def problems(document: dict) -> list[str]:
    """Every way a citation departs from CFF 1.2.0, one line each: where, and what."""
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(document))


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_the_citation_is_valid_cff_1_2_0():
    document = citation()
    assert json.loads(SCHEMA.read_text())["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    assert document["cff-version"] == "1.2.0"
    assert problems(document) == []


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.pop("authors"), "(top): 'authors' is a required property"),
    (lambda d: d.update(license="MIT License"), "license: 'MIT License' is not valid under any of the given schemas"),
    (lambda d: d["references"][0].update(type="dataset"), "references/0/type: 'dataset' is not one of"),
])
def test_the_schema_catches_a_broken_citation(change, expected):
    document = citation()
    change(document)
    assert any(p.startswith(expected) for p in problems(document)), problems(document)


def test_the_citation_names_the_software_and_the_data_with_their_licences():
    document = citation()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (document["type"], document["version"], document["license"]) == ("software", project["version"], project["license"]["text"])
    [data] = [r for r in document["references"] if r["type"] == "data"]
    assert data["license"] == "PDDL-1.0"  # SPDX's id of the dedication the data package names
    from render.products import datapackage
    assert [lic["name"] for lic in datapackage("2026-11-20T12:00:00Z")["licenses"]] == ["ODC-PDDL-1.0"]
    assert "MIT License" in (ROOT / "LICENSE").read_text() and "ODC-PDDL-1.0" in (ROOT / "data" / "LICENSE").read_text()
    assert "release" in document["message"] and "archive assets" in document["message"]  # how to cite a snapshot


def test_the_about_page_shows_the_citation(built):  # noqa: F811
    out, _ = built
    page = (out / "about.html").read_text()
    document = citation()
    assert '<h2 id="cite">Cite it</h2>' in page
    assert f"<cite>{document['title']}</cite>, version {document['version']} (software, licence MIT)." in page
    assert "The Open311 Status contributors. <cite>Open311 Status: crawl records" in page
