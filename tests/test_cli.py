"""The one command, open311-status: each subcommand hands its arguments to its module, and the installed
console script behaves as the long-standing spellings do."""

import contextlib
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import cli
from tests.conftest import ROOT
from tests.test_build import HISTORY, NOW

COMMANDS = ["crawl", "check", "twins", "validate", "incidents", "forms", "audit", "build", "demo", "serve", "archive", "shards", "bench"]


def script() -> str:
    found = shutil.which("open311-status", path=str(Path(sys.executable).parent))
    assert found, "the console script is installed with the project (make test)"
    return found


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse's --help
            code = e.code
    return code, out.getvalue(), err.getvalue()


def test_the_commands_are_listed():
    code, out, _ = run("--help")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[3:3 + len(COMMANDS)]] == COMMANDS
    code, _, err = run("crawll")
    assert code == 2 and err.startswith("open311-status: no command 'crawll'\n\nusage: open311-status COMMAND")
    assert run()[0] == 2


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_module_s_help(command):
    code, out, _ = run(command, "--help")
    assert code == 0 and out.startswith("usage: ") and "--help" in out


def test_the_script_validates_as_the_module_does():
    ours = subprocess.run([script(), "validate", "endpoints.yaml"], capture_output=True, text=True, cwd=ROOT)
    old = subprocess.run([sys.executable, "-m", "crawler.registry", "endpoints.yaml"], capture_output=True, text=True, cwd=ROOT)
    assert ours.returncode == old.returncode == 0 and ours.stdout == old.stdout and "all valid" in ours.stdout


def test_the_script_builds_the_site_python_build_py_builds(tmp_path):
    args = ["--data", str(HISTORY), "--now", NOW]
    ours = subprocess.run([script(), "build", "--out", str(tmp_path / "a"), *args], capture_output=True, text=True, cwd=ROOT)
    old = subprocess.run([sys.executable, "build.py", "--out", str(tmp_path / "b"), *args], capture_output=True, text=True, cwd=ROOT)
    assert ours.returncode == old.returncode == 0
    assert (tmp_path / "a" / "api" / "endpoints.json").read_text() == (tmp_path / "b" / "api" / "endpoints.json").read_text()


def test_serve_serves_a_built_site_on_loopback(tmp_path):
    site = tmp_path / "site"
    assert subprocess.run([script(), "build", "--out", str(site), "--data", str(HISTORY), "--now", NOW], cwd=ROOT,
                          capture_output=True).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([script(), "serve", "--directory", str(site), "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith(f"serving {site}/ on http://127.0.0.1:{port}/")
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/endpoints.json", timeout=2) as answer:
                    assert json.load(answer)["generated_at"] == NOW
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("serve did not answer")
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
    code, _, err = run("serve", "--directory", str(tmp_path / "nothing"))
    assert code == 1 and "no site in" in err
