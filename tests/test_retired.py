"""Retired endpoints and endpoints that need a key, from the crawl to the site: real crawls of loopback
servers through the crawler's command line, then build.py on what they wrote."""

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from datetime import timedelta
from html.parser import HTMLParser

import yaml

from crawler.__main__ import main
from crawler.plan import spread
from simulator.hostile import Hostile
from tests.conftest import NOW, ROOT, entry, fast_client
from vocabulary import CRAWLS_PER_DAY

DAY = NOW.replace(hour=0, minute=7)


def slot(endpoint_id):
    return DAY + timedelta(minutes=30 * (spread(endpoint_id) % CRAWLS_PER_DAY))


class Rows(HTMLParser):
    """The first cell's text of every row, per table class."""

    def __init__(self):
        super().__init__()
        self.tables, self.current, self.cell, self.depth = {}, None, None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = dict(attrs).get("class")
            self.tables.setdefault(self.current, [])
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("th", "td") and self.current and self.tables[self.current]:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self.cell is not None:
            self.tables[self.current][-1].append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_site_lists_the_retired_apart_and_says_who_needs_a_key(tmp_path):
    with Hostile("open311", "127.0.9.1") as live, Hostile("open311", "127.0.9.2") as back, \
            Hostile("unavailable", "127.0.9.3") as gone, Hostile("open311", "127.0.9.4") as keyed:
        registry = [
            entry(id="springfield", name="Springfield", base_url=live.base_url, min_interval_s=0),
            entry(id="peoria", name="Peoria, IL", base_url=back.base_url, min_interval_s=0,
                  retired={"since": "2016", "reason": "not listed anywhere since 2016"}),
            entry(id="siegburg", name="Siegburg", base_url=gone.base_url, min_interval_s=0,
                  retired={"since": "2024", "reason": "switched to <another> system",
                           "successor": "https://mitmachen.siegburg.de/deficiency_reports"}),
            entry(id="st_louis", name="St. Louis, MO", base_url=keyed.base_url, min_interval_s=0,
                  api_key_env="ST_LOUIS_KEY", api_key="required"),
        ]
        (tmp_path / "endpoints.yaml").write_text(yaml.safe_dump(registry))
        for moment in sorted({slot("peoria"), slot("siegburg")}):
            with redirect_stdout(io.StringIO()):
                code = main(["--endpoints", str(tmp_path / "endpoints.yaml"), "--data", str(tmp_path / "data"),
                             "--now", moment.isoformat(), "--allow-loopback"], env={"CI": "1"}, client_factory=fast_client)
            assert code == 0
    assert keyed.seen == [] and len(back.seen) == 2  # a service list and a first page, once
    now = max(slot("peoria"), slot("siegburg")) + timedelta(minutes=10)
    out = tmp_path / "site"
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--data", str(tmp_path / "data"), "--out", str(out),
                             "--now", now.isoformat()], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"built {out}: 2 endpoints, 1 up, 0 degraded, 0 down, 1 unknown (and 2 retired);")

    api = {e["id"]: e for e in json.loads((out / "api" / "endpoints.json").read_text())["endpoints"]}
    assert api["st_louis"]["status"] == "unknown" and api["st_louis"]["needs_key"] is True
    assert api["springfield"]["needs_key"] is False and api["springfield"]["retired"] is None
    assert api["siegburg"]["retired"] == {"since": "2024", "reason": "switched to <another> system",
                                          "successor": "https://mitmachen.siegburg.de/deficiency_reports"}
    assert (api["peoria"]["status"], api["siegburg"]["status"]) == ("up", "down")

    index = (out / "index.html").read_text()
    rows = Rows()
    rows.feed(index)
    assert [r[0] for r in rows.tables["league"][1:]] == ["Springfield", "St. Louis, MO"]
    assert rows.tables["league"][2][3] == "unknown needs a key"
    retired = {r[0]: r for r in rows.tables["retired"][1:]}
    assert retired["Peoria, IL"][1:4] == ["2016", "not listed anywhere since 2016", "–"]
    assert retired["Peoria, IL"][4].startswith("up answered again")
    assert retired["Siegburg"][2:4] == ["switched to <another> system", "https://mitmachen.siegburg.de/deficiency_reports"]
    assert "answered again" not in retired["Siegburg"][4]
    assert "switched to &lt;another&gt; system" in index and 'href="https://mitmachen' not in index  # text, never a link
    page = (out / "endpoints" / "peoria.html").read_text()
    assert "Retired since 2016: not listed anywhere since 2016." in page and "<strong>it answered again</strong>" in page
    assert "A retired endpoint is compared with nobody." in page
    assert "Needs a key: this endpoint answers nothing without an API key" in (out / "endpoints" / "st_louis.html").read_text()
    accuracy = Rows()
    accuracy.feed((out / "accuracy.html").read_text())
    assert [r[0] for r in accuracy.tables["league"][1:] if len(r) > 1] == ["Springfield", "St. Louis, MO"]
