"""make demo: a month of the default simulated world, crawled by the real crawler, then built.

python -m simulator.demo [--scenario DIR] [--work DIR] [--out DIR] [--days N] [--every MINUTES]

The cities run in a child process; the crawler runs here on simulated time (simulator/virtual.py),
so 30 days of 30-minute crawls take a few minutes. The ground truth lands in WORK/truth/.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

import builder
import incidents
from audits import read_audit
from crawler.crawl import crawl
from crawler.memory import Memory
from history.archive import compact
from records import store
from registry import load_registry
from simulator.fleet import in_child_process
from simulator.scenario import City, load
from simulator.virtual import simulated_client
from simulator.world import HISTORY_BEFORE, World
from twins import run_twins

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default"
PANEL_RATE = 0.25


def registry(cities: list[City], urls: dict[str, str], panel_rate: float = PANEL_RATE) -> list[dict[str, Any]]:
    """The registry a contributor would have written for these cities."""
    out = []
    for c in cities:
        entry: dict[str, Any] = {"id": c.id, "name": c.name, "country": c.country, "base_url": urls[c.id], "format": c.formats[0],
                                 "platform": c.platform, "timezone": c.timezone, "location": list(c.center)}
        if c.jurisdiction_id:
            entry["jurisdiction_id"] = c.jurisdiction_id
        # A quarter of each city's tickets in the accuracy panel: enough to measure, and the month still crawls in minutes.
        entry["panel_rate"] = panel_rate
        # What the contributor check would have found: the most one answer holds, and whether page=N works.
        entry["limit"] = c.quirks["page_size"] or c.quirks["max_requests"]
        entry["pages"] = bool(c.quirks["page_size"]) and not c.quirks["paging_ignored"]
        if c.quirks["history_days"]:
            entry["history_days"] = c.quirks["history_days"]  # documented, as a contributor would copy it from the city's docs
        if c.maintenance:
            entry["maintenance"] = [dict(m) for m in c.maintenance]  # declared, as the city's status page says it
        supports = [name for name in ("extensions", "updated_after") if c.quirks[name]]
        if supports:
            entry["supports"] = supports
        if f"{c.id}:open_data" in urls:
            entry["open_data"] = {"kind": "socrata", "url": urls[f"{c.id}:open_data"], "open311_channels": ["Mobile/Open311"],
                                  "columns": {"id": "case_id", "requested": "opened", "closed": "closed_at", "status": "state",
                                              "service": "case_type", "channel": "channel", "reason": "resolution"}}
        entry.update({"notes": "Simulated city (simulator/scenarios).", "source": c.source or "simulator"})
        out.append(entry)
    return out


SHARDS = 3  # crawler processes: with the cities' process, they keep both cores of a small machine busy


def run(cities: list[City], work: Path, start: datetime, end: datetime, every: timedelta, progress: bool = True,
        shards: int = SHARDS, panel_rate: float = PANEL_RATE, missed: tuple[tuple[datetime, datetime], ...] = (),
        before: timedelta = HISTORY_BEFORE) -> World:
    """Crawl the simulated world from start to end (inclusive) into work/data; return the world, whose tickets exist from
    `before` the start (the 90 days a backfill reads, unless a test needs fewer).

    The endpoints are split between `shards` crawler processes, each crawling its share at every
    moment (as several CI runners would); they append to the same day files under one lock.
    """
    shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    world = World(cities, start, end, before)
    world.export(work / "truth")
    times = []
    moment = start
    while moment <= end:
        if not any(a <= moment < b for a, b in missed):  # crawls that never ran, as when the scheduler skips
            times.append(moment)
        moment += every
    with in_child_process(world) as urls:
        path = work / "endpoints.yaml"
        path.write_text(yaml.safe_dump(registry(cities, urls, panel_rate), sort_keys=False, allow_unicode=True))
        endpoints = load_registry(path)
        context = multiprocessing.get_context("fork")
        done = context.Value("i", 0)
        errors = context.Queue()
        workers = [context.Process(target=_crawl_shard, args=(endpoints[n::shards], work / "data", times, done, errors), daemon=True)
                   for n in range(shards)]
        for w in workers:
            w.start()
        with tqdm(total=len(times) * shards, desc="simulated crawls", unit="crawl", disable=not progress, mininterval=0.5) as bar:
            while any(w.is_alive() for w in workers):
                time.sleep(0.2)
                bar.update(done.value - bar.n)
            bar.update(done.value - bar.n)
        for w in workers:
            w.join()
        if not errors.empty() or any(w.exitcode for w in workers):
            raise RuntimeError("a crawl of the simulated world failed:\n" + ("" if errors.empty() else errors.get()))
    field_audits(world, work, end)
    return world


AUDITED = 60  # closed tickets a city's volunteers go to look at, the day before the end


def field_audits(world: World, work: Path, end: datetime) -> None:
    """What volunteers of the cities that publish open data saw: an audit file per city, imported as a
    contributor would (open311-status audit). Fixed when the problem was really dealt with by the visit."""
    visit = end - timedelta(days=1)
    for city_id, c in world.cities.items():
        if not c.open_data:
            continue
        closed = [t for t in world.truth[city_id].between(end - timedelta(days=30), visit - timedelta(days=2))
                  if (state := t.state(visit)) is not None and state[1] == "closed"][-AUDITED:]
        path = work / "audits" / f"{city_id}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["id,observed,date,observer"] + [
            f"{t.id},{'fixed' if t.resolved is not None and t.resolved <= visit else 'not_fixed'},{visit.date()},demo volunteer"
            for t in closed]
        path.write_text("\n".join(lines) + "\n")
        records, _ = read_audit(path, city_id, end)
        store.append(work / "data", "audits", [r.to_dict() for r in records], lambda r: end.date(), durable=False)


def _crawl_shard(endpoints: list[Any], data: Path, times: list[datetime], done: Any, errors: Any) -> None:
    memory = Memory(data, times[0])
    for moment in times:
        report = crawl(endpoints, data, moment, simulated_client(moment), env={}, scheduled=moment, memory=memory, durable=False)
        run_twins(endpoints, data, moment, simulated_client(moment), memory, durable=False)  # the first crawl of a day fetches
        if report.bugs:
            errors.put(f"the crawl at {moment.isoformat()} hit a bug:\n" + "\n".join(report.bugs.values()))
            raise SystemExit(1)
        with done.get_lock():
            done.value += 1


def main(argv: list[str] | None = None) -> int:
    """open311-status demo: a month of crawls of the simulated world, and its site."""
    p = argparse.ArgumentParser(prog="python -m simulator.demo", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(DEFAULT_SCENARIO), help="a folder of city files, or one (default: the dozen of the demo)")
    p.add_argument("--work", default=".demo", help="scratch folder for the registry, data and truth (data emptied first)")
    p.add_argument("--out", default="site", help="where the site is built")
    p.add_argument("--days", type=float, default=30, help="simulated days of history")
    p.add_argument("--every", type=float, default=30, help="minutes between simulated crawls")
    args = p.parse_args(argv)

    started = time.monotonic()
    cities = load(args.scenario)
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 30)
    start = end - timedelta(days=args.days)
    work = Path(args.work)
    run(cities, work, start, end, timedelta(minutes=args.every), progress=sys.stderr.isatty())
    crawled = time.monotonic() - started
    # As the merge job does after each crawl: the months over for 3 days into data/archive/ (the site is the same).
    archived = compact(work / "data", end)
    for left in archived.left:
        print(f"left as day files: {left}", file=sys.stderr)
    if archived.written:
        print(f"Archived {len(archived.written)} kind-months of day files into {work / 'data' / 'archive'}.")
    code = builder.main(["--data", str(work / "data"), "--out", args.out, "--now", end.isoformat()])
    if code != 0:
        return code
    # What the crawl workflow would do on GitHub now (the dry run: the demo has no repository to open issues in).
    planned = incidents.run(work / "data", load_registry(work / "endpoints.yaml"), end, None)
    print("\nIncidents: the crawl workflow would now " + ("; ".join(planned.done) if planned.done else "open no issue") + ".")
    print(f"\nDemo ready in {time.monotonic() - started:.0f} s (crawls {crawled:.0f} s): {len(cities)} simulated cities, "
          f"{args.days:g} days of crawls every {args.every:g} minutes; data in {work / 'data'}, ground truth in {work / 'truth'}.")
    print(f"Open {Path(args.out).resolve() / 'index.html'} in a browser, or run `make serve` and visit http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
