"""build.py on a small hand-made history with a fixed --now; every figure below was worked out by hand.

alpha's crawls (status by the rules in metrics/status.py):
  2026-09-01 12:00 up · 11-01 12:00 down (timeout) · 11-15 12:00 up · 11-20 00:00 up ·
  11-20 06:00 down (500) · 11-20 11:30 degraded (services took 1500 ms) · 11-20 13:00 after --now, ignored

alpha's accuracy panel (events): A1 open, closed 11-19 10:00 "Case Resolved. Pothole filled ..." (COMPLETED, 4 d 1 h);
A2 closed 4 min after its request, "Work order created" (WORK_ORDER); A3 closed with an empty note and an updated time
before its request (EMPTY; a timestamp fault, so not timed); A4 confirmed gone; A5 "Duplicate of 123" (DUPLICATE, 1 d).
alpha's open-data twin: one day (11-19) of 10 tickets, the panel rows of A1, A2 and A5, and one field audit of A1.
"""

import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, summary_of

HISTORY = ROOT / "tests" / "fixtures" / "history"
GOLDEN = ROOT / "tests" / "golden" / "site"
NOW = "2026-11-20T12:00:00Z"


def build(out: Path, *extra: str, data: Path = HISTORY) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build.py"), "--data", str(data), "--out", str(out), "--now", NOW, *extra],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    result = build(out)
    assert result.returncode == 0, result.stderr
    return out, result


def endpoints(out: Path) -> dict:
    api = json.loads((out / "api" / "endpoints.json").read_text())
    return {e["id"]: e for e in api["endpoints"]}


def test_api_endpoints_json_figures(built):
    out, _ = built
    api = json.loads((out / "api" / "endpoints.json").read_text())
    assert api["generated_at"] == NOW
    alpha = endpoints(out)["alpha"]
    assert alpha["status"] == "degraded"
    assert alpha["last_checked"] == "2026-11-20T11:30:00Z"
    # 24 h: 00:00 up, 06:00 down, 11:30 degraded → 2/3; 7 d adds 11-15 up → 3/4;
    # 30 d adds 11-01 down → 3/5; 90 d adds 09-01 up → 4/6.
    assert alpha["uptime"] == {"24h": 0.6667, "7d": 0.75, "30d": 0.6, "90d": 0.6667, "365d": 0.6667}
    # Successful GET services in 7 days: 200, 100, 1500 ms. p95 = 200 + 0.9 × 1300.
    assert alpha["latency_ms"] == {"p50": 200.0, "p95": 1370.0}
    # Only the 11:30 crawl's (crawler 0.7.0) timed the server apart: 1412 ms to its first byte, less a 12 ms round trip.
    assert alpha["server_ms"] == {"p50": 1400.0, "p95": 1400.0} and alpha["rtt_ms"] == {"p50": 12.0}
    assert endpoints(out)["beta"]["server_ms"] is None and endpoints(out)["beta"]["rtt_ms"] is None
    assert alpha["service_count"] == 7
    # The listings cover an unbroken run from 11-19 00:00 (the 00:00 crawl's 24 h) to the 11:30 crawl; nothing was
    # listed between the 11-15 crawl and then, so those days are not counted as days without requests. In the
    # covered 35.5 hours: A1 (11-19 08:00, listed twice) and A5; not A2 (11-14), A3 (11-13) nor A6 (after now).
    assert alpha["coverage"] == {"requests_since": "2026-11-19T00:00:00Z"}
    assert alpha["requests_per_day"] == round(2 / (35.5 / 24), 2)
    assert alpha["name"] == "Alpha <script>alert(1)</script> & Co"  # the latest registry entry
    assert (alpha["country"], alpha["platform"]) == ("DEU", "Mark-a-Spot")
    # Four closings: too few for any share (30 at least), so every share is null, never 0.
    assert alpha["accuracy"] == {"closed_n": 4, "explained_share": None, "fast_close_share": None, "work_order_share": None,
                                 "reopen_share": None, "stale_open_share": None, "risk": None, "risk_withheld": None,
                                 "closure_classes": {"COMPLETED": 1, "DUPLICATE": 1, "EMPTY": 1, "WORK_ORDER": 1}}
    assert endpoints(out)["beta"]["accuracy"]["closed_n"] == 0
    detail = json.loads((out / "api" / "alpha.json").read_text())["accuracy_detail"]
    assert detail["explained"] == {"value": None, "n": 4, "low": None, "high": None, "reason": "not enough data"}
    assert [b["closed"] for b in detail["time_to_close"]] == [1, 0, 0, 0, 1, 1, 0, 0]  # A2; A5; A1
    assert detail["integrity_kinds"] == {"updated before requested": 1, "updated went backwards": 1}
    assert detail["disappeared"]["n"] == 1  # only A4 was first seen a week before now
    # The twin: 10 tickets on 11-19, 6 Pothole (A1, seen in both, links the type) and 4 of a type the API never shows;
    # 3 came through Open311. Three panel rows and one audit are too few for a share.
    assert alpha["twin"] == {"tickets": 10, "exposure_share": 0.5, "exposed_ticket_share": 0.6, "adoption_share": 0.3,
                             "completeness_share": None, "agreement_share": None, "hidden_outcome_share": None,
                             "audited_fixed_share": None}
    assert endpoints(out)["beta"]["twin"] is None


def test_unknown_is_never_shown_as_up_or_down(built):
    out, _ = built
    for endpoint_id in ("beta", "gamma"):  # beta: only a refused call; gamma: never probed
        e = endpoints(out)[endpoint_id]
        assert e["status"] == "unknown"
        assert e["uptime"] == {"24h": None, "7d": None, "30d": None, "90d": None, "365d": None}
        assert e["latency_ms"] is None and e["service_count"] is None and e["requests_per_day"] is None
    assert endpoints(out)["beta"]["last_checked"] == "2026-11-20T10:00:00Z"
    assert endpoints(out)["gamma"]["last_checked"] is None


def test_a_corrupt_line_is_reported_with_file_and_line_and_skipped(built):
    out, result = built
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {HISTORY}/probes/2026/2026-11-20.jsonl:3: not valid JSON (JSONDecodeError: ")
    assert "1 bad data line(s) skipped" in result.stdout


def test_strings_from_the_data_are_escaped(built):
    out, _ = built
    for page in ("index.html", "endpoints/alpha.html"):
        html = (out / page).read_text()
        assert "<script>alert(1)</script>" not in html
        assert "Alpha &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    page = (out / "endpoints" / "alpha.html").read_text()
    assert "HTTP 500 &lt;b&gt;boom&lt;/b&gt;" in page
    # A closing note: markup dropped, the officer's name and number redacted, the rest escaped.
    assert "Case Resolved. Pothole filled alert(1) . Call Sgt [name] at [phone]" in page
    assert "Miller" not in page and "617-555" not in page
    assert "Info call &lt;b&gt;x&lt;/b&gt;" in page  # a ticket type from the city's dataset


def test_plotly_is_a_local_partial_bundle_named_by_its_content_and_loaded_by_no_script_tag(built):
    """Each page names its one bundle for site.js to fetch when a chart comes into view (no <script> of Plotly's
    blocks the page); the bundles are the ones render/plotly/README.md lists, by hash, under their content's hash."""
    out, _ = built
    readme = (ROOT / "render" / "plotly" / "README.md").read_text()
    for page, kind in (("endpoints/alpha.html", "basic"), ("index.html", "geo")):
        html = (out / page).read_text()
        [name] = set(re.findall(r'data-bundle="([^"]+)"', html))
        bundle = (out / "assets" / name).read_bytes()
        digest = hashlib.sha256(bundle).hexdigest()
        assert name == f"plotly-{kind}.{digest[:10]}.min.js" and f"`{digest}`" in readme
        assert 1_000_000 < len(bundle) < 1_500_000  # a partial bundle, not the full 4.6 MB
        assert "plotly" not in "".join(re.findall(r"<script[^>]*src=[^>]*>", html)) and "cdn" not in html.lower()
        assert re.findall(r"<script[^>]*src=[^>]*>", html) == [f'<script src="{"../" if "/" in page else ""}assets/site.js" defer>']
    # The map's land: the file the README lists, in a folder named by its hash, the one each chart gives Plotly.
    [folder] = set(re.findall(r'data-topojson="([^"]+)"', (out / "index.html").read_text()))
    land = (out / "assets" / folder / "world_110m.json").read_bytes()
    digest = hashlib.sha256(land).hexdigest()
    assert folder == f"topojson.{digest[:10]}/" and f"sha256 `{digest}`" in readme


def test_every_page_says_what_it_is_to_search_engines_and_link_previews(built):
    """A meta description, Open Graph and Twitter card tags on every page; an endpoint's says its status and uptime,
    its name escaped like every string from an endpoint."""
    out, _ = built
    for page in out.rglob("*.html"):
        html = page.read_text()
        tags = dict(re.findall(r'<meta (?:name|property)="((?:description|og:[a-z_]+|twitter:[a-z]+))" content="([^"]*)">', html))
        assert {"description", "og:title", "og:description", "og:type", "og:site_name", "twitter:card", "twitter:title",
                "twitter:description"} <= set(tags), page
        assert 50 <= len(tags["description"]) <= 300 and tags["og:description"] == tags["description"], page
    alpha = (out / "endpoints" / "alpha.html").read_text()
    assert ('<meta name="description" content="Alpha &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co' "'s Open311 API is degraded "
            'at its latest check, up 60.0 % of crawls over 30 days') in alpha


def test_each_endpoint_has_its_social_image_and_the_sharing_tags_link_it_where_the_site_is_published(tmp_path):
    from PIL import Image

    from metrics.compare import uptime_ranks

    out = tmp_path / "site"
    assert build(out, "--site-url", "https://example.github.io/open311-status").returncode == 0
    html = (out / "endpoints" / "alpha.html").read_text()
    assert '<meta property="og:image" content="https://example.github.io/open311-status/social/alpha.png">' in html
    assert '<meta property="og:url" content="https://example.github.io/open311-status/endpoints/alpha.html">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    for endpoint_id in ("alpha", "beta", "gamma"):
        with Image.open(out / "social" / f"{endpoint_id}.png") as image:
            assert (image.format, image.size) == ("PNG", (600, 315))
    index = (out / "index.html").read_text()
    assert "og:image" not in index and '<meta property="og:url" content="https://example.github.io/open311-status/index.html">' in index
    bad = build(tmp_path / "bad", "--site-url", "javascript:alert(1)")
    assert bad.returncode == 2 and "not an http(s) URL of a site: 'javascript:alert(1)'" in bad.stderr
    summaries = [summary_of(i, uptime={"30d": u}) for i, u in (("a", 0.9), ("b", 0.99), ("c", None), ("d", 0.9))]
    assert uptime_ranks(summaries) == {"b": (1, 3), "a": (2, 3), "d": (2, 3)}  # ties share a rank; no figure, no rank


def test_the_site_matches_the_golden_copy(built):
    """Rebuild from the fixture and compare with tests/golden/site (UPDATE_GOLDEN=1 rewrites it)."""
    out, _ = built
    # assets/ holds the vendored files as they are, checked by their hashes in the test of the Plotly bundles
    pages = sorted(p.relative_to(out) for p in out.rglob("*")
                   if p.is_file() and p.suffix in (".html", ".json") and p.relative_to(out).parts[0] != "assets")
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for page in pages:
            (GOLDEN / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / page, GOLDEN / page)
    golden = sorted(p.relative_to(GOLDEN) for p in GOLDEN.rglob("*") if p.is_file())
    assert pages == golden
    import difflib
    for page in pages:
        if not filecmp.cmp(out / page, GOLDEN / page, shallow=False):
            diff = difflib.unified_diff((GOLDEN / page).read_text().splitlines(), (out / page).read_text().splitlines(),
                                        f"golden/{page}", f"built/{page}", lineterm="")
            pytest.fail("\n".join(diff))


def test_json_view_is_the_same_data(built):
    out, _ = built
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--data", str(HISTORY), "--out", "unused", "--now", NOW, "--json"],
                            capture_output=True, text=True, cwd=ROOT)
    data = json.loads(result.stdout)
    assert data["endpoints"] == json.loads((out / "api" / "endpoints.json").read_text())["endpoints"]
    assert data["details"]["alpha"]["failures"][0]["error"] == "HTTP 500 <b>boom</b>"
    # Every figure a page shows is in the value, the ranks and the classifier's scores too: render computes none.
    assert data["uptime_ranks"] == {"alpha": [1, 1]}  # the one watched endpoint with a 30-day uptime
    assert set(data["closure"]) >= {"classes", "macro_f1"} and set(data["risk_weights"]) >= {"work_order_share"}


def test_the_figures_are_one_frozen_typed_value_that_the_json_view_prints(built):
    """metrics.summarize gives a figures.SiteFigures (issue 30): typed, frozen, and as_json of it is what --json prints
    and what api/<id>.json holds, field for field."""
    import dataclasses

    from figures import EndpointFigures, EndpointSummary, SiteFigures, as_json
    from history import load
    from metrics.summary import summarize
    from vocabulary import parse_now

    out, _ = built
    site = summarize(load(HISTORY, parse_now(NOW)), parse_now(NOW))
    assert isinstance(site, SiteFigures) and all(type(e) is EndpointSummary for e in site.endpoints)
    alpha = site.details["alpha"]
    assert isinstance(alpha, EndpointFigures) and alpha.peers is not None and alpha.peers["uptime_30d"]["rank"] == 1  # ranked, alone
    with pytest.raises(dataclasses.FrozenInstanceError):
        alpha.status = "up"  # the point: a figure cannot be changed once computed
    assert as_json(alpha) == json.loads((out / "api" / "alpha.json").read_text())
    assert {f.name for f in dataclasses.fields(EndpointSummary)} == set(json.loads((out / "api" / "endpoints.json").read_text())["endpoints"][0])


def test_build_refuses_to_empty_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = build(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path}: exists, is not empty and was not built by build.py; refusing to overwrite it"
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_an_empty_data_directory_builds_an_empty_site(tmp_path):
    result = build(tmp_path / "site", data=tmp_path / "nothing")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "site" / "api" / "endpoints.json").read_text()) == {"generated_at": NOW, "endpoints": []}


def test_the_output_is_reproducible_for_a_fixed_now(built, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    assert build(again).returncode == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all(filecmp.cmp(out / f, again / f, shallow=False) for f in files)
    # Plotly's two partial bundles, shared by every page, never a copy per page.
    assert sorted(p.relative_to(out).as_posix().split(".")[0] for p in out.rglob("plotly*.js")) == ["assets/plotly-basic", "assets/plotly-geo"]
    assert all("Content-Security-Policy" in p.read_text() for p in out.rglob("*.html"))


def test_the_build_reads_only_the_days_a_figure_can_depend_on(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(HISTORY, data)
    ancient = data / "probes" / "2024" / "2024-01-01.jsonl"  # outside every window, and corrupt
    ancient.parent.mkdir(parents=True)
    ancient.write_text("not json at all\n")
    future = data / "probes" / "2026" / "2026-12-24.jsonl"  # after --now
    future.write_text("not json either\n")
    result = build(tmp_path / "site", data=data)
    assert result.returncode == 0
    assert "2024-01-01" not in result.stderr and "2026-12-24" not in result.stderr
    assert "1 bad data line(s) skipped" in result.stdout  # only the fixture's own bad line


def test_a_page_says_what_its_windows_cover_and_what_each_day_was(built):
    out, _ = built
    alpha = endpoints(out)["alpha"]
    # Watched since its first crawl, 2026-09-01 12:00: 80 days, so the 90- and 365-day uptimes are over those 80.
    assert alpha["uptime_coverage"]["90d"] == {"since": "2026-09-01T12:00:00Z", "until": NOW, "days": 80.0, "span_days": 90.0}
    assert alpha["uptime_coverage"]["30d"]["days"] == 30.0 and endpoints(out)["gamma"]["uptime_coverage"]["30d"] is None
    page = (out / "endpoints" / "alpha.html").read_text()
    assert page.count('66.67&nbsp;% <span class="na">over the 80 days watched</span>') == 2  # 90 d and 365 d, never bare
    assert '<time datetime="2026-11-20T11:30:00Z" title="2026-11-20T11:30:00Z">30 minutes ago</time>' in page
    # Graded by the share up: 11-20 was 2 of 3 crawls up, 11-01 down throughout, 11-15 up, 11-02 not watched.
    days = {day: cls for cls, day in re.findall(r'<span class="day (day-[a-z0-9]+)" title="(\d{4}-\d\d-\d\d):', page)}
    assert (days["2026-11-20"], days["2026-11-01"], days["2026-11-15"], days["2026-11-02"]) == ("day-part", "day-down", "day-up", "day-none")
    assert '<li><span class="swatch day-none"></span>not watched</li>' in page
    index = (out / "index.html").read_text()
    assert '<th scope="col" class="num">Uptime 7 d</th><th scope="col" class="num">Uptime 30 d</th>' in index  # the state-of box's window


def test_an_app_developer_finds_what_to_build_on(built):
    out, _ = built
    alpha = endpoints(out)["alpha"]["build_on"]
    assert alpha == {"formats": ["json"], "key": "raises_limit", "docs": "https://alpha.example.org/docs?a=1&b=<x>",
                     "paging": {"documented": True, "page_size": 100, "largest_page": 3, "seen": "not seen"},
                     "definitions": {"services": 7, "with_definition": 0, "share": 0.0, "calls_answered": None},
                     "rate_limit": {"documented": {"per_minute": 30, "source": "registry"}, "learned": None},
                     "fits": {"json": True, "pages": True, "no_key": True}}
    beta = endpoints(out)["beta"]["build_on"]
    assert beta["docs"] is None  # its record's docs is javascript:, never a link
    assert (beta["key"], beta["fits"]) == ("required", {"json": False, "pages": False, "no_key": False})
    assert endpoints(out)["gamma"]["build_on"]["key"] is None  # a record older than crawler 0.8.0: not known, not "none"
    assert json.loads((out / "api" / "alpha.json").read_text())["build_on"] == alpha
    page = (out / "endpoints" / "alpha.html").read_text()
    assert '<dt>API key</dt><dd>optional: it answers without one, and a key raises the rate limit</dd>' in page
    assert '<dd id="rate-limit">30 requests a minute, documented in the registry.' in page
    assert '<a href="https://alpha.example.org/docs?a=1&amp;b=&lt;x&gt;" rel="nofollow">' in page
    beta_page = (out / "endpoints" / "beta.html").read_text()
    # Neither its docs nor its maintenance window's source (javascript: both, in data/) becomes a link.
    assert 'href="javascript:' not in beta_page and "source: <code>javascript:alert(1)</code>" in beta_page
    index = (out / "index.html").read_text()
    assert ('Cities that take JSON, page, and need no key (1 of 3):\n<a href="endpoints/alpha.html#build-on-it">'
            'Alpha &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</a>.') in index
    assert 'data-json="yes" data-pages="yes" data-nokey="yes"' in index and 'data-json="no" data-pages="no" data-nokey="no"' in index


def test_the_about_pages_recipe_runs_as_written_and_no_page_has_a_placeholder(built):
    """The pandas recipe, as the page prints it, run where the page says (the folder built, as no --site-url was
    given), gives the medians of the calls an app makes: never of the monitor's own backfill or panel."""
    import html as markup
    out, _ = built
    about = (out / "about.html").read_text()
    recipe = markup.unescape(re.search(r"<p>With pandas \(and pyarrow\):</p>\n<pre><code>(.*?)</code></pre>", about, re.S).group(1))
    result = subprocess.run([sys.executable, "-c", recipe], capture_output=True, text=True, cwd=out)
    assert result.returncode == 0, result.stderr
    assert "alpha" in result.stdout and "services" in result.stdout and "backfill" not in result.stdout and "panel" not in result.stdout
    for page in out.rglob("*.html"):
        assert "OWNER" not in page.read_text() and "REPOSITORY" not in page.read_text(), page
    assert "<code>backfill</code></td><td>the monitor&#39;s own: reading older history" in about  # the data dictionary


def test_the_recipes_read_the_published_site_and_every_page_links_the_repository(tmp_path):
    out = tmp_path / "site"
    result = build(out, "--site-url", "https://open311status.github.io/open311-status", "--repository", "https://github.com/open311status/open311-status")
    assert result.returncode == 0, result.stderr
    about = (out / "about.html").read_text()
    assert 'site = "https://open311status.github.io/open311-status/"' in about
    assert "read_json('https://open311status.github.io/open311-status/downloads/manifest.json')" in about
    for page in ("index.html", "endpoints/alpha.html", "about.html"):
        assert '<a href="https://github.com/open311status/open311-status">source and data</a>' in (out / page).read_text()


def test_no_sentence_on_the_site_runs_past_45_words(built):
    """Readers skim: a sentence in a paragraph, a list item or a fact of any page stays short (the methodology page's
    longest was 113 words)."""
    import html as markup
    out, _ = built
    long = []
    for page in sorted(out.rglob("*.html")):
        text = re.sub(r"<(script|style|pre|table|nav)\b[^>]*>.*?</\1>", " ", page.read_text(), flags=re.S)
        for _, block in re.findall(r"<(p|li|dd)\b[^>]*>(.*?)</\1>", text, re.S):
            words = re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", " ", block))).strip()
            long += [(page.name, len(s.split()), s[:80]) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"(])", words) if len(s.split()) > 45]
    assert long == []
