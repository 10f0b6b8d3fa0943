import re

from crawler.__main__ import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_quickstart_has_exactly_the_two_commands():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", quickstart, re.S)
    assert blocks == ["make demo\nmake test\n"]


def test_every_crawler_option_is_documented():
    from check import build_parser as check_parser

    for action in build_parser()._actions + check_parser()._actions:
        for option in action.option_strings:
            if option in ("-h", "--help", "--version"):
                continue
            assert option in README, option
            assert action.help, option


def test_every_registry_field_is_in_the_readme_example():
    import json
    fields = json.loads((ROOT / "endpoints.schema.json").read_text())["items"]["properties"]
    example = README.split("## Add an endpoint", 1)[1]
    for field in fields:
        assert f"  {field}:" in example or f"- {field}:" in example, field


def test_every_record_field_is_in_the_data_dictionary():
    import json
    dictionary = (ROOT / "data" / "README.md").read_text()
    for name in ("probe", "ticket", "event", "service", "endpoint", "crawl", "twin_day", "twin_row", "audit", "incident"):
        schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
        for field in schema["properties"]:
            assert f"`{field}`" in dictionary, (name, field)


def test_every_outcome_class_is_documented():
    from vocabulary import OUTCOMES
    dictionary = (ROOT / "data" / "README.md").read_text()
    schema = (ROOT / "schemas" / "probe.schema.json").read_text()
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in dictionary and f'"{outcome}"' in schema, outcome


def test_every_command_of_the_one_command_is_in_the_readme():
    import cli

    for name in cli.COMMANDS:
        assert f"`open311-status {name}" in README, name
