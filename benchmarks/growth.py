"""Git's growth: the demo's cities crawled every 30 minutes, each crawl committed as the crawl workflow does, packed as a
clone gets it; with the site's downloads of the same days, and the Pages artifact they come to over years."""

from __future__ import annotations

import collections
import contextlib
import io
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

import builder
from benchmarks.scratch import Repo, mirror_renamed
from crawler.crawl import crawl
from registry import load_registry

ROOT = Path(__file__).resolve().parent.parent
GROWTH_WARMUP_DAYS = 2  # the backfill reads each city's 90 days of history in its first day: growth once, measured apart
Row = tuple[str, str, str]


@dataclass
class Crawled:
    """The crawls committed: into repo as named, into renamed with each day file's kind last; each's packs at warm-up."""

    repo: Repo
    renamed: Repo
    endpoints: int
    commits_s: float = 0.0
    warm: tuple[collections.Counter[str], collections.Counter[str]] = field(default_factory=lambda: (collections.Counter(), collections.Counter()))
    renamed_warm: collections.Counter[str] = field(default_factory=collections.Counter)


def bench_git_growth(tmp: Path, days: int = 30) -> list[Row]:
    """The demo's cities crawled every 30 minutes for `days` simulated days, each crawl committed into a scratch
    repository as the crawl workflow does; then packed as a clone would get it. The growth is what the days after the
    first GROWTH_WARMUP_DAYS add (packed then, and at the end): the backfill's once-only reading of the history is
    bench_backfill's figure, not a year's."""
    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    crawled = crawl_and_commit(tmp, end - timedelta(days=days), end)
    return bench_downloads(crawled.repo.path / "data", crawled.endpoints, days, end, tmp) + growth_rows(crawled, days)


def crawl_and_commit(tmp: Path, start: datetime, end: datetime) -> Crawled:
    """Every 30 minutes from start to end, the demo's cities crawled and committed both ways."""
    from crawler.memory import Memory
    from simulator.demo import DEFAULT_SCENARIO, registry
    from simulator.fleet import in_child_process
    from simulator.scenario import load
    from simulator.virtual import simulated_client
    from simulator.world import World

    cities = load(DEFAULT_SCENARIO)
    with in_child_process(World(cities, start, end)) as urls:
        (tmp / "endpoints.yaml").write_text(yaml.safe_dump(registry(cities, urls)))
        endpoints = load_registry(tmp / "endpoints.yaml")
        out = Crawled(Repo(tmp / "repo", ROOT / ".gitattributes"), Repo(tmp / "renamed", ROOT / ".gitattributes"), len(endpoints))
        memory, moment = Memory(out.repo.path / "data", start), start
        while moment < end:
            crawl(endpoints, out.repo.path / "data", moment, simulated_client(moment), env={}, scheduled=moment, memory=memory,
                  durable=False)
            started = time.monotonic()
            out.repo.commit(f"Crawl {moment:%Y-%m-%dT%H:%MZ}")
            out.commits_s += time.monotonic() - started
            mirror_renamed(out.repo.path / "data", out.renamed.path / "data")
            out.renamed.commit(f"Crawl {moment:%Y-%m-%dT%H:%MZ}")
            moment += timedelta(minutes=30)
            if moment == start + timedelta(days=GROWTH_WARMUP_DAYS):
                for repo in (out.repo, out.renamed):
                    repo.git("gc", "-q")
                out.warm, out.renamed_warm = out.repo.packed_sizes(), out.renamed.packed_sizes()[0]
    return out


def growth_rows(crawled: Crawled, days: int) -> list[Row]:
    """What the days after the warm-up added, packed, per endpoint-year; and the checkout's size."""
    repo, n = crawled.repo, crawled.endpoints
    commits = int(repo.git("rev-list", "--count", "HEAD"))
    repo.git("gc", "-q")
    packed = repo.packed()
    by_type, blob_kinds = repo.packed_sizes()
    by_type, blob_kinds = by_type - crawled.warm[0], blob_kinds - crawled.warm[1]
    crawled.renamed.git("gc", "-q")
    renamed_type = crawled.renamed.packed_sizes()[0] - crawled.renamed_warm
    grown = days - GROWTH_WARMUP_DAYS
    # The data's blobs grow with the endpoints; commits and trees with the crawls, whatever the endpoints.
    blobs_per_endpoint_year = by_type["blob"] * 365 / grown / n
    history_per_year = (by_type["commit"] + by_type["tree"]) * 365 / grown
    checkout = sum(p.stat().st_size for p in (repo.path / "data").rglob("*.jsonl"))
    by_kind = {kind: sum(p.stat().st_size for p in (repo.path / "data" / kind).rglob("*.jsonl"))
               for kind in ("probes", "tickets", "events", "services")}
    year = 365 / days / n
    return [
        (f"git: packed size per endpoint-year, at 100 endpoints ({n} demo cities, {grown} days after "
         f"{GROWTH_WARMUP_DAYS} of warm-up, one commit a crawl)",
         f"{(blobs_per_endpoint_year + history_per_year / 100) / 1e6:.2f} MB",
         f"the data {blobs_per_endpoint_year / 1e6:.2f} MB per endpoint-year, commits and trees {history_per_year / 1e6:.1f} MB a year "
         f"shared by all; {commits} commits, {packed / 1e6:.1f} MB packed; {crawled.commits_s / commits * 1000:.0f} ms a commit"),
        ("git: the same, each day file named with its kind last (2026-11-10.probes.jsonl)",
         f"{renamed_type['blob'] * 365 / grown / n / 1e6:.2f} MB",
         f"the data's blobs, against {blobs_per_endpoint_year / 1e6:.2f} MB as named now (issue 29: git pairs files for deltas by "
         f"the last 16 characters of their path)"),
        ("git: packed data per endpoint-year, by kind", "",
         ", ".join(f"{k} {v * 365 / grown / n / 1e6:.2f} MB" for k, v in blob_kinds.most_common())),
        ("git: checkout (data/) per endpoint-year", f"{checkout * year / 1e6:.1f} MB",
         ", ".join(f"{k} {v * year / 1e6:.1f} MB" for k, v in by_kind.items())),
    ]


def bench_downloads(data: Path, endpoints: int, days: int, end: datetime, tmp: Path) -> list[tuple[str, str, str]]:
    """The site's downloads (Parquet of every kind, the CSVs, manifest and data package) of the demo's cities' days,
    per endpoint-month; and, on sizes alone, the Pages artifact at 73 and 1000 endpoints after one and three years,
    with history.downloads.plan moving what passes its limit to one release asset per year."""
    from history.downloads import DEFAULT_LIMIT, plan

    out = tmp / "downloads-site"
    with contextlib.redirect_stdout(io.StringIO()):
        builder.main(["--data", str(data), "--out", str(out), "--now", end.strftime("%Y-%m-%dT%H:%M:%SZ")])
    files = [p for p in out.rglob("*") if p.is_file()]
    downloads = sum(p.stat().st_size for p in files if p.parent.name == "downloads")
    by_kind: collections.Counter[str] = collections.Counter()
    for p in (out / "downloads").glob("*.parquet"):
        by_kind[p.name.rsplit("-", 2)[0]] += p.stat().st_size
    assets = sum(p.stat().st_size for p in files if "assets" in p.relative_to(out).parts)
    pages_each = (sum(p.stat().st_size for p in files) - downloads - assets) / endpoints  # pages, api, badges, feeds, cards
    month_each = downloads / endpoints / (days / 30.44)
    rows = [(f"downloads per endpoint-month ({endpoints} demo cities, {days} days, the backfill's 90 days of tickets included)",
             f"{month_each / 1000:.0f} kB", "target ≤ 80 kB (issue 19); Parquet by kind: "
             + ", ".join(f"{k} {v / endpoints / (days / 30.44) / 1000:.1f} kB" for k, v in by_kind.most_common())
             + f"; the rest (CSV, manifest, data package) {(downloads - sum(by_kind.values())) / 1000:.0f} kB in all")]
    for n in (73, 1000):
        for span in (1, 3):
            months = {f"{2026 + (m // 12)}-{m % 12 + 1:02d}": int(month_each * n) for m in range(12 * span)}
            kept, moved = plan(months, DEFAULT_LIMIT)
            artifact = assets + pages_each * n + sum(months[m] for m in kept)
            released = {year: sum(months[m] for m in ms) for year, ms in moved.items()}
            rows.append((f"Pages artifact at {n} endpoints after {span} year{'s' * (span > 1)}", f"{artifact / 1e6:.0f} MB",
                         f"limit 1 GB; {len(kept)} months of downloads on the site ({sum(months[m] for m in kept) / 1e6:.0f} MB), "
                         + (f"{sum(len(ms) for ms in moved.values())} months in {len(moved)} release assets "
                            f"(at most {max(released.values()) / 1e6:.0f} MB each)" if moved else "none released")
                         + f"; pages {pages_each / 1000:.0f} kB per endpoint"))
    return rows
