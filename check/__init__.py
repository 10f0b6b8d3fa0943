"""open311-status check: try a candidate endpoint once, for a contributor about to add it.

    open311-status check URL [--jurisdiction ID] [--format json|xml] [--limit N]
                              [--api-key-env NAME [--api-key-as param|bearer]] [--json] [--allow-loopback]
    open311-status check --endpoints FILE --changed-from OLD_FILE [--markdown FILE] [--allow-loopback]

The first probes one base URL with the crawl's own plan, plus both formats and the usual
discovery addresses, and prints what works and a ready-to-paste registry entry. The second
checks every entry of FILE that is new or changed since OLD_FILE (CI runs it on pull requests
and appends the --markdown report to the job summary). An entry whose key is required but not
set here (a fork's pull request gets no secrets) is reported as "needs a key" and not called.
Exit status: 0 when every endpoint checked is usable (a service list and a list of requests
came) or needs a key that is not set here, 1 when one is not usable, 2 for a bad command line
or registry.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.client import Client, Limits, make_client, user_agent
from crawler.plan import OTHER, Plan
from crawler.probe import Probe
from crawler.results import EndpointResult
from records import iso
from records.status import crawl_status
from registry import Endpoint, RegistryError, load_registry, url_problem

LIMITS = Limits(endpoint_calls=16, endpoint_s=300.0)  # one careful look, not a crawl every 30 minutes
PLATFORM_HINTS = [  # (pattern in the URL, platform)
    (r"seeclickfix\.com", "SeeClickFix"), (r"spotmobile\.net|spotreporters\.com", "Connected Bits"),
    (r"/georeport/v2/", "Mark-a-Spot"), (r"citysdk", "Klarschiff"), (r"fixmystreet|fiksgatami|zueriwieneu", "FixMyStreet"),
    (r"/crm/open311/", "uReport"), (r"6aika", "6Aika"),
]


PANEL_PER_DAY = 300  # the accuracy panel's new tickets a day that panel_rate aims at
TODO = "TODO"  # what the contributor has to fill in; a candidate's source is TODO until then


# The crawl's plan, and also: the other format always, the first few definitions now, discovery where it usually is,
# once more without the key; instead of the accuracy panel, whether the endpoint could have one; no history.
PLAN = Plan(follow=False, backfill=False, definitions_now=True, other_format_always=True, discovery_guessed=True,
            without_key=True)


def guess_platform(url: str) -> str:
    """The platform a URL's shape gives away, so the suggested entry starts near the truth."""
    return next((platform for pattern, platform in PLATFORM_HINTS if re.search(pattern, url)), "unknown")


def slug(text: str) -> str:
    """Text as a registry id's characters: lower-case letters, digits and single underscores, at most 48."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48]


def candidate(url: str, jurisdiction: str | None, fmt: str, key_env: str | None = None, key_as: str | None = None,
              limit: int | None = None) -> Endpoint:
    """A registry entry for a URL alone, with TODOs where only the contributor knows the answer."""
    host = urlsplit(url).hostname or "endpoint"
    ident = slug(host.lower().removeprefix("www.")) or "endpoint"
    if not ident[0].isalpha():
        ident = "x_" + ident[:46]
    # Dates without an offset are read as UTC until the contributor names the city's time zone.
    return Endpoint(id=ident, name=TODO, country=TODO, base_url=url, format=fmt, platform=guess_platform(url),
                    timezone="UTC", notes="", source=TODO, jurisdiction_id=jurisdiction, api_key_env=key_env, api_key_as=key_as,
                    limit=limit)


def check(endpoint: Endpoint, client: Client, now: datetime, api_key: str | None = None) -> dict[str, Any]:
    """Probe once; what works, as plain data (render() prints it)."""
    probe = Probe(endpoint, client, now, client.clock(), api_key, plan=PLAN)
    result = probe.run()
    return summarize(endpoint, result, now, probe.found_discovery, list(probe.supports), probe.key_required)


def not_checked(endpoint: Endpoint, now: datetime) -> dict[str, Any]:
    """The report of an entry whose required key is not set here: nothing is sent, and nothing is wrong with it."""
    return {"url": endpoint.base_url, "checked_at": iso(now), "usable": None, "status": "needs a key",
            "note": f"needs a key: {endpoint.api_key_env} is not set here (a pull request from a fork gets no secrets), "
                    "and the endpoint requires one; not called. The crawl workflow, which has the secret, will call it."}


def paging_of(endpoint: Endpoint, listed: list[dict[str, Any]]) -> tuple[str, int | None, bool | None]:
    """What the listing showed of paging: a sentence, the page limit it shows (or the registry's), and whether it pages."""
    first = next((p for p in listed if p["page"] in (1, None) and p["outcome"] == "ok"), None)
    if first is None:
        return "unknown (no list of requests came)", endpoint.limit, endpoint.pages
    later = [p for p in listed if p["page"] and p["page"] > 1]
    if any("paging_ignored" in p["findings"] for p in later):
        return (f"ignored (page=2 repeated page 1): only the first {first['items']} requests can be read", first["items"], False)
    if any(p["outcome"] == "ok" for p in later):
        return f"works (a full page holds {first['items']}; page=2 answered new requests)", first["items"], True
    if endpoint.limit is not None:
        return f"not needed (the first page held {first['items']} of the limit of {endpoint.limit})", endpoint.limit, endpoint.pages
    return "not needed (the first page was not full)", None, endpoint.pages


def summarize(endpoint: Endpoint, result: EndpointResult, now: datetime, discovery_url: str | None,
              supports: list[str] | None = None, key_required: bool | None = None) -> dict[str, Any]:
    """What one check found, as plain data (render prints it, --json dumps it): usable or not, and why."""
    probes = [p.to_dict() for p in result.probes]
    services = [p for p in probes if p["method"] == "services"]
    formats = {fmt: _best([p for p in services if p["format"] == fmt]) for fmt in ("json", "xml")}
    working = [f for f in (endpoint.format, OTHER[endpoint.format]) if formats[f] == "ok"]
    listed = [p for p in probes if p["method"] == "requests"]
    definitions = [p for p in probes if p["method"] == "service_definition"]
    status = crawl_status(probes)
    findings: dict[str, dict[str, str]] = {}
    for p in probes:
        for code, example in p["findings"].items():
            findings.setdefault(code, {"method": p["method"], "example": example})
    paging, limit, pages = paging_of(endpoint, listed)
    limited = [p["retry_after_s"] for p in probes if p["outcome"] == "rate_limited"]
    # Refused without a key (401 or 403 to every service list), or with one: refused once it was left out.
    refused = bool(services) and not any(p["outcome"] == "ok" for p in services) and all(
        p["http_status"] in (401, 403) for p in services)
    if key_required is None and refused and not endpoint.api_key_env:
        key_required = True
        status = "needs a key"
    report = {
        "url": endpoint.base_url,
        "checked_at": iso(now),
        "usable": status in ("up", "degraded") and any(p["outcome"] == "ok" for p in listed),
        "status": status,
        "formats": formats,
        "methods": {m: _best([p for p in probes if p["method"] == m])
                    for m in ("discovery", "services", "service_definition", "requests", "request")},
        "services": next((p["items"] for p in services if p["outcome"] == "ok"), None),
        "definitions": {"tried": len(definitions), "ok": sum(p["outcome"] == "ok" for p in definitions)},
        "requests_listed": sum(p["items"] or 0 for p in listed if p["outcome"] == "ok"),
        "supports": supports or [],
        "paging": paging,
        "limit": limit,
        "pages": pages,
        "key_required": key_required,
        "rate_limits": {"429s": len(limited), "retry_after_s": [r for r in limited if r is not None]},
        **{key: {m: next((p[field] for p in probes if p["method"] == m and p["outcome"] == "ok"), None) for m in ("services", "requests")}
           for key, field in (("latency_ms", "elapsed_ms"), ("server_ms", "server_ms"), ("rtt_ms", "rtt_ms"))},
        "findings": findings,
        "notes": result.notes,
        "calls": [{k: p[k] for k in ("method", "format", "target", "page", "attempt", "outcome", "http_status", "elapsed_ms", "error")}
                  for p in probes],
    }
    report["entry"] = entry_for(endpoint, report, working, discovery_url)
    return report


def _best(probes: list[dict[str, Any]]) -> str | None:
    """ok if any call of the kind was ok, else the last outcome; None if none was made."""
    if not probes:
        return None
    return "ok" if any(p["outcome"] == "ok" for p in probes) else probes[-1]["outcome"]


def entry_for(endpoint: Endpoint, report: dict[str, Any], working: list[str], discovery_url: str | None) -> dict[str, Any]:
    """The registry entry the check suggests: only what it saw, so the contributor's TODOs stay few and true."""
    entry: dict[str, Any] = {"id": endpoint.id, "name": endpoint.name, "country": endpoint.country, "base_url": endpoint.base_url}
    if endpoint.jurisdiction_id:
        entry["jurisdiction_id"] = endpoint.jurisdiction_id
    entry["format"] = working[0] if working else endpoint.format
    entry["platform"] = endpoint.platform
    entry["timezone"] = TODO if endpoint.source == TODO else endpoint.timezone
    if discovery_url or endpoint.discovery_url:
        entry["discovery_url"] = discovery_url or endpoint.discovery_url
    if report["rate_limits"]["429s"] and endpoint.min_interval_s is None:
        entry["min_interval_s"] = 6
    if report["limit"] is not None:
        entry["limit"] = report["limit"]
    if report["pages"] is not None and (report["limit"] is not None or report["pages"] is False):
        entry["pages"] = report["pages"]
    for key in ("min_interval_s", "api_key_env", "api_key_as"):
        if getattr(endpoint, key) is not None:
            entry[key] = getattr(endpoint, key)
    if report["key_required"] is not None:
        entry.setdefault("api_key_env", TODO)
        entry["api_key"] = "required" if report["key_required"] else "raises_limit"
    if report["supports"]:
        entry["supports"] = report["supports"]
    if report["requests_listed"] > PANEL_PER_DAY:  # a lower bound when paging cut the list: so is the rate
        entry["panel_rate"] = max(0.01, round(PANEL_PER_DAY / report["requests_listed"], 2))
    facts = [f"formats {', '.join(working) or 'none'}"]
    if report["services"] is not None:
        facts.append(f"{report['services']} services")
    facts.append(f"paging {report['paging'].split(' (')[0]}")
    if report["findings"]:
        facts.append("findings " + ", ".join(sorted(report["findings"])))
    entry["notes"] = endpoint.notes or f"Checked {report['checked_at'][:10]} with open311-status check: " + "; ".join(facts) + "."
    entry["source"] = endpoint.source
    return entry


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal; every string from the server is shown as data."""
    if report["usable"] is None:
        return f"{report['url']}: NOT CHECKED ({report['status']})\n  {report['note']}"
    lines = [f"{report['url']}: {'USABLE' if report['usable'] else 'NOT USABLE'} ({report['status']})"]
    if report["status"] == "needs a key":
        lines.append("  needs a key: every service list was refused (401 or 403) without one. Ask the city for a key, "
                     "then check again with --api-key-env NAME")
    elif report["key_required"] is not None:
        lines.append("  api key: " + ("required (the service list is refused without it)" if report["key_required"]
                                      else "only raises a limit (the service list is answered without it)"))
    lines.append("  formats:  " + ", ".join(f"{f} {o or 'not tried'}" for f, o in report["formats"].items()))
    lines.append("  methods:  " + ", ".join(f"{m} {o}" for m, o in report["methods"].items() if o))
    if report["services"] is not None:
        d = report["definitions"]
        lines.append(f"  services: {report['services']}; definitions tried {d['tried']}, ok {d['ok']}")
    lines.append(f"  requests: {report['requests_listed']} listed for the last 24 h; paging {report['paging']}")
    lines.append("  for the accuracy panel: " + ", ".join(f"{name} {'yes' if name in report['supports'] else 'no'}"
                                                       for name in ("extensions", "updated_after")))
    r = report["rate_limits"]
    lines.append("  rate limits: " + (f"{r['429s']} answer(s) 429, Retry-After {r['retry_after_s']}" if r["429s"] else "none seen"))
    lines.append("  latency:  " + ", ".join(
        f"{m} {ms} ms" + (f" (the server's own {report['server_ms'][m]} ms, a round trip {report['rtt_ms'][m]} ms)"
                          if report["server_ms"][m] is not None else "")
        for m, ms in report["latency_ms"].items() if ms is not None))
    if report["findings"]:
        lines.append("  conformance findings:")
        lines += [f"    {code} ({f['method']}): {f['example']!r}" for code, f in sorted(report["findings"].items())]
    for note in report["notes"]:
        lines.append(f"  note: {note}")
    failed = [c for c in report["calls"] if c["outcome"] != "ok"]
    if failed:
        lines.append("  failed calls:")
        lines += [f"    {c['method']}.{c['format']}{' ' + repr(c['target']) if c['target'] else ''}: {c['outcome']}"
                  + (f": {c['error']}" if c["error"] else "") for c in failed]
    lines.append("  registry entry (fill in the TODOs):")
    text = yaml.safe_dump([report["entry"]], sort_keys=False, allow_unicode=True, width=100)
    lines += ["    " + line for line in text.splitlines()]
    return "\n".join(lines)


def markdown(reports: list[tuple[str, dict[str, Any]]]) -> str:
    """The reports as a GitHub job summary; a server's text can never close the code fence."""
    out = ["## Endpoint check", ""]
    if not reports:
        return "\n".join(out + ["No registry entry was added or changed.", ""])
    for ident, report in reports:
        text = render(report).replace("```", "'''")  # a server's string must not close the fence
        verdict = "needs a key (not checked)" if report["usable"] is None else "usable" if report["usable"] else "NOT usable"
        out += [f"### `{ident}`: {verdict}", "", "```", text, "```", ""]
    return "\n".join(out)


def changed_entries(new: list[Endpoint], old: list[Endpoint]) -> list[Endpoint]:
    """The entries a pull request adds or changes: only those are probed, the rest were checked when they came."""
    before = {e.id: e for e in old}
    return [e for e in new if before.get(e.id) != e]


def build_parser() -> argparse.ArgumentParser:
    """The check's command line (open311-status check and open311-status check)."""
    p = argparse.ArgumentParser(prog="open311-status check", description=__doc__.splitlines()[0])
    p.add_argument("url", nargs="?", help="the candidate's base URL (ends in /, e.g. https://city.example/open311/v2/)")
    p.add_argument("--jurisdiction", metavar="ID", help="the jurisdiction_id to send, if the endpoint needs one")
    p.add_argument("--format", choices=("json", "xml"), default="json", help="the format to try first (default json)")
    p.add_argument("--limit", type=int, metavar="N", help="the server's page limit, if known (a page of exactly N is full)")
    p.add_argument("--api-key-env", metavar="NAME", help="send the API key held in this environment variable")
    p.add_argument("--api-key-as", choices=("param", "bearer"), help="as the api_key parameter (default) or a Bearer header")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--endpoints", metavar="FILE", help="with --changed-from: the registry to check")
    p.add_argument("--changed-from", metavar="OLD_FILE", help="check only the entries new or changed since this registry")
    p.add_argument("--markdown", metavar="FILE", help="append a Markdown report (a GitHub job summary) to FILE")
    p.add_argument("--allow-loopback", action="store_true", help="permit 127.0.0.0/8 and ::1 (tests)")
    return p


def main(argv: list[str], clock: Callable[[], datetime], env: Mapping[str, str] = os.environ,
         client_factory: Callable[..., Client] | None = None) -> int:
    """Check one URL or a pull request's entries; exit 0 only when every one checked is usable (or needs a key not
    set here)."""
    args = build_parser().parse_args(argv)
    factory = client_factory or partial(make_client, agent=user_agent(env))
    now = clock()
    if args.changed_from or args.endpoints:
        if not (args.changed_from and args.endpoints) or args.url:
            print("open311-status check: --endpoints and --changed-from go together, without a URL", file=sys.stderr)
            return 2
        try:
            new = load_registry(args.endpoints)
            old = load_registry(args.changed_from) if os.path.exists(args.changed_from) else []
        except RegistryError as e:
            print(str(e), file=sys.stderr)
            return 2
        targets = changed_entries(new, old)
    else:
        if not args.url:
            print("open311-status check: give a URL, or --endpoints FILE --changed-from OLD_FILE", file=sys.stderr)
            return 2
        url = args.url if args.url.endswith("/") else args.url + "/"
        problem = url_problem(url)
        if problem:
            print(f"open311-status check: {url}: {problem}", file=sys.stderr)
            return 2
        if args.api_key_env and not env.get(args.api_key_env):
            print(f"open311-status check: {args.api_key_env} is not set", file=sys.stderr)
            return 2
        targets = [candidate(url, args.jurisdiction, args.format, args.api_key_env, args.api_key_as, args.limit)]
    reports = []
    for endpoint in targets:
        if endpoint.needs_key and not env.get(endpoint.api_key_env or ""):
            reports.append((endpoint.id, not_checked(endpoint, now)))
            continue
        client = factory(endpoint.interval, allow_loopback=args.allow_loopback, limits=LIMITS, host=endpoint.host)
        with client:
            key = env.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
            reports.append((endpoint.id, check(endpoint, client, now, key or None)))
    if args.json:
        print(json.dumps([r for _, r in reports] if args.changed_from else reports[0][1], indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(render(r) for _, r in reports) or "No registry entry was added or changed.")
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write(markdown(reports))
    return 0 if all(r["usable"] is not False for _, r in reports) else 1
