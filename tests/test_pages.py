"""The built pages in a real headless Chromium, served over loopback like GitHub Pages would."""

import functools
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_build import build

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.browser


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    assert BROWSER, "make test installs Debian's chromium"
    out = tmp_path_factory.mktemp("pages") / "site"
    assert build(out).returncode == 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
            capture_output=True, text=True, timeout=90,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_index_lists_every_endpoint(served):
    dom = dump_dom(served + "/index.html")
    assert dom.count('<a href="endpoints/') == 3
    assert "Alpha &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in dom
    assert '<span class="status status-degraded">degraded</span>' in dom


def test_the_endpoint_page_draws_its_charts_offline(served):
    dom = dump_dom(served + "/endpoints/alpha.html")
    # Plotly replaced the empty divs with SVG charts: the local asset loaded and ran.
    assert dom.count('class="main-svg"') >= 2
    assert 'id="latency" class="chart js-plotly-plot"' in dom
    assert 'id="requests" class="chart js-plotly-plot"' in dom
    assert "<script>alert(1)</script>" not in dom
