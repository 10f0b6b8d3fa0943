"""python -m crawler --endpoints FILE --data DIR [--now ISO8601] [--only ID ...] [--allow-loopback]

Exit status: 0 after a crawl, whatever the endpoints did (an endpoint that is down is data);
2 for a bad command line or registry (nothing crawled, nothing written); 1 when a bug of ours
hit an endpoint (every other endpoint's records are still written).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import datetime, timezone
from functools import partial

from crawler import __version__
from crawler.crawl import crawl
from crawler.probe import make_session
from crawler.registry import RegistryError, load_registry
from records import parse_moment


def parse_now(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m crawler",
        description="Probe every endpoint in the registry and append the records to DIR.",
        epilog="Example: python -m crawler --endpoints endpoints.yaml --data data",
    )
    p.add_argument("--endpoints", required=True, metavar="FILE", help="the registry (endpoints.yaml)")
    p.add_argument("--data", required=True, metavar="DIR", help="where the day files are appended")
    p.add_argument("--now", type=parse_now, metavar="ISO8601",
                   help="stamp the crawl with this time and anchor its date windows to it (default: the clock)")
    p.add_argument("--only", nargs="+", metavar="ID", help="crawl only these endpoint ids")
    p.add_argument("--allow-loopback", action="store_true",
                   help="permit 127.0.0.0/8 and ::1 (tests and the demo); other non-public addresses stay refused")
    p.add_argument("--version", action="version", version=f"open311-status crawler {__version__}")
    return p


def main(argv: list[str] | None = None, clock=lambda: datetime.now(timezone.utc)) -> int:  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(argv)
    try:
        endpoints = load_registry(args.endpoints)
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        print(f"{args.endpoints}: {len(e.problems)} problem(s); nothing was crawled or written", file=sys.stderr)
        return 2
    if args.only:
        known = {e.id for e in endpoints}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            print(f"{args.endpoints}: no endpoint with id {', '.join(map(repr, unknown))}; nothing was crawled", file=sys.stderr)
            return 2
        endpoints = [e for e in endpoints if e.id in set(args.only)]
    now = args.now or clock()
    report = crawl(endpoints, args.data, now, partial(make_session, args.allow_loopback))
    for endpoint in endpoints:
        result = report.results.get(endpoint.id)
        if result is None:
            print(f"{endpoint.id}: BUG (see below)")
            continue
        calls = ", ".join(
            f"{p.method} {p.outcome}" + (f" {p.elapsed_ms} ms" if p.elapsed_ms is not None else "") for p in result.probes
        )
        print(f"{endpoint.id}: {calls}")
    outcomes = Counter(p.outcome for r in report.results.values() for p in r.probes)
    print(f"crawl {report.crawl}: {len(endpoints)} endpoints, {sum(outcomes.values())} calls ("
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) + f"); {len(report.written)} files appended")
    for endpoint_id, trace in report.bugs.items():
        print(f"\nBUG while probing {endpoint_id} (the crawler's fault, not the endpoint's):\n{trace}", file=sys.stderr)
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
