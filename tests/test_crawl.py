"""Whole crawls: the contract command line, concurrency across hosts, and what lands in data/."""

import io
import os
import subprocess
import sys
import time
from contextlib import redirect_stdout
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from crawler.__main__ import main
from crawler.crawl import crawl, scheduled_slot
from registry import load_registry
from simulator.hostile import Hostile
from tests.conftest import FAST, NOW, ROOT, entry, fast_client, read_lines, record_validator, tries


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"}
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True, env=env, timeout=120)


def by_endpoint(records):
    out = {}
    for r in records:
        out.setdefault(r["endpoint"], []).append(r)
    return out


def run_main(*args, env=None, factory=fast_client):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args), env=env or {"CI": "1"}, client_factory=factory)
    return code, out.getvalue()


def test_a_crawl_of_loopback_servers_through_the_real_cli(fleet_registry, tmp_path):
    """The contract command line, in a subprocess, on the two healthy cities (the others cost pauses)."""
    data = tmp_path / "data"
    result = run_cli("--endpoints", str(fleet_registry), "--data", str(data), "--now", NOW.isoformat(), "--allow-loopback",
                     "--only", "springfield", "shelbyville")
    assert result.returncode == 0, result.stderr
    probes = by_endpoint(read_lines(data, "probes"))
    assert {e: [(p["method"], p["outcome"]) for p in ps][:3] for e, ps in probes.items()} == {
        "springfield": [("services", "ok"), ("requests", "ok"), ("request", "ok")],
        "shelbyville": [("services", "ok"), ("requests", "ok"), ("request", "ok")],
    }
    spring = probes["springfield"]
    assert spring[0]["items"] == 5 and spring[0]["http_status"] == 200 and spring[0]["format"] == "json"
    assert probes["shelbyville"][0]["format"] == "xml" and probes["shelbyville"][0]["items"] == 5
    assert all(p["crawl"] == "2026-11-20T12:00:00Z" and p["probed_at"] >= p["crawl"] for ps in probes.values() for p in ps)
    for kind in ("probes", "tickets", "endpoints", "crawls"):
        validator = record_validator(kind)
        for record in read_lines(data, kind):
            validator.validate(record)
    tickets = read_lines(data, "tickets")
    # The day's listing, and the backfill's older windows (each a day, going back from the listing's start).
    listed = sum(p["items"] for p in spring if p["method"] in ("requests", "backfill"))
    assert sum(t["endpoint"] == "springfield" for t in tickets) == listed > 0
    windows = [p["target"] for p in spring if p["method"] == "backfill"]
    assert windows[0] == "2026-11-18T12:00:00Z/2026-11-19T12:00:00Z" and len(windows) >= 1
    first = min(w.split("/")[0] for w in windows)
    assert all(first <= t["requested"] < "2026-11-20T12:00:00Z" for t in tickets)
    [crawl_line] = read_lines(data, "crawls")
    assert crawl_line["scheduled"] == "2026-11-20T11:37:00Z" and crawl_line["endpoints"] == 2
    assert crawl_line["calls"] == sum(len(ps) for ps in probes.values())
    assert "springfield: up: services ok" in result.stdout
    assert "(due 2026-11-20T11:37:00Z): 2 endpoints: 2 up, 0 degraded, 0 down, 0 unknown;" in result.stdout
    assert result.stderr == ""  # CI=1: no progress bar in the log


def test_a_second_crawl_appends_and_stores_only_changed_tickets(fleet, fleet_registry, tmp_path):
    data = tmp_path / "data"
    args = ["--endpoints", str(fleet_registry), "--data", str(data), "--allow-loopback", "--only", "springfield"]
    assert run_main(*args, "--now", NOW.isoformat())[0] == 0
    first_tickets = read_lines(data, "tickets")
    first_probes = len(read_lines(data, "probes"))
    before = {p: p.read_bytes() for p in data.rglob("*.jsonl")}
    later = NOW.replace(minute=30)
    fleet.clock.set(later)
    assert run_main(*args, "--now", later.isoformat())[0] == 0
    for path, old in before.items():
        assert path.read_bytes().startswith(old)  # history is never rewritten
    assert len(read_lines(data, "probes")) > first_probes
    assert len(read_lines(data, "endpoints")) == 1  # the registry entry did not change
    assert [c["crawl"] for c in read_lines(data, "crawls")] == ["2026-11-20T12:00:00Z", "2026-11-20T12:30:00Z"]
    new = read_lines(data, "tickets")[len(first_tickets):]
    seen = {(t["id"], t["status"], t["updated"]) for t in first_tickets}
    assert all((t["id"], t["status"], t["updated"]) not in seen for t in new)


def test_loopback_is_refused_without_the_flag_and_that_is_data_not_an_error(fleet_registry, tmp_path):
    data = tmp_path / "data"
    code, out = run_main("--endpoints", str(fleet_registry), "--data", str(data), "--now", NOW.isoformat(),
                         factory=lambda interval, allow_loopback, host: fast_client(interval, allow_loopback))
    assert code == 0
    probes = read_lines(data, "probes")
    assert {p["outcome"] for p in probes} == {"refused"}
    assert len(probes) == 4  # one each: a refusal is not retried
    assert probes[0]["error"] == "refused loopback address 127.0.0.2 (--allow-loopback permits 127.0.0.0/8 and ::1)"
    assert probes[0]["http_status"] is None and probes[0]["elapsed_ms"] is None
    assert "4 endpoints: 0 up, 0 degraded, 0 down, 4 unknown;" in out


def test_unknown_only_id_is_a_usage_error(fleet_registry, tmp_path):
    result = run_cli("--endpoints", str(fleet_registry), "--data", str(tmp_path / "d"), "--only", "atlantis")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{fleet_registry}: no endpoint with id 'atlantis'; nothing was crawled"
    assert not (tmp_path / "d").exists()


HOSTILE = ["hang", "reset", "unavailable", "html", "truncated", "cut_off", "xml_bomb", "gzip_bomb", "huge",
           "rate_limited", "redirect_loop", "drip", "drip_headers", "errors_200", "tls"]


def test_a_crawl_with_every_hostile_server_takes_as_long_as_the_slowest(fleet, tmp_path):
    """Fifteen hostile hosts beside healthy ones: each is classified, the healthy are untouched, and
    the crawl lasts about as long as its slowest host (a hanging server costs two call budgets), not their sum."""
    servers = [Hostile(b, f"127.0.1.{n + 1}") for n, b in enumerate(HOSTILE)]
    for s in servers:
        s.__enter__()
    try:
        entries = [entry(id=b, base_url=s.base_url, min_interval_s=0) for b, s in zip(HOSTILE, servers)]
        entries += [entry(id="springfield", base_url=fleet.base_url("springfield"), min_interval_s=0)]
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump(entries))
        # The slowest chain: two attempts that each use the whole call budget, plus the pause between. On a CPU shared
        # with other test workers a crawl only ever takes longer, so a miss is crawled again (tries): a crawl that waits
        # on hosts in turn misses every try.
        slowest = 2 * FAST.call_s + FAST.retry_pause_s

        def timed_crawl() -> tuple[float, int, str, Path]:
            data = tmp_path / f"data{len(list(tmp_path.glob('data*')))}"
            started = time.monotonic()
            code, out = run_main("--endpoints", str(path), "--data", str(data), "--now", NOW.isoformat(), "--allow-loopback")
            return time.monotonic() - started, code, out, data

        crawls = tries(timed_crawl, lambda c: c[0] < slowest * 1.5 + 1.0)
    finally:
        for s in servers:
            s.__exit__(None, None, None)
    assert [code for _, code, _, _ in crawls] == [0] * len(crawls)
    took, _, out, data = crawls[-1]
    probes = by_endpoint(read_lines(data, "probes"))
    first = {e: ps[0]["outcome"] for e, ps in probes.items()}
    assert first == {
        "hang": "timeout", "reset": "connect", "unavailable": "http_5xx", "html": "not_open311", "truncated": "parse",
        "cut_off": "connect", "xml_bomb": "parse", "gzip_bomb": "too_large", "huge": "too_large",
        "rate_limited": "rate_limited", "redirect_loop": "not_open311", "drip": "timeout", "drip_headers": "timeout",
        "errors_200": "schema", "tls": "tls", "springfield": "ok",
    }
    assert "springfield: up:" in out and "hang: down:" in out and "rate_limited: degraded:" in out
    assert took < slowest * 1.5 + 1.0, f"{[round(c[0], 1) for c in crawls]} s for a slowest chain of {slowest:.1f} s"


def test_endpoints_on_one_host_take_turns(tmp_path):
    """Two registry entries on one host share its interval and never open two connections at once."""
    with Hostile("open311", "127.0.2.1") as server:
        entries = [entry(id=f"org_{n}", base_url=server.base_url + f"org{n}/", min_interval_s=0.2) for n in (1, 2)]
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump(entries))
        code, _ = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                           "--allow-loopback")
    assert code == 0
    assert server.most_connections == 1
    gaps = [b.at - a.at for a, b in zip(server.seen, server.seen[1:])]
    # Paced by when each call starts; the host sees each arrive a little after, and on a loaded machine one arrives
    # late and the next gap looks short (as in test_probe): over any two gaps the host sees two intervals. Unpaced,
    # the gaps would be a few milliseconds.
    assert len(gaps) >= 3 and min(gaps) >= 0.1 and min(a + b for a, b in zip(gaps, gaps[1:])) >= 2 * 0.19, gaps


def test_a_key_from_the_environment_never_reaches_data_or_the_log(tmp_path, capsys):
    with Hostile("echo_404", "127.0.2.2") as server:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(base_url=server.base_url, min_interval_s=0, api_key_env="SPRINGFIELD_KEY",
                                               api_key="raises_limit")]))
        code, out = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                             "--allow-loopback", env={"CI": "1", "SPRINGFIELD_KEY": "s3cret-KEY"})
    assert code == 0
    assert server.seen[0].query["api_key"] == "s3cret-KEY"
    written = "".join(p.read_text() for p in (tmp_path / "data").rglob("*.jsonl"))
    assert "[key]" in written
    assert "s3cret" not in written + out + capsys.readouterr().err


def test_an_unset_key_is_said_not_hidden(tmp_path):
    with Hostile("open311", "127.0.2.3") as server:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(base_url=server.base_url, min_interval_s=0, api_key_env="SPRINGFIELD_KEY",
                                               api_key="raises_limit")]))
        code, out = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                             "--allow-loopback")
    assert code == 0 and "[SPRINGFIELD_KEY is not set: crawled without a key]" in out
    assert all("api_key" not in s.query for s in server.seen)


@pytest.mark.parametrize("start, slot", [
    ("2026-11-20T12:07:00Z", "2026-11-20T12:07:00Z"),
    ("2026-11-20T12:24:43Z", "2026-11-20T12:07:00Z"),  # GitHub starts scheduled runs late
    ("2026-11-20T12:37:00Z", "2026-11-20T12:37:00Z"),
    ("2026-11-20T12:03:00Z", "2026-11-20T11:37:00Z"),  # the :37 run, very late
])
def test_the_scheduled_slot(start, slot):
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    assert scheduled_slot(moment).isoformat().replace("+00:00", "Z") == slot


def test_scheduled_can_be_given(fleet_registry, tmp_path):
    code, _ = run_main("--endpoints", str(fleet_registry), "--data", str(tmp_path / "data"), "--now", "2026-11-20T12:41:00Z",
                       "--scheduled", "2026-11-20T12:00:00Z", "--only", "springfield", "--allow-loopback")
    assert code == 0
    [line] = read_lines(tmp_path / "data", "crawls")
    assert (line["crawl"], line["scheduled"]) == ("2026-11-20T12:41:00Z", "2026-11-20T12:00:00Z")


def test_a_bug_of_ours_is_reported_after_the_others_are_written(fleet_registry, tmp_path, monkeypatch, capsys):
    import crawler.crawl as crawl_module

    real = crawl_module.probe_endpoint

    def buggy(endpoint, *a, **kw):
        if endpoint.id == "shelbyville":
            raise ZeroDivisionError("a bug")
        return real(endpoint, *a, **kw)

    monkeypatch.setattr(crawl_module, "probe_endpoint", buggy)
    code, out = run_main("--endpoints", str(fleet_registry), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                         "--only", "springfield", "shelbyville", "--allow-loopback")
    assert code == 1
    assert "shelbyville: BUG (see below)" in out and "springfield: up:" in out
    assert "ZeroDivisionError: a bug" in capsys.readouterr().err
    assert {p["endpoint"] for p in read_lines(tmp_path / "data", "probes")} == {"springfield"}


def test_crawl_records_when_it_finished(fleet, tmp_path):
    endpoints = load_registry_from(tmp_path, fleet)
    report = crawl(endpoints, tmp_path / "data", NOW, fast_client, env={})
    [line] = read_lines(tmp_path / "data", "crawls")
    assert line["finished"] >= line["crawl"] == report.crawl
    assert line["bytes"] == sum(r.bytes for r in report.results.values()) > 0


def load_registry_from(tmp_path, fleet):
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump([entry(id="springfield", base_url=fleet.base_url("springfield"), min_interval_s=0)]))
    return load_registry(path)


def test_now_defaults_to_the_clock(fleet_registry, tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--endpoints", str(fleet_registry), "--data", str(tmp_path / "data"), "--only", "springfield",
                     "--allow-loopback"], clock=lambda: datetime(2026, 11, 20, 12, 5, tzinfo=timezone.utc),
                    env={"CI": "1"}, client_factory=fast_client)
    assert code == 0
    assert read_lines(tmp_path / "data", "crawls")[0]["crawl"] == "2026-11-20T12:05:00Z"


def test_a_progress_bar_on_a_terminal_and_none_in_ci(fleet_registry, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    def crawl_with_stderr_on_a_terminal(env):
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new pty is 0 columns wide
        args = ["--endpoints", str(fleet_registry), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                "--allow-loopback", "--only", "springfield"]
        result = subprocess.run([sys.executable, "-m", "crawler", *args], stdout=subprocess.PIPE, stderr=follower,
                                env=env, timeout=120)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        return result.returncode, seen.decode("utf-8", "replace")

    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    code, terminal = crawl_with_stderr_on_a_terminal(env)
    assert code == 0 and "crawl:" in terminal and "0/1" in terminal  # tqdm's bar, drawn on the terminal
    code, terminal = crawl_with_stderr_on_a_terminal(env | {"CI": "true"})
    assert code == 0 and terminal == ""


def test_a_required_key_that_is_not_set_makes_needs_a_key_not_down(tmp_path):
    """St. Louis answers nothing without a key. Without the secret it is not called at all: its crawl is
    unknown ("needs a key"), never down; an endpoint whose key only raises a limit is crawled without one."""
    with Hostile("open311", "127.0.2.10") as needs, Hostile("open311", "127.0.2.11") as raises:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([
            entry(id="st_louis", base_url=needs.base_url, min_interval_s=0, api_key_env="ST_LOUIS_KEY", api_key="required"),
            entry(id="boston", base_url=raises.base_url, min_interval_s=0, api_key_env="BOSTON_KEY", api_key="raises_limit"),
        ]))
        code, out = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                             "--allow-loopback")
    assert code == 0 and needs.seen == [] and raises.seen
    [record] = [p for p in read_lines(tmp_path / "data", "probes") if p["endpoint"] == "st_louis"]
    assert (record["method"], record["outcome"], record["http_status"], record["bytes"]) == ("services", "no_key", None, 0)
    assert "st_louis: unknown: services no_key [needs a key: ST_LOUIS_KEY is not set, and the endpoint requires one; not called]" in out
    assert "boston: up:" in out and "[BOSTON_KEY is not set: crawled without a key]" in out
    assert ": 2 endpoints: 1 up, 0 degraded, 0 down, 1 unknown; " in out
    validator = record_validator("probes")
    validator.validate(record)


def test_a_retired_endpoint_is_checked_once_a_day(tmp_path):
    from crawler.crawl import due
    from crawler.plan import spread
    from registry import Endpoint, Retired
    from vocabulary import CRAWLS_PER_DAY

    retired = Endpoint(**entry(id="peoria", retired=Retired("2016", "not listed anywhere since")))
    live = Endpoint(**entry(id="bloomington"))
    day = NOW.replace(hour=0, minute=7)
    slots = [day + timedelta(minutes=30 * n) for n in range(CRAWLS_PER_DAY)]
    assert sum(due(retired, moment) for moment in slots) == 1 and all(due(live, moment) for moment in slots)
    [when] = [moment for moment in slots if due(retired, moment)]
    assert when == day + timedelta(minutes=30 * (spread("peoria") % CRAWLS_PER_DAY))
    with Hostile("open311", "127.0.2.12") as server:
        path = tmp_path / "endpoints.yaml"
        path.write_text(yaml.safe_dump([entry(id="peoria", base_url=server.base_url, min_interval_s=0,
                                              retired={"since": "2016", "reason": "not listed anywhere since"})]))
        outs = []
        for moment in (when - timedelta(minutes=30), when):
            code, out = run_main("--endpoints", str(path), "--data", str(tmp_path / "data"), "--now", moment.isoformat(),
                                 "--allow-loopback")
            assert code == 0
            outs.append(out)
    assert "peoria" not in outs[0] and "0 unknown, 1 retired not due (checked once a day);" in outs[0]
    assert outs[1].startswith("peoria: up: services ok")
    assert {p["crawl"] for p in read_lines(tmp_path / "data", "probes")} == {when.isoformat().replace("+00:00", "Z")}
    assert [(s.path.rsplit("/", 1)[-1]) for s in server.seen] == ["services.json", "requests.json"]


def test_merged_intervals_cover_the_same_time():
    from records.coverage import covered_since, covered_through, merged
    raw = [("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"), ("2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z"),
           ("2026-11-02T12:00:00Z", "2026-11-03T00:00:00Z"), ("2026-11-05T00:00:00Z", "2026-11-06T00:00:00Z"),
           ("2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z")]
    assert merged(raw) == [("2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z"), ("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"),
                           ("2026-11-05T00:00:00Z", "2026-11-06T00:00:00Z")]
    for cut in range(len(raw)):
        part = raw[:cut + 1]
        assert (covered_since(merged(part)), covered_through(merged(part))) == (covered_since(part), covered_through(part))
