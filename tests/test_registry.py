import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from registry import RegistryError, load_registry, url_problem
from tests.conftest import ROOT


def test_the_real_registry_is_valid_and_large_enough():
    endpoints = load_registry(ROOT / "endpoints.yaml")
    assert len(endpoints) >= 40
    assert len({e.id for e in endpoints}) == len(endpoints)
    assert {e.format for e in endpoints} == {"json", "xml"}
    assert all(e.notes and e.source and e.platform for e in endpoints)


def test_the_schema_is_a_valid_json_schema_and_validates_the_raw_file():
    schema = json.loads((ROOT / "endpoints.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((ROOT / "endpoints.yaml").read_text()), schema)


BAD = """\
- id: chicago
  name: Chicago, IL
  country: USA
  base_url: http://311api.cityofchicago.org/open311/v2/
  format: json
  platform: Connected Bits
  timezone: America/Chicago
  notes: fine
  source: tests
- id: chicago
  name: Chicago again
  country: US
  base_url: ftp://example.org/open311/
  format: csv
  platform: Connected Bits
  timezone: Mars/Olympus_Mons
  notes: dup
  source: tests
  timezon: America/Chicago
- name: No id
  country: USA
  base_url: https://example.org/open311
  format: json
  platform: Acme
  timezone: UTC
  notes: 3
  source: tests
- id: Bad-Id
  name: Bad id
  name: Twice
  country: USA
  base_url: https://user:pw@example.org/v2/
  format: xml
  platform: in-house
  timezone: UTC
  notes: ''
  source: ''
- just a string
"""

EXPECTED = [
    "bad.yaml:10: chicago: id: duplicate id 'chicago' (first at line 1)",
    "bad.yaml:12: chicago: country: must be an ISO 3166-1 alpha-3 code such as USA, DEU or GBR; got 'US'",
    "bad.yaml:13: chicago: base_url: scheme must be http or https; got 'ftp'",
    "bad.yaml:14: chicago: format: must be one of json, xml; got 'csv'",
    "bad.yaml:16: chicago: timezone: unknown time zone 'Mars/Olympus_Mons' (use an IANA name such as America/Chicago)",
    "bad.yaml:19: chicago: unknown key 'timezon' (did you mean 'timezone'?)",
    "bad.yaml:20: entry 3: missing field 'id'",
    "bad.yaml:22: entry 3: base_url: must end with '/' (method paths such as services.json are appended to it)",
    "bad.yaml:24: entry 3: platform: must be one of Connected Bits, SeeClickFix, Mark-a-Spot, FixMyStreet, uReport, "
    "Klarschiff, 6Aika, CitySDK, Lagan, PublicStuff, in-house, unknown; got 'Acme'",
    "bad.yaml:26: entry 3: notes: must be text; got a number",
    "bad.yaml:28: Bad-Id: id: must be 2-48 lower-case letters, digits or underscores, starting with a letter; got 'Bad-Id'",
    "bad.yaml:30: Bad-Id: name: duplicate key (first at line 29)",
    "bad.yaml:32: Bad-Id: base_url: must not contain a user name or password",
    "bad.yaml:37: Bad-Id: source: must not be empty",
    "bad.yaml:38: entry 5: must be a mapping of keys to values; got text",
]


def test_every_problem_is_reported_at_once_with_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(BAD)
    with pytest.raises(RegistryError) as info:
        load_registry("bad.yaml")
    assert info.value.problems == EXPECTED


@pytest.mark.parametrize("text, message", [
    ("", "bad.yaml:1: the file is empty; expected a list of endpoints"),
    ("id: chicago\n", "bad.yaml:1: expected a list of endpoints at the top level"),
    ("- id: a\n  name: [unclosed\n", "bad.yaml:3: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
])
def test_shape_errors(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(RegistryError) as info:
        load_registry("bad.yaml")
    assert info.value.problems == [message]


@pytest.mark.parametrize("url, problem", [
    ("https://example.org/v2/", None),
    ("http://example.org:8080/open311/v2/", None),
    ("file:///etc/passwd/", "scheme must be http or https; got 'file'"),
    ("https:///v2/", "not a valid URL (no host): 'https:///v2/'"),
    ("https://example.org:99999/v2/", "not a valid URL (Port out of range 0-65535): 'https://example.org:99999/v2/'"),
    ("https://example.org/v2/?x=1", "must not contain a query or fragment (method paths are appended to it)"),
    ("https://exa mple.org/v2/", "not a valid URL (contains white space): 'https://exa mple.org/v2/'"),
])
def test_url_problems(url, problem):
    assert url_problem(url) == problem


def test_the_crawler_refuses_a_bad_registry_and_writes_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--endpoints", "bad.yaml", "--data", "data", "--allow-loopback"],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == EXPECTED + ["bad.yaml: 15 problem(s); nothing was crawled or written"]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()


def test_the_validate_command(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "crawler.registry", str(ROOT / "endpoints.yaml")], capture_output=True, text=True)
    assert ok.returncode == 0 and "endpoints, all valid" in ok.stdout
    (tmp_path / "bad.yaml").write_text(BAD)
    bad = subprocess.run([sys.executable, "-m", "crawler.registry", "bad.yaml"], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and bad.stderr.splitlines()[0] == EXPECTED[0]


POLITE = """\
- id: boston
  name: Boston, MA
  country: USA
  base_url: https://311.boston.gov/open311/v2/
  format: json
  platform: Connected Bits
  timezone: America/New_York
  api_key_env: boston_key
  discovery_url: https://311.boston.gov/open311/discovery.html
  notes: fine
  source: tests
- id: bloomington
  name: Bloomington, IN
  country: USA
  base_url: https://bloomington.in.gov/crm/open311/v2/
  format: json
  platform: uReport
  timezone: America/Indiana/Indianapolis
  api_key_as: bearer
  min_interval_s: -1
  rate_limit: 0
  notes: fine
  source: tests
"""


def test_politeness_and_key_fields_are_checked(tmp_path):
    path = tmp_path / "endpoints.yaml"
    path.write_text(POLITE)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert info.value.problems == [
        f"{path}:8: boston: api_key_env: must be an environment variable name in capitals, digits and underscores, "
        "such as BOSTON_OPEN311_KEY; got 'boston_key'",
        f"{path}:8: boston: api_key_env: needs api_key: required (it answers nothing without one) or raises_limit",
        f"{path}:9: boston: discovery_url: must end with discovery.json or discovery.xml",
        f"{path}:19: bloomington: api_key_as: needs api_key_env (the environment variable that holds the key)",
        f"{path}:20: bloomington: min_interval_s: must be at least 0; got -1",
        f"{path}:21: bloomington: rate_limit: must be at least 1; got 0",
    ]


def test_the_interval_defaults_by_platform_and_can_be_set():
    endpoints = {e.id: e for e in load_registry(ROOT / "endpoints.yaml")}
    assert endpoints["boston"].interval == 6.0  # Connected Bits: documented at 10 requests a minute
    assert endpoints["bloomington"].interval == 1.0
    assert endpoints["boston"].host == "311.boston.gov"
    from dataclasses import replace
    assert replace(endpoints["boston"], min_interval_s=0).interval == 0.0
    # What the endpoint record keeps for app developers: the platform's documented rate limit, unless the entry has one.
    assert endpoints["boston"].access()["rate_limit"] == {"per_minute": 10, "source": "platform"}
    assert replace(endpoints["boston"], rate_limit=25).access()["rate_limit"] == {"per_minute": 25, "source": "registry"}
    assert endpoints["bloomington"].access()["rate_limit"] is None


def test_open_data_blocks_are_checked_to_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text((ROOT / "tests" / "fixtures" / "bad-open-data.yaml").read_text())
    with pytest.raises(RegistryError) as info:
        load_registry("bad.yaml")
    assert info.value.problems == [
        "bad.yaml:10: chicago: open_data.url: a Socrata twin's url is its resource, such as "
        "https://data.cityofchicago.org/resource/v6vf-nfxy.json",
        "bad.yaml:13: chicago: open_data.columns.requested: must be a column name of letters, digits and underscores "
        "(it goes into the dataset's query); got 'created date'",
        "bad.yaml:14: chicago: open_data.columns: unknown key 'colour'",
        "bad.yaml:24: boston: open_data: kind ckan needs resource_id (the DataStore table)",
        "bad.yaml:27: boston: open_data.columns: missing field 'id'",
        "bad.yaml:40: springfield: open_data.resource_id: must be a DataStore id of letters, digits, hyphens and underscores "
        "(it goes into the query); got 'x\" ; DROP TABLE t; --'",
    ]


def test_the_registrys_twins_load_as_typed_blocks():
    twins = {e.id: e.open_data for e in load_registry(ROOT / "endpoints.yaml") if e.open_data}
    assert set(twins) == {"chicago", "san_francisco"}
    assert twins["chicago"].kind == "socrata" and twins["chicago"].columns["id"] == "sr_number"
    assert "Open311 Interface" in twins["chicago"].open311_channels


LIFE = """\
- id: stlouis
  name: St. Louis, MO
  country: USA
  base_url: https://www.stlouis-mo.gov/powernap/stlouis/api.cfm/
  format: json
  platform: in-house
  timezone: America/Chicago
  api_key: required
  docs: not a link
  pages: true
  notes: fine
  source: tests
- id: peoria
  name: Peoria, IL
  country: USA
  base_url: https://ureport.peoriagov.org/crm/open311/v2/
  format: json
  platform: uReport
  timezone: America/Chicago
  limit: 0
  retired:
    since: last year
    successor: ftp://example.org/
  notes: fine
  source: tests
"""


def test_keys_paging_docs_and_retirement_are_checked(tmp_path):
    path = tmp_path / "endpoints.yaml"
    path.write_text(LIFE)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert info.value.problems == [
        f"{path}:8: stlouis: api_key: needs api_key_env (the environment variable that holds the key)",
        f"{path}:9: stlouis: docs: not a valid URL (contains white space): 'not a link'",
        f"{path}:10: stlouis: pages: needs limit (a page of exactly that many is full, and page=2 is asked for)",
        f"{path}:20: peoria: limit: must be at least 1; got 0",
        f"{path}:21: peoria: retired: missing field 'reason'",
        f"{path}:22: peoria: retired.since: must be a year, a month or a day, such as 2018, 2018-06 or 2018-06-30; got 'last year'",
        f"{path}:23: peoria: retired.successor: scheme must be http or https; got 'ftp'",
    ]


def test_the_registry_says_which_keys_are_required_and_which_endpoints_are_retired():
    endpoints = {e.id: e for e in load_registry(ROOT / "endpoints.yaml")}
    keyed = {e.id: e.api_key for e in endpoints.values() if e.api_key_env}
    assert keyed == {"boston": "raises_limit", "san_francisco": "raises_limit", "austin": "raises_limit", "st_louis": "required"}
    assert endpoints["st_louis"].needs_key and not endpoints["boston"].needs_key
    retired = {e.id for e in endpoints.values() if e.retired}
    assert {"grand_rapids", "columbus_in", "peoria", "giessen", "bruehl", "scf_scsu", "scf_aggregate", "siegburg"} <= retired
    assert endpoints["siegburg"].retired.successor == "https://mitmachen.siegburg.de/deficiency_reports"
    assert all(e.limit == 20 and e.pages for e in endpoints.values() if e.platform == "SeeClickFix")
    assert all(e.base_url.startswith("https://") for e in endpoints.values() if not e.retired)
    assert endpoints["zurich"].format == "json"
    assert endpoints["san_francisco"].jurisdiction_id is None and endpoints["zaragoza"].jurisdiction_id is None
    # Every source names a place that holds its claims: nobody cites r311 for an entry r311 does not have.
    import json
    r311 = {e["root"].removeprefix("https://").removeprefix("http://") for e in json.loads(
        (ROOT / "tests" / "fixtures" / "r311-endpoints.json").read_text())}
    for e in endpoints.values():
        if "r311" in e.source and "not in r311" not in (e.retired.reason if e.retired else ""):
            assert e.base_url.split("://", 1)[1] in r311, f"{e.id}: its source cites r311, which does not list it"


def test_a_documented_shorter_history_is_checked_and_loaded(tmp_path):
    import yaml

    from tests.conftest import entry
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump([entry(history_days=120)]))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert info.value.problems == [f"{path}:4: springfield: history_days: must be at most 90; got 120"]
    path.write_text(yaml.safe_dump([entry(history_days=30)]))
    assert load_registry(path)[0].history_days == 30


MAINTAINERS = """\
- id: chicago
  name: Chicago, IL
  country: USA
  base_url: https://example.org/open311/v2/
  format: json
  platform: in-house
  timezone: America/Chicago
  notes: ''
  source: tests
  maintainers: [chi-311, "@octocat", octo--cat, -leading, chi-311, {{long}}]
- id: boston
  name: Boston, MA
  country: USA
  base_url: https://example.org/boston/v2/
  format: json
  platform: in-house
  timezone: America/New_York
  notes: ''
  source: tests
  maintainers: []
- id: denver
  name: Denver, CO
  country: USA
  base_url: https://example.org/denver/v2/
  format: json
  platform: in-house
  timezone: America/Denver
  notes: ''
  source: tests
  maintainers: [denver311, Ana-Lopez]
""".replace("{{long}}", "a" * 40)


def test_maintainers_are_github_user_names_each_named_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MAINTAINERS.replace("chi-311, {", "{").replace("-leading, chi-311,", "-leading,"))
    with pytest.raises(RegistryError) as info:
        load_registry("m.yaml")
    hint = "must be a GitHub user name (letters, digits and single hyphens, at most 39), without the @"
    assert info.value.problems == [
        f"m.yaml:10: chicago: maintainers.1: {hint}; got '@octocat'",
        f"m.yaml:10: chicago: maintainers.2: {hint}; got 'octo--cat'",
        f"m.yaml:10: chicago: maintainers.3: {hint}; got '-leading'",
        f"m.yaml:10: chicago: maintainers.4: {hint}; got '{'a' * 40}'",
        "m.yaml:10: chicago: maintainers.4: must be at most 39 characters",
        "m.yaml:20: boston: maintainers: must hold at least 1; got none (leave the key out instead)",
    ]
    chicago = MAINTAINERS.split("- id: boston")[0]
    (tmp_path / "m.yaml").write_text(chicago.replace(chicago.splitlines()[-1], "  maintainers: [chi-311, Ana-Lopez, chi-311]"))
    with pytest.raises(RegistryError) as info:
        load_registry("m.yaml")
    assert info.value.problems == ["m.yaml:10: chicago: maintainers: must not name the same one twice; got ['chi-311', 'Ana-Lopez', 'chi-311']"]


def test_maintainers_are_kept_on_the_endpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    chicago = MAINTAINERS.split("- id: boston")[0]
    (tmp_path / "m.yaml").write_text(chicago.replace(chicago.splitlines()[-1], "  maintainers: [chi-311, Ana-Lopez]"))
    [chicago] = load_registry("m.yaml")
    assert chicago.maintainers == ("chi-311", "Ana-Lopez")
    assert chicago.to_dict()["maintainers"] == ("chi-311", "Ana-Lopez")
