"""python -m crawler --endpoints FILE --data DIR [--now ISO8601] [--scheduled ISO8601] [--only ID ...] [--shard I/N]
[--cache DIR] [--allow-loopback] (open311-status crawl). The check and the twins are open311-status check and twins.

Exit status of a crawl: 0 after a crawl, whatever the endpoints did (an endpoint that is down
is data); 2 for a bad command line or registry (nothing crawled, nothing written); 1 when a bug
of ours hit an endpoint (every other endpoint's records are still written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from tqdm import tqdm

from crawler import __version__
from crawler.client import Client, make_client, user_agent
from crawler.crawl import CrawlReport, crawl, shard_of
from crawler.results import EndpointResult
from records.maintenance import holds
from records.status import crawl_status, listed
from registry import Endpoint, RegistryError, load_registry
from vocabulary import NOT_SENT, moment, parse_now


def parse_shard(text: str) -> tuple[int, int]:
    """--shard I/N, checked, so a workflow typo fails before anything is crawled."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, such as 2/4; got {text!r}") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"I must be between 1 and N; got {text!r}")
    return i, n


def build_parser() -> argparse.ArgumentParser:
    """The crawl's command line (the contract: python -m crawler and open311-status crawl)."""
    p = argparse.ArgumentParser(
        prog="python -m crawler",
        description="Probe every endpoint in the registry and append the records to DIR. "
                    "(To try a candidate endpoint: open311-status check URL.)",
        epilog="Example: python -m crawler --endpoints endpoints.yaml --data data",
    )
    p.add_argument("--endpoints", required=True, metavar="FILE", help="the registry (endpoints.yaml)")
    p.add_argument("--data", required=True, metavar="DIR", help="where the day files are appended")
    p.add_argument("--now", type=parse_now, metavar="ISO8601",
                   help="stamp the crawl with this time and anchor its date windows to it (default: the clock)")
    p.add_argument("--scheduled", type=parse_now, metavar="ISO8601",
                   help="the cron slot this crawl was due in (default: the start, rounded down to the cron's :07 or :37)")
    p.add_argument("--only", nargs="+", metavar="ID", help="crawl only these endpoint ids")
    p.add_argument("--shard", type=parse_shard, metavar="I/N",
                   help="crawl only shard I of N (1 <= I <= N): a stable share of the hosts, so a host is never crawled by two runners")
    p.add_argument("--allow-loopback", action="store_true",
                   help="permit 127.0.0.0/8 and ::1 (tests and the demo); other non-public addresses stay refused")
    p.add_argument("--cache", type=Path, metavar="DIR",
                   help="where the crawl keeps its digest of each older day between runs, so that it starts quickly "
                        "(the workflow's Actions cache); made again from --data when missing or out of date")
    p.add_argument("--version", action="version", version=f"open311-status crawler {__version__}")
    return p


def quiet(env: Mapping[str, str]) -> bool:
    """No progress bar in CI logs or when stderr is not a terminal."""
    return bool(env.get("CI")) or not sys.stderr.isatty()


def main(
    argv: list[str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    env: Mapping[str, str] = os.environ,
    client_factory: Callable[..., Client] | None = None,
) -> int:
    """python -m crawler (open311-status crawl): a crawl. The check and the twins, which build on the crawler, are
    commands of their own (open311-status check, open311-status twins): a word of theirs first is answered with that."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["check"], ["twins"]):
        print(f"python -m crawler {argv[0]} is now open311-status {argv[0]} (or python -m {argv[0]}), "
              "with the same options", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    endpoints = chosen(args)
    if endpoints is None:
        return 2
    factory = client_factory or partial(make_client, agent=user_agent(env))
    with tqdm(total=len(endpoints), unit="endpoint", desc="crawl", file=sys.stderr, disable=quiet(env), leave=False) as bar:
        def advance(endpoint: Endpoint, result: EndpointResult | None) -> None:
            bar.set_postfix_str(endpoint.id, refresh=False)
            bar.update(1)

        report = crawl(endpoints, args.data, args.now or clock(), partial(factory, allow_loopback=args.allow_loopback), env=env,
                       scheduled=args.scheduled, progress=advance, cache=args.cache)
    print_report(report, endpoints)
    return 1 if report.bugs else 0


def chosen(args: argparse.Namespace) -> list[Endpoint] | None:
    """The registry's endpoints this crawl is for (--only, --shard); None, with every problem said, when there are none."""
    try:
        endpoints = load_registry(args.endpoints)
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        print(f"{args.endpoints}: {len(e.problems)} problem(s); nothing was crawled or written", file=sys.stderr)
        return None
    if args.only:
        unknown = [i for i in args.only if i not in {e.id for e in endpoints}]
        if unknown:
            print(f"{args.endpoints}: no endpoint with id {', '.join(map(repr, unknown))}; nothing was crawled", file=sys.stderr)
            return None
        endpoints = [e for e in endpoints if e.id in set(args.only)]
    if args.shard:
        endpoints = [e for e in endpoints if shard_of(e.host, args.shard[1]) == args.shard[0]]
    return endpoints


def print_report(report: CrawlReport, endpoints: list[Endpoint]) -> None:
    """A line per endpoint crawled (its status and calls), one summary line, and the trace of each bug of ours."""
    statuses: Counter[str] = Counter()
    resting = [e for e in endpoints if e.id not in report.results and e.id not in report.bugs]  # retired, not due
    for endpoint in (e for e in endpoints if e not in resting):
        result = report.results.get(endpoint.id)
        if result is None:
            print(f"{endpoint.id}: BUG (see below)")
            continue
        status = crawl_status([p.to_dict() for p in result.probes])
        if status == "down" and endpoint.maintenance and holds(moment(report.crawl), [m.to_dict() for m in endpoint.maintenance],
                                                               endpoint.timezone):
            status = "maintenance"  # down inside the planned maintenance its registry entry declares
        statuses[status] += 1
        calls = ", ".join(
            f"{p.method}{'/' + p.target if p.target else ''}{' p' + str(p.page) if p.page and p.page > 1 else ''} "
            f"{p.outcome}" + (f" {p.elapsed_ms} ms" if p.elapsed_ms is not None else "") for p in result.probes
        )
        print(f"{endpoint.id}: {status}: {calls or 'no calls'}" + "".join(f" [{n}]" for n in result.notes))
    outcomes = Counter(p.outcome for r in report.results.values() for p in r.probes)
    sent = sum(n for outcome, n in outcomes.items() if outcome not in NOT_SENT)
    print(f"crawl {report.crawl} (due {report.scheduled}): {len(endpoints)} endpoints: "
          + ", ".join(f"{statuses[s]} {s}" for s in listed(statuses))
          + (f", {len(resting)} retired not due (checked once a day)" if resting else "")
          + f"; {sent} requests sent, {sum(r.bytes for r in report.results.values()) / 1e6:.1f} MB, {report.seconds:.0f} s; "
          + ("calls " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) + "; " if sent else "")
          + f"{len(report.written)} files appended")
    for endpoint_id, trace in report.bugs.items():
        print(f"\nBUG while probing {endpoint_id} (the crawler's fault, not the endpoint's):\n{trace}", file=sys.stderr)

if __name__ == "__main__":
    sys.exit(main())
