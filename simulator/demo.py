"""make demo: a few simulated days of a small fleet, crawled through the real CLI, then built.

python -m simulator.demo [--work DIR] [--out DIR] [--days N] [--every HOURS]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from tqdm import tqdm

import build
from crawler.__main__ import main as crawl_main
from crawler.client import Client, Limits, make_session
from simulator.fleet import City, Clock, Fleet


def demo_cities() -> list[City]:
    return [
        City("springfield", "Springfield (healthy, JSON)", "127.0.0.2", tickets_per_hour=4),
        City("shelbyville", "Shelbyville (XML only)", "127.0.0.3", formats=("xml",), tickets_per_hour=2,
             latency_s=(0.03, 0.12)),
        City("capital_city", "Capital City (slow)", "127.0.0.4", tickets_per_hour=6, latency_s=(0.3, 1.1),
             requests_error_rate=0.1),
        # Down for maintenance every night from 01:00 to 05:00 UTC; listings fail a third of the time.
        City("ogdenville", "Ogdenville (failing)", "127.0.0.5", tickets_per_hour=1,
             down=lambda now: 1 <= now.hour < 5 or now.day % 3 == 0, requests_error_rate=0.35),
        City("north_haverbrook", "North Haverbrook (gone)", "127.0.0.6", listening=False),
    ]


FORMATS = {"springfield": "json", "shelbyville": "xml", "capital_city": "json", "ogdenville": "json", "north_haverbrook": "json"}


def registry(fleet: Fleet) -> list[dict[str, str]]:
    return [
        {"id": c.key, "name": c.name, "country": "USA", "base_url": fleet.base_url(c.key), "format": FORMATS[c.key],
         "platform": "in-house", "timezone": "America/Chicago", "min_interval_s": 0,
         "notes": "Simulated city of the demo fleet.", "source": "simulator/demo.py"}
        for c in fleet.cities
    ]


def instant_client(interval: float, allow_loopback: bool = False, host: str = "") -> Client:
    """The real client, except that its waits (pauses, Retry-After) pass at once: time is simulated."""
    return Client(make_session(), interval, allow_loopback, Limits(), sleep=lambda seconds: None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.demo", description=__doc__.splitlines()[0])
    p.add_argument("--work", default=".demo", help="scratch folder for the registry and data (emptied first)")
    p.add_argument("--out", default="site", help="where the site is built")
    p.add_argument("--days", type=float, default=4, help="simulated days of history")
    p.add_argument("--every", type=float, default=4, help="hours between simulated crawls")
    args = p.parse_args(argv)

    started = time.monotonic()
    work = Path(args.work)
    shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    step = timedelta(hours=args.every)
    times = []
    t = end - timedelta(days=args.days)
    while t <= end:
        times.append(t)
        t += step

    clock = Clock(times[0])
    with Fleet(demo_cities(), clock) as fleet:
        endpoints = work / "endpoints.yaml"
        endpoints.write_text(yaml.safe_dump(registry(fleet), sort_keys=False))
        for moment in tqdm(times, desc="simulated crawls", unit="crawl"):
            clock.set(moment)
            argv_crawl = ["--endpoints", str(endpoints), "--data", str(work / "data"), "--now", moment.isoformat(),
                          "--allow-loopback"]
            with contextlib.redirect_stdout(io.StringIO()):
                code = crawl_main(argv_crawl, client_factory=instant_client)
            if code != 0:
                print(f"the crawl at {moment.isoformat()} failed with exit status {code}", file=sys.stderr)
                return code
    code = build.main(["--data", str(work / "data"), "--out", args.out, "--now", end.isoformat()])
    if code != 0:
        return code
    print(f"\nDemo ready in {time.monotonic() - started:.0f} s: {len(times)} crawls of {len(fleet.cities)} simulated cities"
          f" over {args.days:g} days, data in {work / 'data'}.")
    print(f"Open {Path(args.out).resolve() / 'index.html'} in a browser, or run `make serve` and visit http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
