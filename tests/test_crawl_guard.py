"""The crawl's guards: public addresses only (by name and by socket), and a user agent that names where it runs."""

import pytest
import urllib3
import yaml

from crawler import __version__
from crawler.client import Transport
from crawler.failures import classify_exception
from crawler.guard import RefusedAddress, address_refusal, host_refusal, resolve
from simulator.hostile import Hostile
from tests.conftest import NOW, entry
from tests.test_crawl import run_main


@pytest.mark.parametrize("address, refusal", [
    ("8.8.8.8", None),
    ("2606:4700::1111", None),
    ("127.0.0.1", "refused loopback address 127.0.0.1 (--allow-loopback permits 127.0.0.0/8 and ::1)"),
    ("10.1.2.3", "refused private address 10.1.2.3"),
    ("192.168.1.1", "refused private address 192.168.1.1"),
    ("169.254.169.254", "refused link-local address 169.254.169.254"),
    ("::ffff:127.0.0.1", "refused loopback address 127.0.0.1 (--allow-loopback permits 127.0.0.0/8 and ::1)"),
    ("fe80::1", "refused link-local address fe80::1"),
    ("100.64.0.1", "refused non-public address 100.64.0.1"),
    ("0.0.0.0", "refused private address 0.0.0.0"),
])
def test_address_guard(address, refusal):
    assert address_refusal(address, allow_loopback=False) == refusal



def test_allow_loopback_permits_only_loopback():
    assert address_refusal("127.0.0.9", allow_loopback=True) is None
    assert address_refusal("::1", allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) == "refused private address 10.0.0.1"



def test_an_address_in_a_url_is_checked_as_itself_and_a_name_as_what_it_resolves_to():
    assert resolve("169.254.169.254", 80) == ["169.254.169.254"] and resolve("::1", 443) == ["::1"]
    assert host_refusal("169.254.169.254", 80, allow_loopback=True) == "refused link-local address 169.254.169.254"
    assert "127.0.0.1" in resolve("localhost", 80)  # a name still goes to the resolver
    assert host_refusal("localhost", 80, allow_loopback=False).startswith("refused loopback address")



def test_the_socket_guard_refuses_what_slips_past_the_name_check(fleet):
    """A connection actually opened to a refused peer (DNS that changed its answer) is closed before any byte is sent."""
    transport = Transport()
    transport.guard(allow_loopback=False)
    with pytest.raises(RefusedAddress) as info:
        transport.open(fleet.base_url("springfield") + "services.json", {}, urllib3.Timeout(5))
    transport.close()
    assert classify_exception(info.value) == (
        "refused", "refused loopback address 127.0.0.2 (--allow-loopback permits 127.0.0.0/8 and ::1)")



def test_the_user_agent_names_the_repository_the_crawl_runs_in(tmp_path):
    """On GitHub Actions a fork's crawl says it is the fork calling, so a city can tell who it is."""
    with Hostile("open311", "127.0.2.9") as server:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(base_url=server.base_url, min_interval_s=0)]))
        code, _ = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                           "--allow-loopback", env={"CI": "1", "GITHUB_REPOSITORY": "a-city-fan/open311-status",
                                                    "GITHUB_SERVER_URL": "https://github.com"}, factory=None)
    assert code == 0 and server.seen
    assert {s.headers["user-agent"] for s in server.seen} == {
        f"Open311Status/{__version__} (+https://github.com/a-city-fan/open311-status)"}



@pytest.mark.parametrize("env, url", [
    ({}, "https://github.com/open311-status/open311-status"),
    ({"GITHUB_REPOSITORY": "me/fork"}, "https://github.com/me/fork"),
    ({"GITHUB_REPOSITORY": "me/fork", "GITHUB_SERVER_URL": "https://ghe.example.org"}, "https://ghe.example.org/me/fork"),
    ({"GITHUB_REPOSITORY": "me/fork) evil (x"}, "https://github.com/open311-status/open311-status"),  # not a repository name
])
def test_user_agent(env, url):
    from crawler.client import user_agent

    assert user_agent(env) == f"Open311Status/{__version__} (+{url})"
