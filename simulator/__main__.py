"""python -m simulator serve --scenario PATH [--now ISO8601] [--days N] [--truth DIR]

Serves the scenario's cities (one YAML file, or a folder of them) on their loopback addresses,
prints their base URLs, and answers until interrupted. Requests without X-Simulated-Now are
answered as of --now (default: the real time) with real latency, so any Open311 client can explore.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone

from simulator.fleet import Fleet
from simulator.scenario import ScenarioError, load
from simulator.serving import Clock, parse_time
from simulator.world import World


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> int:
    """python -m simulator serve: a scenario's cities on loopback, for exploring with any Open311 client."""
    p = argparse.ArgumentParser(prog="python -m simulator", description="Serve simulated Open311 cities on loopback.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a scenario and print the base URLs")
    serve.add_argument("--scenario", required=True, metavar="PATH", help="a city YAML file, or a folder of them")
    serve.add_argument("--now", metavar="ISO8601", help="the moment requests are answered as of (default: the real time)")
    serve.add_argument("--days", type=float, default=30, help="days of history before now (default 30)")
    serve.add_argument("--truth", metavar="DIR", help="also write the ground truth files here")
    args = p.parse_args(argv)
    try:
        cities = load(args.scenario)
    except ScenarioError as e:
        print(str(e), file=sys.stderr)
        return 2
    now = parse_time(args.now) if args.now else datetime.now(timezone.utc)
    world = World(cities, now - timedelta(days=args.days), now + timedelta(days=1))
    if args.truth:
        world.export(args.truth)
    stop = stop or threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    with Fleet(world, Clock(parse_time(args.now) if args.now else None)) as fleet:
        for city_id, url in fleet.urls().items():
            print(f"{city_id}: {url}", flush=True)
        print("serving; Ctrl-C to stop", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
