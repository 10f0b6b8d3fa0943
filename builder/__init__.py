"""The build (python build.py, open311-status build): --data DIR --out DIR [--now ISO8601] [--cache DIR] [--json]
[--site-url URL] [--repository URL] [--release-url URL] [--archive DIR] [--downloads-limit MB]

Renders the static site from the records in DIR. main() is the map of the whole build:
data/ → the history (history/) → the figures (metrics/, pure) → the pages and the data products
(render/) → OUT. Every window ends at --now. A corrupt line in DIR is reported as FILE:LINE and
skipped; it never stops the build.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from figures import SiteFigures, as_json
from history import downloads, load, parquet
from metrics.summary import summarize
from records.status import listed
from render.pages import write_pages
from render.products import write_products
from vocabulary import parse_now

SAFE_ID = re.compile(r"^[a-z][a-z0-9_]{1,47}$")  # the registry's id pattern: safe as a file name
MARKER = ".open311-status-site"  # only a directory we built is ever emptied


def main(argv: list[str] | None = None) -> int:
    """Build the site (or with --json print its figures); 2 when OUT is not ours to overwrite."""
    args = parser().parse_args(argv)
    now = args.now or datetime.now(timezone.utc)
    out = Path(args.out)
    if not args.json and (problem := out_problem(out)):
        print(problem, file=sys.stderr)
        return 2
    history = load(args.data, now, args.cache)
    for problem in history.problems:
        print(f"warning: {problem}", file=sys.stderr)
    staged = out.parent / f".{out.name}.parquet"
    if not args.json:
        out.parent.mkdir(parents=True, exist_ok=True)
    parquet_writer = None if args.json else in_child(write_parquet, args.data, staged, args.cache)  # meanwhile, by a second process
    site = without_unsafe_ids(summarize(history, now), args.data)
    if args.json:
        json.dump(as_json(site), sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    empty_out(out)
    counts = write_pages(out, site, args.site_url, Path(args.cache) if args.cache else None, args.repository)
    published = publish_parquet(parquet_writer, staged, out, args)
    write_products(out, site, published)
    watched = sum(counts.values())
    print(f"built {out}: {watched} endpoints, " + ", ".join(f"{counts[s]} {s}" for s in listed(counts))
          + (f" (and {len(site.endpoints) - watched} retired)" if watched < len(site.endpoints) else "")
          + f"; {len(history.problems)} bad data line(s) skipped")
    return 0


def parser() -> argparse.ArgumentParser:
    """The build's command line (the contract: python build.py and open311-status build)."""
    p = argparse.ArgumentParser(prog="python build.py", description="Render the Open311 Status site from data/.")
    p.add_argument("--data", required=True, metavar="DIR", help="the records (data/)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the site is written (site/)")
    p.add_argument("--now", type=parse_now, metavar="ISO8601", help="the moment every window ends (default: now)")
    p.add_argument("--json", action="store_true", help="print the computed figures as JSON instead of writing the site")
    p.add_argument("--cache", metavar="DIR", help="keep each day of probes read here between builds (history/cache.py)")
    p.add_argument("--site-url", type=parse_site_url, metavar="URL",
                   help="where the site is published (https://OWNER.github.io/REPOSITORY/): the sharing tags' links and images")
    p.add_argument("--repository", type=parse_site_url, metavar="URL",
                   help="the repository the site is built from (https://github.com/OWNER/REPOSITORY): the pages link to it")
    p.add_argument("--release-url", type=parse_site_url, metavar="URL",
                   help="where older years of the history are published as release assets "
                        "(https://github.com/OWNER/REPOSITORY/releases/download/): the manifest's links")
    p.add_argument("--archive", metavar="DIR", help="where the years moved off the site are written as zips (default: OUT.archive)")
    p.add_argument("--downloads-limit", type=float, default=downloads.DEFAULT_LIMIT / 1e6, metavar="MB",
                   help="the Parquet files kept on the site at most; older months move to their year's zip (default: %(default)g)")
    return p


def parse_site_url(text: str) -> str:
    """--site-url as an http(s) URL ending in /, or argparse's own error naming the bad value."""
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?", text):
        raise argparse.ArgumentTypeError(f"not an http(s) URL of a site: {text!r}")
    return text if text.endswith("/") else text + "/"


def without_unsafe_ids(site: SiteFigures, data_dir: str) -> SiteFigures:
    """The site without endpoints whose id could not be a file name (the registry allows none, but data/ is data)."""
    bad = [i for i in site.details if not SAFE_ID.match(i)]
    for endpoint_id in bad:
        print(f"warning: endpoint id {endpoint_id!r} in {data_dir} is not a valid id; left out of the site", file=sys.stderr)
    if not bad:
        return site
    return replace(site, details={k: v for k, v in site.details.items() if k not in bad},
                   endpoints=[e for e in site.endpoints if e.id not in bad])


def write_parquet(data: str, staged: Path, cache: str | None) -> None:
    """Every kind's every month as Parquet into staged/, and what was written as staged/entries.json."""
    if staged.exists():
        shutil.rmtree(staged)
    entries, _ = parquet.write_all(  # a line that is not sound: the build's own reading says so, once
        data, staged, Path(cache) if cache else None)
    (staged / "entries.json").write_text(json.dumps(entries))


def in_child(function: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    """function(*args) in a forked process, alongside the rest of the build (the machine has two cores)."""
    child = multiprocessing.get_context("fork").Process(target=function, args=args)
    child.start()
    return child


def publish_parquet(child: multiprocessing.process.BaseProcess | None, staged: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Wait for the Parquet files; move the newest months into the site and the older years into their zips."""
    assert child is not None
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"writing the Parquet files failed (exit {child.exitcode})")
    archive = Path(args.archive) if args.archive else out.parent / f"{out.name}.archive"
    if archive.exists():
        shutil.rmtree(archive)  # only this build's years: the workflow uploads what is there
    entries = json.loads((staged / "entries.json").read_text())
    published = downloads.publish(entries, staged, out / "downloads", archive, args.release_url, int(args.downloads_limit * 1e6))
    shutil.rmtree(staged)
    return published


def out_problem(out: Path) -> str | None:
    """We only ever empty a directory we built before."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        return f"{out}: exists, is not empty and was not built by build.py; refusing to overwrite it"
    return None


def empty_out(out: Path) -> None:
    """Start from an empty OUT, marked as ours, so no page of an earlier build survives into this one."""
    if out.exists():
        shutil.rmtree(out)  # out_problem() made sure it is ours
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by Open311 Status build.py; emptied on every build\n")
