"""The backfill of the registry's watched endpoints: for each kind of endpoint the registry holds (its limit, paging and
history), a simulated city of that kind crawled every 30 minutes until its history is read; what that costs in calls,
bytes and crawls, and the git growth it adds once."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

import crawler.backfill
from benchmarks.scratch import Repo
from crawler.crawl import crawl
from crawler.plan import backfill_span
from records.coverage import covered_since
from registry import Endpoint, load_registry
from vocabulary import iso

ROOT = Path(__file__).resolve().parent.parent
BACKFILL_RATES = (20, 100)  # requests a day of the simulated cities the registry's kinds of endpoint are tried at
MOST_CRAWLS = 600  # 12 days: a kind that never finishes is a finding, not a hang
Kind = tuple[int, bool, "int | None"]  # (limit, pages, history_days)
Row = tuple[str, str, str]


def bench_backfill(tmp: Path) -> list[Row]:
    """For each rate, the backfill's calls, bytes and crawls, summed over the registry; and the git growth it adds once,
    as the packed difference between the same crawls committed with and without it."""
    from simulator.demo import registry
    from simulator.fleet import in_child_process
    from simulator.scenario import city
    from simulator.world import World

    watched = [e for e in load_registry(ROOT / "endpoints.yaml") if not e.retired]
    kinds: collections.Counter[Kind] = collections.Counter((e.limit or 1000, bool(e.pages), e.history_days) for e in watched)
    rows = []
    for rate in BACKFILL_RATES:
        made = [city({"id": f"kind_{n}", "host": f"127.0.9.{n + 2}", "requests_per_day": rate, "behaviour": {"latency_ms": 300},
                      "quirks": {"page_size": limit, "max_page_size": limit} if pages else {"max_requests": limit},
                      **({"history_days": days} if days else {})}) for n, (limit, pages, days) in enumerate(kinds)]
        start = datetime(2026, 11, 1, tzinfo=timezone.utc)
        with in_child_process(World(made, start, start + timedelta(days=10))) as urls:
            (tmp / "endpoints.yaml").write_text(yaml.safe_dump(registry(made, urls)))
            endpoints = load_registry(tmp / "endpoints.yaml")
            with_it, crawls_taken, done_at = crawled(tmp / f"backfill-{rate}-True", endpoints, start, None)
            without, _, _ = crawled(tmp / f"backfill-{rate}-False", endpoints, start, crawls_taken)
        rows += backfill_rows(with_it, without, endpoints, kinds, rate, crawls_taken, done_at, len(watched))
    return rows


@contextmanager
def backfill_calls(allowed: bool) -> Iterator[None]:
    """The crawler's backfill as it is, or with no window allowed a crawl."""
    saved = crawler.backfill.BACKFILL_CALLS
    crawler.backfill.BACKFILL_CALLS = saved if allowed else 0
    try:
        yield
    finally:
        crawler.backfill.BACKFILL_CALLS = saved


def crawled(where: Path, endpoints: list[Endpoint], start: datetime, crawls: int | None) -> tuple[Repo, int, dict[str, int]]:
    """The endpoints crawled every 30 minutes, each crawl committed: until every history is read (crawls None, the
    backfill on), or that many crawls (the backfill off). The repository, the crawls made, and the crawl each endpoint's
    history was read by."""
    from crawler.memory import Memory
    from simulator.virtual import simulated_client

    repo = Repo(where)
    memory, moment, n, done_at = Memory(repo.path / "data", start), start, 0, {}
    with backfill_calls(crawls is None):
        while (len(done_at) < len(endpoints) if crawls is None else n < crawls) and n < MOST_CRAWLS:
            crawl(endpoints, repo.path / "data", moment, simulated_client(moment), env={}, scheduled=moment, memory=memory, durable=False)
            repo.commit(f"Crawl {moment:%Y-%m-%dT%H:%MZ}")
            n += 1
            for e in endpoints:
                since = covered_since(memory.covered().get(e.id, []))
                if e.id not in done_at and since and since <= iso(moment - backfill_span(e)):
                    done_at[e.id] = n
            moment += timedelta(minutes=30)
    repo.git("gc", "-q")
    return repo, n, done_at


def backfill_rows(with_it: Repo, without: Repo, endpoints: list[Endpoint], kinds: collections.Counter[Kind], rate: int,
                  crawls_taken: int, done_at: dict[str, int], watched: int) -> list[Row]:
    """The figures of one rate: the backfill's calls and bytes per kind, scaled by how many the registry holds."""
    from records.read import read_data

    probes = [p for p in read_data(with_it.path / "data", kinds=("probes",)).records["probes"] if p["method"] == "backfill"]
    stats = {}
    for e, key in zip(endpoints, kinds):
        mine = [p for p in probes if p["endpoint"] == e.id]
        stats[key] = (len(mine), sum(p["bytes"] or 0 for p in mine), done_at.get(e.id))
    calls = sum(stats[k][0] * count for k, count in kinds.items())
    size = sum(stats[k][1] * count for k, count in kinds.items())
    slowest = max((stats[k][2] or 10**6) for k in kinds)
    return [
        (f"backfill of the registry's {watched} watched endpoints at {rate} requests a day each",
         f"{calls:,} calls, {size / 1e6:.0f} MB",
         f"the slowest kind done in {slowest} crawls ({slowest / 48:.1f} days); by limit: "
         + ", ".join(f"{limit}{'' if pages else ' no paging'} × {count}: {stats[(limit, pages, days)][0]} calls, "
                     f"{stats[(limit, pages, days)][1] / 1e6:.1f} MB, {stats[(limit, pages, days)][2]} crawls"
                     for (limit, pages, days), count in sorted(kinds.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)))),
        (f"git: the backfill's growth, once, per endpoint at {rate} requests a day",
         f"{(with_it.packed() - without.packed()) / len(endpoints) / 1e6:.2f} MB",
         f"packed, {len(endpoints)} kinds crawled {crawls_taken} times with and without it"),
    ]
