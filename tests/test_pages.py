"""The built pages in a real headless Chromium (Debian's, driven by Playwright), served over loopback
like GitHub Pages would: no console errors, charts drawn, the league table sorts and filters, the
pages read without JavaScript, and hostile strings from endpoints never run."""

import functools
import shutil
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.test_build import build

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.browser


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@contextmanager
def serving(folder: Path, handler: type[SimpleHTTPRequestHandler] = Quiet):
    """A built site served on loopback, as GitHub Pages would: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    assert BROWSER, "make test installs Debian's chromium"
    out = tmp_path_factory.mktemp("pages") / "site"
    assert build(out).returncode == 0
    with serving(out) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
        yield b
        b.close()


def open_page(browser, url, javascript=True):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"a dialog opened: {d.message}"), d.dismiss()))
    page.goto(url, wait_until="load")
    if javascript:
        page.mouse.wheel(0, 1)  # a visitor's first move: the charts in view may now draw with Plotly
        for target in page.eval_on_selector_all("script.plot", "els => els.map(e => e.dataset.target)"):
            page.locator(f"#{target}").scroll_into_view_if_needed()  # a chart is drawn as it comes into view
            page.wait_for_selector(f"#{target} .main-svg", timeout=20000)
    return page, problems


def names(page):
    return page.eval_on_selector_all("#league tbody tr:not([hidden]) th a", "els => els.map(e => e.textContent)")


def test_the_index_renders_sorts_and_filters(served, browser):
    page, problems = open_page(browser, served + "/index.html")
    assert names(page) == ["Alpha <script>alert(1)</script> & Co", "Beta", "Gamma"]
    assert page.locator("#spread .main-svg").count() >= 1  # the distributions chart was drawn
    assert page.locator("#map .main-svg").count() >= 1  # and the map, with nothing fetched from elsewhere
    page.wait_for_selector("#map .land path", timeout=20000)  # its land, from the site's own topojson
    drawn = page.eval_on_selector_all("#map .land path, #map .countries path, #map .coastlines path",
                                      "els => els.map(e => e.parentNode.getAttribute('class') + ' ' + (e.getAttribute('d') || '').length)")
    assert {d.split()[1] for d in drawn} == {"land", "countries", "coastlines"} and all(int(d.split()[2]) > 1000 for d in drawn)
    dot = page.locator("#map .scattergeo .point").first  # each dot reachable by keyboard, named, its tooltip shown on focus
    assert dot.get_attribute("tabindex") == "0" and dot.get_attribute("aria-label") == "Alpha <script>alert(1)</script> & Co: degraded"
    dot.focus()
    page.wait_for_selector("#map .hoverlayer .hovertext", timeout=5000)
    assert page.locator("#map .hoverlayer .hovertext").text_content().startswith("Alpha <script>alert(1)</script> & Co")
    # Conformance: only Alpha has a score. Whichever way it sorts, a figure not measured never comes above it.
    page.click("#league thead th:nth-child(10) button")
    assert names(page)[0] == "Alpha <script>alert(1)</script> & Co"
    assert page.get_attribute("#league thead th:nth-child(10)", "aria-sort") == "ascending"
    page.click("#league thead th:nth-child(10) button")
    assert names(page)[0] == "Alpha <script>alert(1)</script> & Co"
    assert page.get_attribute("#league thead th:nth-child(10)", "aria-sort") == "descending"
    page.select_option("select[data-filter=platform]", "uReport")
    assert names(page) == ["Beta"]
    page.select_option("select[data-filter=platform]", "")
    page.check("input[data-filter=nokey]")  # an app developer's question: which need no key
    assert names(page) == ["Alpha <script>alert(1)</script> & Co"]
    page.uncheck("input[data-filter=nokey]")
    assert len(names(page)) == 3
    assert problems == []


def shown(page, selector: str) -> str:
    """The text a reader sees at selector once scrolled to it: a table below the fold is laid out, and its text
    rendered, only near the view (content-visibility: auto in style.css)."""
    page.locator(selector).scroll_into_view_if_needed()
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # the layout that follows
    return page.locator(selector).inner_text()


def test_the_endpoint_page_draws_its_charts_and_runs_nothing_hostile(served, browser):
    page, problems = open_page(browser, served + "/endpoints/alpha.html")
    assert page.locator("#latency .main-svg").count() >= 1 and page.locator("#requests .main-svg").count() >= 1
    assert page.locator("#classes .main-svg").count() >= 1 and page.locator("#closing .main-svg").count() >= 1
    notes = shown(page, "table.notes")
    assert "Pothole filled" in notes and "Miller" not in notes  # the closing note, redacted
    assert page.locator("h1").inner_text().startswith("Alpha <script>alert(1)</script> & Co")
    findings = shown(page, "table.findings")
    assert "<img src=x onerror=alert(2)>" in findings and "javascript:alert(3)" in findings  # shown as text
    assert page.locator("table.findings img").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    assert problems == []


def test_plotly_loads_only_when_a_chart_comes_into_view_and_only_once(served, browser):
    """Nothing of Plotly is fetched with the page, not even for a chart in the first view: its static SVG stands there
    until the visitor scrolls or touches the page. Then the page's one bundle is fetched, once, for every chart."""
    context = browser.new_context(viewport={"width": 390, "height": 700})
    page = context.new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url.rsplit("/", 1)[-1]) if "plotly" in r.url else None)
    page.goto(served + "/index.html", wait_until="load")
    page.wait_for_timeout(500)
    assert fetched == [] and page.locator("#map svg.static circle").count() == 1  # the one city placed, drawn at build time
    page.locator("#map").scroll_into_view_if_needed()
    page.wait_for_selector("#map .main-svg", timeout=20000)
    assert page.locator("#map svg.static").count() == 0 and fetched == [fetched[0]] and fetched[0].startswith("plotly-geo.")
    fetched.clear()
    page.goto(served + "/endpoints/alpha.html", wait_until="load")
    page.wait_for_timeout(300)
    assert fetched == [] and page.locator(".main-svg").count() == 0  # the charts are below the first view
    for target in ("latency", "requests", "classes", "closing"):
        page.locator(f"#{target}").scroll_into_view_if_needed()
        page.wait_for_selector(f"#{target} .main-svg", timeout=20000)
    assert len(fetched) == 1 and fetched[0].startswith("plotly-basic.") and fetched[0].endswith(".min.js")
    context.close()


@pytest.mark.parametrize("path", ["/index.html", "/accuracy.html"])
def test_on_a_phone_the_league_scrolls_sideways_and_its_names_stay_in_view(served, browser, path):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.goto(served + path, wait_until="load")
    box = page.locator(".scroll").first
    assert page.evaluate("el => el.scrollWidth > el.clientWidth", box.element_handle())  # wider than the phone
    name, last = page.locator("#league tbody th[scope=row]").first, page.locator("#league tbody tr:has(th a) td").last
    before = (name.bounding_box()["x"], last.bounding_box()["x"])
    page.evaluate("el => { el.scrollLeft = 300; }", box.element_handle())
    after = (name.bounding_box()["x"], last.bounding_box()["x"])
    assert after[0] == before[0] and after[1] < before[1] - 250  # the cells moved; the name did not
    context.close()


def test_the_accuracy_league_sorts_and_says_what_it_does_not_tell(served, browser):
    page, problems = open_page(browser, served + "/accuracy.html")
    assert names(page) == ["Alpha <script>alert(1)</script> & Co", "Beta", "Gamma"]
    first_row = page.locator("#league tbody tr:has(th a)").first.inner_text()
    assert "not enough data" in first_row and "0 %" not in first_row  # four closings: no share, and never a 0
    page.click("#league thead th:nth-child(2) button")  # closed, ascending
    assert names(page)[-1] == "Alpha <script>alert(1)</script> & Co"
    assert "What this does not tell you" in page.locator("aside.limits").inner_text()
    assert problems == []


@pytest.mark.parametrize("path", ["/index.html", "/endpoints/alpha.html", "/accuracy.html", "/platforms.html", "/methodology.html"])
def test_the_pages_read_without_javascript(served, browser, path):
    page, problems = open_page(browser, served + path, javascript=False)
    text = page.locator("main").inner_text()
    assert len(text) > 200 and problems == []
    if path == "/index.html":
        assert len(names(page)) == 3 and page.locator("form.filters").is_hidden()
    if path == "/endpoints/alpha.html":
        assert "p50" in text and "Outages" in text and "2026-11-20T06:00:00Z" in text  # the figures are tables, not only charts
        for chart in ("latency", "requests", "classes", "closing"):  # and each chart has its static form
            assert page.locator(f"#{chart} svg.static").locator("circle, rect, polyline").count() >= 1


def test_the_comparison_comes_first_and_marks_the_city(served, browser):
    """A 311 director's question, how does this city compare, is answered in the first view of a laptop's screen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(served + "/endpoints/alpha.html", wait_until="load")
    box = page.locator("section.peers").bounding_box()
    assert box["y"] + box["height"] <= 900, box
    rows = page.eval_on_selector_all("table.peers tbody tr", "rows => rows.map(r => [r.cells[1].textContent.trim(), r.cells[3].textContent.trim()])")
    assert rows[0] == ["60.00\u00a0%", "1 of 1"]  # alpha's 30-day uptime, alone to have one
    assert page.locator("table.peers svg.strip circle.mine").count() == 4  # marked on each strip it has a figure for
    context.close()


PAGES = ["/index.html", "/endpoints/alpha.html", "/endpoints/beta.html", "/accuracy.html", "/platforms.html", "/methodology.html",
         "/about.html"]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_wider_than_a_phone(served, browser, path):
    """Every table scrolls inside its own box: at 390 px nothing makes the page itself scroll sideways."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.goto(served + path, wait_until="load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


# WCAG's contrast ratio of each text's colour on the background it is drawn on (the first ancestor that paints one).
CONTRAST = """selector => {
  const rgba = text => { const m = text.match(/[0-9.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = el => { for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; }
                         return [255, 255, 255, 1]; };
  return Array.from(document.querySelectorAll(selector)).filter(el => {
      const own = el instanceof SVGElement ? el.textContent
        : Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join("");
      const box = el.getBoundingClientRect();
      return own.trim() && box.width > 0 && box.height > 0;
    }).map(el => {
      const style = getComputedStyle(el);
      const fg = rgba(el instanceof SVGElement ? style.fill : style.color);
      const bg = behind(el.parentElement && el instanceof SVGElement ? el.closest("svg").parentElement : el);
      const mixed = fg.slice(0, 3).map((v, i) => v * fg[3] * Number(style.opacity) + bg[i] * (1 - fg[3] * Number(style.opacity)));
      const [a, b] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
      return [el.tagName + " " + el.textContent.trim().slice(0, 30), Math.round((a + 0.05) / (b + 0.05) * 100) / 100];
    });
}"""
TEXT = ("main p, main li, main td, main th, main dt, main dd, main code, main a, main caption, main h1, main h2, main h3, figcaption, footer, "
        ".main-svg text, svg.static text")


@pytest.mark.parametrize("path", ["/index.html", "/endpoints/alpha.html", "/about.html", "/methodology.html"])
def test_in_dark_mode_every_text_and_chart_reads(served, browser, path):
    """Dark mode: the page's text, the code blocks, the static charts and the charts Plotly draws, each at 4.5:1 at least."""
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    page.goto(served + path, wait_until="load")
    static = page.evaluate(CONTRAST, TEXT)
    page.mouse.wheel(0, 1)
    for target in page.eval_on_selector_all("script.plot", "els => els.map(e => e.dataset.target)"):
        page.locator(f"#{target}").scroll_into_view_if_needed()
        page.wait_for_selector(f"#{target} .main-svg", timeout=20000)
    drawn = page.evaluate(CONTRAST, ".main-svg text")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
    assert len(static) > 10 and (path == "/about.html" or path == "/methodology.html" or len(drawn) > 5)
    low = [(what, ratio) for what, ratio in static + drawn if ratio < 4.5]
    assert low == [], low
    context.close()


def test_static_charts_carry_a_title_axes_and_a_legend_without_javascript(served, browser):
    page, problems = open_page(browser, served + "/endpoints/alpha.html", javascript=False)
    latency = page.locator("#latency svg.static")
    texts = latency.locator("text").all_text_contents()
    assert texts[0] == "Median response time per day"  # its title
    assert "median ms" in texts and "0" in texts  # the y axis: its title and its ticks from 0
    assert "2026-11-20" in texts  # the x axis: the last day
    assert "GET services" in texts and "GET requests" in texts  # the legend: a name per line
    assert latency.locator("line").count() >= 4  # axes and grid lines
    index, _ = open_page(browser, served + "/index.html", javascript=False)
    land = index.locator("#map svg.static path").first.get_attribute("d")
    assert len(land) > 1000 and index.locator("#map svg.static text").all_text_contents()[0] == "Where the cities are"
    assert problems == []
