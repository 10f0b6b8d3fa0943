"""python build.py --data DIR --out DIR [--now ISO8601] [--json]

Renders the static site from the records in DIR. The map of the whole build is main():
data/ → records → metrics (pure) → charts → templates → OUT. Every window ends at --now.
A corrupt line in DIR is reported as FILE:LINE and skipped; it never stops the build.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly

import daily_cache
from metrics import accuracy, closure
from records.status import STATUSES
from metrics.summary import summarize
from records import frames, parse_moment
from render import charts, products
from records.read import Loaded, read_data

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SAFE_ID = re.compile(r"^[a-z][a-z0-9_]{1,47}$")  # the registry's id pattern: safe as a file name
MARKER = ".open311-status-site"  # only a directory we built is ever emptied


def parse_now(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python build.py", description="Render the Open311 Status site from data/.")
    p.add_argument("--data", required=True, metavar="DIR", help="the records (data/)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the site is written (site/)")
    p.add_argument("--now", type=parse_now, metavar="ISO8601", help="the moment every window ends (default: now)")
    p.add_argument("--json", action="store_true", help="print the computed figures as JSON instead of writing the site")
    p.add_argument("--cache", metavar="DIR", help="keep daily aggregates of older days here between builds (read raw: the last 31 days)")
    args = p.parse_args(argv)
    now = args.now or datetime.now(timezone.utc)
    out = Path(args.out)
    if not args.json and (problem := out_problem(out)):
        print(problem, file=sys.stderr)
        return 2

    history = daily_cache.load(args.data, now, LOOKBACK["probes"], args.cache)
    loaded = read_needed(args.data, now)
    loaded.problems[:0] = history.problems
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    staged = out.parent / f".{out.name}.sqlite"  # the SQLite file is written meanwhile, by a second process
    if not args.json:
        out.parent.mkdir(parents=True, exist_ok=True)
        published = history.probes[history.probes["probed_at"] >= pd.Timestamp((now - SQLITE_PROBES).date(), tz="UTC")]
        sqlite = _in_child(frames.write_sqlite, loaded.records, staged, published)
    site = summarize(loaded.records, now, history)
    for bad in [i for i in site["details"] if not SAFE_ID.match(i)]:
        print(f"warning: endpoint id {bad!r} in {args.data} is not a valid id; left out of the site", file=sys.stderr)
        site["details"].pop(bad)
        site["endpoints"] = [e for e in site["endpoints"] if e["id"] != bad]
    if args.json:
        json.dump(site, sys.stdout, indent=2, sort_keys=True)
        print()
        return 0

    empty_out(out)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    watched = [e for e in site["endpoints"] if not e["retired"]]  # the retired are listed apart, out of the league
    counts = {s: sum(1 for e in watched if e["status"] == s) for s in STATUSES}
    countries = sorted({e["country"] for e in watched if e["country"]})
    platform_names = sorted({e["platform"] for e in watched if e["platform"]})
    write(out / "index.html", env.get_template("index.html").render(
        site=site, root="", statuses=STATUSES, counts=counts, countries=countries, platform_names=platform_names,
        watched=watched, retired=[e for e in site["endpoints"] if e["retired"]],
        spread_figure=charts.spread_figure(watched), map_figure=charts.map_figure(watched, site["details"])))
    scores = closure.scores()  # the classifier on its labelled set, for the methodology page
    for name in ("accuracy", "platforms", "methodology", "about"):
        write(out / f"{name}.html", env.get_template(f"{name}.html").render(site=site, root="", closure=scores, risk_weights=accuracy.RISK_WEIGHTS))
    page = env.get_template("endpoint.html")
    for endpoint_id, detail in site["details"].items():
        html = page.render(site=site, root="../", e=detail, latency_figure=charts.latency_figure(detail),
                           requests_figure=charts.requests_figure(detail), classes_figure=charts.classes_figure(detail),
                           closing_figure=charts.closing_figure(detail))
        write(out / "endpoints" / f"{endpoint_id}.html", html)
    api = {"generated_at": site["generated_at"], "endpoints": site["endpoints"]}
    write(out / "api" / "endpoints.json", json.dumps(api, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    write_products(out, site)
    sqlite.join()
    if sqlite.exitcode != 0:
        raise RuntimeError(f"writing the SQLite file failed (exit {sqlite.exitcode})")
    staged.replace(out / "downloads" / "open311-status.sqlite")
    shutil.copytree(TEMPLATES / "assets", out / "assets", dirs_exist_ok=True)
    shutil.copyfile(PLOTLY_JS, out / "assets" / "plotly.min.js")
    print(f"built {out}: {len(watched)} endpoints, "
          + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
          + (f" (and {len(site['endpoints']) - len(watched)} retired)" if len(watched) < len(site["endpoints"]) else "")
          + f"; {len(loaded.problems)} bad data line(s) skipped")
    return 0


FEED_ID = "tag:open311-status,2026:outages"
SQLITE_PROBES = timedelta(days=31)  # the published SQLite file's probes; the other kinds: what the build reads


# How far back each kind of record can change a figure (metrics: the longest window is 365 days;
# tickets feed 7-, 28- and 30-day figures and freshness; the accuracy panel's events 90 days; the twins 30 days,
# their panel rows 30 days after a ticket was requested; registry entries and audits are needed whole).
LOOKBACK = {"probes": timedelta(days=366), "tickets": timedelta(days=92), "crawls": timedelta(days=8), "endpoints": None,
            "services": None, "events": timedelta(days=92), "twins": timedelta(days=32), "twin_rows": timedelta(days=62),
            "audits": None}


def read_needed(data_dir: str, now: datetime) -> Loaded:
    """Only the day files a figure can depend on: the build's cost follows the windows, not the history.
    The probes come a day at a time from daily_cache."""
    loaded = Loaded()
    for kind, span in LOOKBACK.items():
        if kind == "probes":
            continue
        since = (now - span).date() if span else None
        part = read_data(data_dir, since=since, until=now.date(), kinds=(kind,))
        loaded.records[kind] = part.records[kind]
        loaded.problems += part.problems
    return loaded


def write_products(out: Path, site: dict[str, Any]) -> None:
    """api/<id>.json, badges/<id>/*.json|svg, feeds/*.xml, downloads/*.csv and datapackage.json."""
    stamp = site["generated_at"]
    everything = []
    for endpoint_id, detail in site["details"].items():
        write(out / "api" / f"{endpoint_id}.json", products.dumps(detail))
        for name, badge in products.badges(detail).items():
            write(out / "badges" / endpoint_id / f"{name}.json", products.dumps(badge))
            write(out / "badges" / endpoint_id / f"{name}.svg", products.svg_badge(badge))
        own = [(detail, o) for o in detail["outages"]]
        everything += own
        write(out / "feeds" / f"{endpoint_id}.xml",
              products.atom(f"Outages of {detail['name']}", f"{FEED_ID}:{endpoint_id}", "../", stamp, own))
    everything.sort(key=lambda pair: (pair[1]["start"], pair[0]["id"]), reverse=True)
    write(out / "feeds" / "outages.xml", products.atom("Open311 Status: outages", FEED_ID, "../", stamp, everything))
    write(out / "downloads" / "daily-status.csv", products.daily_csv(site["details"]))
    write(out / "downloads" / "daily-requests.csv", products.requests_csv(site["details"]))
    write(out / "downloads" / "datapackage.json", products.dumps(products.datapackage(stamp)))


def _in_child(function: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    """function(*args) in a forked process, alongside the rest of the build (the machine has two cores)."""
    child = multiprocessing.get_context("fork").Process(target=function, args=args)
    child.start()
    return child


def out_problem(out: Path) -> str | None:
    """We only ever empty a directory we built before."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        return f"{out}: exists, is not empty and was not built by build.py; refusing to overwrite it"
    return None


def empty_out(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)  # out_problem() made sure it is ours
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by Open311 Status build.py; emptied on every build\n")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
