"""Lighthouse 12 for the page budget (issue 18), with its mobile profile (a mid-range phone on slow 4G, its CPU 4
times slower, simulated): the fixture site built and served with gzip as GitHub Pages serves it. Lighthouse is pinned in
tools/lighthouse/ and installed by make test, as Chromium is. Its tests: test_lighthouse.py (light: speed and
accessibility) and test_lighthouse_dark.py (dark: accessibility), two files so that two test workers share the runs."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.test_build import build
from tests.test_pages import BROWSER, serving

LIGHTHOUSE = ROOT / "tools" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
PAGES = ["index.html", "endpoints/alpha.html", "accuracy.html", "platforms.html"]
COMPRESSED = {"text/html", "text/css", "text/javascript", "application/javascript", "application/json", "image/svg+xml"}


class Gzipped(SimpleHTTPRequestHandler):
    """A static file, gzipped when the browser accepts it (as GitHub Pages serves the site)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # SimpleHTTPRequestHandler's: a buffer to copy, or None
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return None
        body, ctype = path.read_bytes(), self.guess_type(str(path))
        self.send_response(200)
        if "gzip" in self.headers.get("Accept-Encoding", "") and ctype.split(";")[0] in COMPRESSED:
            body = gzip.compress(body, 6)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = tmp_path_factory.mktemp("budget") / "site"
    assert build(out).returncode == 0
    with serving(out, Gzipped) as url:
        yield url


def lighthouse(url: str, scheme: str = "light") -> dict:
    """Lighthouse's report of one page, mobile profile (its default): performance and accessibility in light mode; in
    dark mode (Chromium's --force-dark-mode, prefers-color-scheme: dark) accessibility and the page's final screenshot,
    as the colours are all that differ. Never the full-page screenshot, which nothing here reads (1.6 s a run)."""
    assert LIGHTHOUSE.exists() and BROWSER, "make test installs Lighthouse (tools/lighthouse) and Debian's chromium"
    only = ["--only-categories=performance,accessibility"] if scheme == "light" else \
        ["--only-categories=accessibility", "--only-audits=final-screenshot"]
    result = subprocess.run(
        [str(LIGHTHOUSE), url, "--quiet", "--output=json", "--output-path=stdout", *only, "--disable-full-page-screenshot",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu" + (" --force-dark-mode" if scheme == "dark" else "")],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROME_PATH": BROWSER})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def speed(report: dict) -> tuple[int, float]:
    """The two figures that vary from run to run: the performance score and the total blocking time (ms)."""
    return round(report["categories"]["performance"]["score"] * 100), report["audits"]["total-blocking-time"]["numericValue"]


def within_budget(figures: tuple[int, float]) -> bool:
    return figures[0] >= 95 and figures[1] <= 200


def accessible(report: dict, scheme: str) -> dict:
    """The audits of a report whose page showed its scheme's paper and scored 100 on accessibility (else the test fails,
    naming the failed audits)."""
    shot = report["audits"]["final-screenshot"]["details"]["data"]  # the page as Lighthouse saw it: dark paper in dark mode
    corner = Image.open(io.BytesIO(base64.b64decode(shot.split(",", 1)[1]))).convert("RGB").getpixel((2, 2))
    assert (sum(corner) < 100) == (scheme == "dark"), corner
    audits = report["audits"]
    failed = [audit["id"] for audit in audits.values() if audit.get("scoreDisplayMode") == "binary" and audit.get("score") == 0]
    assert round(report["categories"]["accessibility"]["score"] * 100) == 100, failed
    return audits
