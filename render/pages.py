"""The site's HTML: templates/ rendered with Jinja2 from the computed figures, and written out.

Autoescaped throughout: strings from endpoints are untrusted. Undefined names fail loudly, so a
template never shows an empty hole where a figure should be.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import jinja2
import yaml

from figures import SiteFigures
from records.methods import METHODS, OWN
from records.status import listed
from render import charts, social, svg
from vocabulary import STATUSES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PLOTLY = Path(__file__).resolve().parent / "plotly"  # Plotly's partial bundles (their README says whence)
CITATION = TEMPLATES.parent / "CITATION.cff"  # how to cite the project: the about page shows it


def environment() -> jinja2.Environment:
    """The templates, autoescaped, strict about undefined names."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def write_pages(out: Path, site: SiteFigures, site_url: str | None = None, cache: Path | None = None,
                repository: str | None = None) -> dict[str, int]:
    """index.html, the other top pages and endpoints/<id>.html, with the assets they use and each endpoint's social
    image; returns the league's count of endpoints per status (the retired are listed apart, out of the league).
    site_url, where the site is published, makes the sharing tags' links absolute, as Open Graph needs; cache, the
    build's cache directory, keeps the social images between builds; repository, where the code and data/ are, is
    linked from every page."""
    env = environment()
    env.globals["site_url"] = site_url
    env.globals["repository"] = repository.rstrip("/") if repository else None
    env.globals["static"] = svg.static  # a chart's form before (and without) any script
    env.globals["incident_anchor"] = incident_anchor
    env.globals["strip"] = svg.strip  # where a city sits among its peers, drawn at build time
    env.globals["citation"] = yaml.safe_load(CITATION.read_text(encoding="utf-8")) if CITATION.exists() else None
    bundles = {kind: hashed(PLOTLY / f"plotly-{kind}.min.js", out / "assets") for kind in charts.BUNDLES}  # by name in assets/
    # Plotly asks for the map's land as TOPOJSON_URL + world_110m.json: a folder named by the file's hash, kept for good.
    land = PLOTLY / "world_110m.json"
    topojson = f"topojson.{digest(land)}/"
    (out / "assets" / topojson).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(land, out / "assets" / topojson / land.name)
    watched = site.watched()
    counts = {s: sum(1 for e in watched if e.status == s) for s in STATUSES}
    spread, where = charts.spread_figure(watched), charts.map_figure(watched, site.details)
    write(out / "index.html", env.get_template("index.html").render(
        site=site, root="", statuses=STATUSES, listed=listed(counts), counts=counts, watched=watched,
        retired=[e for e in site.endpoints if e.retired],
        countries=sorted({e.country for e in watched if e.country}),
        platform_names=sorted({e.platform for e in watched if e.platform}),
        spread_figure=spread, map_figure=where, plotly=bundles[charts.bundle(spread, where)], topojson=topojson,
        path="index.html", image=None))
    for name in ("accuracy", "platforms", "methodology", "about"):
        write(out / f"{name}.html", env.get_template(f"{name}.html").render(
            site=site, root="", closure=site.closure, risk_weights=site.risk_weights, methods=METHODS, own_calls=OWN,
            path=f"{name}.html", image=None))
    page = env.get_template("endpoint.html")
    ranks = site.uptime_ranks
    (out / "social").mkdir(parents=True, exist_ok=True)
    cards = social.Cards(cache / "social" if cache else None)
    for endpoint_id, detail in site.details.items():
        image = f"social/{endpoint_id}.png"
        (out / image).write_bytes(cards.card(detail.name, detail.status, detail.uptime["30d"], ranks.get(endpoint_id)))
        figures = {"latency_figure": charts.latency_figure(detail), "requests_figure": charts.requests_figure(detail),
                   "classes_figure": charts.classes_figure(detail), "closing_figure": charts.closing_figure(detail)}
        write(out / "endpoints" / f"{endpoint_id}.html", page.render(
            site=site, root="../", e=detail, plotly=bundles[charts.bundle(*figures.values())], topojson=topojson,
            path=f"endpoints/{endpoint_id}.html", image=image, **figures))
    cards.prune()
    shutil.copytree(TEMPLATES / "assets", out / "assets", dirs_exist_ok=True)
    return counts


def incident_anchor(incident_id: str) -> str:
    """An incident's id (lakeport/down/2026-11-12T14:00:00Z) as the HTML id of its entry on the endpoint's page."""
    return "incident-" + re.sub(r"[^A-Za-z0-9]+", "-", incident_id.split("/", 1)[-1]).strip("-")


def hashed(source: Path, folder: Path) -> str:
    """Copy a file into folder under a name with its content's hash (plotly-geo.3da0a26e92.min.js), so that a browser
    may keep it for good; its name."""
    name = source.name.replace(".min.js", f".{digest(source)}.min.js")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)
    return name


def digest(path: Path) -> str:
    """A file's content hash, as the site's names for files kept for good carry it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def write(path: Path, text: str) -> None:
    """A file of the site, its folders made as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
