"""The open-data twins: what a city's own 311 dataset says, fetched once a day through the Client.

For each endpoint whose registry entry has an open_data block:
  1. the rows requested on the local day before --now, ROWS_PER_CALL a call, at most MAX_ROWS:
     only the mapped columns travel (Socrata's $select, CKAN's SQL; a CSV twin is read whole);
     they are counted into one TwinDayRecord (rows, closed, per service type, per channel), and
     those of the accuracy panel's tickets (the same draw as crawler.tickets.in_panel) are kept
     as TwinRowRecords;
  2. again, by id (IDS_PER_CALL a call, at most ID_CALLS calls), the panel rows the twin still
     had open, so that its closing is seen.
Never the whole dataset: a day's counts and the panel's rows. A row that cannot be read (no id,
a requested time that is not a time, a broken CSV line) is left out and reported with its place;
the others are kept.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import time as time_module
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from crawler.client import Budget, Client, Limits, make_client, user_agent
from crawler.memory import Memory
from crawler.parse import blank, parse_time
from crawler.tickets import in_panel
from records import TwinDayRecord, TwinRowRecord, iso, store
from records.read import read_data
from registry import Endpoint, OpenData, RegistryError, load_registry
from vocabulary import day_of, parse_now
from vocabulary.timing import TWINS_S

ROWS_PER_CALL = 5000
MAX_ROWS = 50_000  # a busy city's day (Chicago: about 5,000)
IDS_PER_CALL = 100
ID_CALLS = 5
REASON_MAX_CHARS = 500
# A day's pages and the id calls; a CSV twin is one file, so it may be larger than an API answer.
LIMITS = Limits(endpoint_calls=MAX_ROWS // ROWS_PER_CALL + ID_CALLS, endpoint_s=float(TWINS_S), call_bytes=32 * 1024 * 1024,
                endpoint_bytes=96 * 1024 * 1024)
SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")  # an id we put in a query; others are not asked for


@dataclass
class TwinResult:
    """One twin's fetch: the day's counts, the panel tickets' rows, and the rows left out with their place."""

    day: TwinDayRecord | None = None
    rows: list[TwinRowRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, with the place


def local_day(endpoint: Endpoint, now: datetime) -> tuple[datetime, datetime]:
    """The local day before now, as naive local times (how the datasets keep them)."""
    tz = ZoneInfo(endpoint.timezone)
    today = now.astimezone(tz).date()
    start = datetime.combine(today - timedelta(days=1), time())
    return start, start + timedelta(days=1)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def queries(twin: OpenData, start: datetime, end: datetime, ids: list[str] | None = None) -> list[tuple[str, dict[str, str]]]:
    """The calls for the rows requested in [start, end), or with these ids: (url, params), one page each.
    Column names are checked by the registry's schema (letters, digits, underscores): safe to quote."""
    cols = twin.columns
    wanted = list(dict.fromkeys(cols.values()))
    if twin.kind == "csv":
        return [(twin.url, {})]
    if ids is not None:
        where_ids = f"{cols['id']} in ({', '.join(map(_quoted, ids))})"
        pages = [(0, IDS_PER_CALL)]
    else:
        pages = [(offset, ROWS_PER_CALL) for offset in range(0, MAX_ROWS, ROWS_PER_CALL)]
    out = []
    for offset, limit in pages:
        if twin.kind == "socrata":
            where = where_ids if ids is not None else (f"{cols['requested']} >= {_quoted(_stamp(start))} AND "
                                                      f"{cols['requested']} < {_quoted(_stamp(end))}")
            out.append((twin.url, {"$select": ", ".join(wanted), "$where": where, "$order": cols["id"],
                                   "$limit": str(limit), "$offset": str(offset)}))
        else:  # ckan
            names = ", ".join(f'"{c}"' for c in wanted)
            where = (f'"{cols["id"]}" IN ({", ".join(map(_quoted, ids))})' if ids is not None else
                     f'"{cols["requested"]}" >= {_quoted(_stamp(start))} AND "{cols["requested"]}" < {_quoted(_stamp(end))}')
            sql = f'SELECT {names} FROM "{twin.resource_id}" WHERE {where} ORDER BY "{cols["id"]}" LIMIT {limit} OFFSET {offset}'
            out.append((twin.url.rstrip("/") + "/api/3/action/datastore_search_sql", {"sql": sql}))
    return out


def records_of(body: bytes, twin: OpenData, where: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The rows of one answer, each with its place (a CSV's line, a JSON row's number), and the
    problems met: a row that cannot be read is left out and named, the others are kept. An
    answer that is not rows at all is one problem, ending in "not rows"."""
    if twin.kind == "csv":
        reader = csv.reader(io.StringIO(body.decode("utf-8-sig", errors="replace"), newline=""))
        try:
            header = next(reader, None)
            if not header:
                return [], [f"{where}: an empty file; not rows"]
            rows, problems = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    problems.append(f"{where} line {reader.line_num}: {len(row)} fields where the header has {len(header)}; row left out")
                    continue
                rows.append((f"{where} line {reader.line_num}", dict(zip(header, row))))
        except csv.Error as e:
            return rows, problems + [f"{where} line {reader.line_num}: {e}; the rest of the file left out"]
        return rows, problems
    try:
        data = json.loads(body)
    except ValueError as e:
        return [], [f"{where}: not JSON ({e}); not rows"]
    if twin.kind == "ckan":
        if not isinstance(data, dict) or not data.get("success") or not isinstance(data.get("result"), dict):
            error = data.get("error") if isinstance(data, dict) else None
            return [], [f"{where}: CKAN answered no rows ({str(error)[:200]}); not rows"]
        data = data["result"].get("records")
    if not isinstance(data, list):
        return [], [f"{where}: expected a list of rows; not rows"]
    out, problems = [], []
    for number, row in enumerate(data, start=1):
        if isinstance(row, dict):
            out.append((f"{where} row {number}", row))
        else:
            problems.append(f"{where} row {number}: not an object; row left out")
    return out, problems


def normalised(row: dict[str, Any], twin: OpenData, tz: ZoneInfo, where: str) -> tuple[dict[str, Any] | None, str | None]:
    """One row in our terms, or the reason it cannot be read."""
    cols = twin.columns

    def text(name: str, limit: int = 200) -> str | None:
        value = row.get(cols[name]) if name in cols else None
        return None if blank(value) else str(value).strip()[:limit]

    ticket_id = text("id")
    if ticket_id is None:
        return None, f"{where}: no {cols['id']}; row left out"
    requested = parse_time(row.get(cols["requested"]), tz)
    if requested is None:
        return None, f"{where}: {cols['requested']} {str(row.get(cols['requested']))[:40]!r} is not a time; row left out"
    return {"id": ticket_id, "requested": requested, "closed": parse_time(row.get(cols["closed"]), tz) if "closed" in cols else None,
            "status": text("status", 50), "service": text("service"), "channel": text("channel", 100),
            "reason": text("reason", REASON_MAX_CHARS), "photo": (text("photo") is not None) if "photo" in cols else None}, None


def is_closed(row: dict[str, Any], twin: OpenData) -> bool | None:
    """Whether a twin's row is closed: a closed time, or a status the dataset uses for closed."""
    if "closed" in twin.columns and row["closed"]:
        return True
    if "status" in twin.columns:
        return (row["status"] or "").casefold() in {s.casefold() for s in twin.closed_statuses}
    return None if "closed" not in twin.columns else False


def fetch(endpoint: Endpoint, client: Client, now: datetime, still_open: list[str]) -> TwinResult:
    """One day of the twin, and the panel rows it still had open, as records."""
    twin = endpoint.open_data
    assert twin is not None
    tz = ZoneInfo(endpoint.timezone)
    start, end = local_day(endpoint, now)
    budget = Budget(client.limits, client.clock)
    result = TwinResult()
    day_rows: list[dict[str, Any]] = []
    whole: list[dict[str, Any]] = []  # a CSV twin's every row: the ids are looked up in it
    truncated = False
    for n, (url, params) in enumerate(queries(twin, start, end)):
        rows, problems, ok = _call(client, budget, url, params, twin, tz, f"{endpoint.id}: {twin.kind} page {n + 1}")
        result.problems += problems
        if not ok:
            if n == 0:
                return result  # no day at all: nothing stored, the log says why
            truncated = True
            break
        if twin.kind == "csv":
            whole = rows
            rows = [r for r in rows if start <= _local(r["requested"], tz) < end]
        day_rows += rows
        if twin.kind == "csv" or len(rows) < ROWS_PER_CALL:
            break
    else:
        truncated = True  # MAX_ROWS read and more may come: the counts are a lower bound
    closed = [is_closed(r, twin) for r in day_rows]
    apps = {c.casefold() for c in twin.open311_channels}
    result.day = TwinDayRecord(
        crawl=iso(now), endpoint=endpoint.id, day=start.date().isoformat(), rows=len(day_rows),
        closed=None if any(c is None for c in closed) else sum(bool(c) for c in closed),
        by_service=dict(Counter(r["service"] or "" for r in day_rows)) if "service" in twin.columns else None,
        by_channel=dict(Counter(r["channel"] or "" for r in day_rows)) if "channel" in twin.columns else None,
        open311=sum((r["channel"] or "").casefold() in apps for r in day_rows) if "channel" in twin.columns and apps else None,
        columns=sorted(twin.columns), truncated=truncated, bad_rows=sum(p.endswith("left out") for p in result.problems))
    panel = {r["id"]: r for r in day_rows if in_panel(endpoint.id, r["id"], endpoint.panel_rate)}
    again = [i for i in still_open if SAFE_ID.match(i) and i not in panel]
    if twin.kind == "csv":
        wanted = set(again)
        panel.update({r["id"]: r for r in whole if r["id"] in wanted})
    else:
        for n in range(min(ID_CALLS, -(-len(again) // IDS_PER_CALL))):
            chunk = again[n * IDS_PER_CALL:(n + 1) * IDS_PER_CALL]
            [(url, params)] = queries(twin, start, end, ids=chunk)
            rows, problems, _ = _call(client, budget, url, params, twin, tz, f"{endpoint.id}: {twin.kind} ids {n + 1}")
            result.problems += problems
            panel.update({r["id"]: r for r in rows if r["id"] in set(chunk)})
    result.rows = [TwinRowRecord(crawl=iso(now), endpoint=endpoint.id, **r) for _, r in sorted(panel.items())]
    return result


def _local(utc: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone(tz).replace(tzinfo=None)


def _call(client: Client, budget: Budget, url: str, params: dict[str, str], twin: OpenData, tz: ZoneInfo,
          where: str) -> tuple[list[dict[str, Any]], list[str], bool]:
    """One call's rows in our terms, the problems met, and whether it answered rows at all."""
    fetched = client.get(url, params, budget)
    if fetched is None:
        return [], [f"{where}: the budget ended the fetch"], False
    if fetched.outcome != "ok":
        detail = records_of(fetched.body, twin, where)[1][:1] if twin.kind == "ckan" and fetched.body else []
        return [], [f"{where}: {fetched.outcome}" + (f" ({fetched.error})" if fetched.error else "")] + detail, False
    raw, problems = records_of(fetched.body, twin, where)
    rows = []
    for place, row in raw:
        clean, problem = normalised(row, twin, tz, place)
        if clean is not None:
            rows.append(clean)
        elif problem:
            problems.append(problem)
    return rows, problems, not any(p.endswith("not rows") for p in problems)


STILL_OPEN_DAYS = 30  # a panel ticket's twin row is asked for again until closed, this long after it was requested


def still_open(data_dir: str | Path, endpoint: Endpoint, now: datetime) -> list[str]:
    """The panel's twin rows stored open, requested in the last STILL_OPEN_DAYS, oldest first."""
    twin = endpoint.open_data
    assert twin is not None
    since = (now - timedelta(days=STILL_OPEN_DAYS + 1)).date()
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(read_data(data_dir, since=since, kinds=("twin_rows",)).records["twin_rows"], key=lambda r: r["crawl"]):
        if row["endpoint"] == endpoint.id:
            latest[row["id"]] = row
    cutoff = iso(now - timedelta(days=STILL_OPEN_DAYS))
    return [i for i, row in sorted(latest.items(), key=lambda kv: kv[1]["requested"] or "")
            if not is_closed(row, twin) and (row["requested"] or "") >= cutoff]


def main(argv: list[str], clock: Callable[[], datetime], env: Mapping[str, str],
         client_factory: Callable[..., Client] | None = None) -> int:
    """open311-status twins: fetch each registry entry's open-data twin, once a UTC day (the crawl workflow
    calls it every run; the first run of the day fetches). A twin that fails is data: exit 0 whatever the twins
    did, 1 when a bug of ours hit one (the others' records are still written), 2 for a bad command line."""
    p = argparse.ArgumentParser(prog="open311-status twins",
                                description="Fetch the day before --now of every endpoint's open-data twin, and append the records.")
    p.add_argument("--endpoints", required=True, metavar="FILE")
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--now", type=parse_now, metavar="ISO8601", help="default: the clock")
    p.add_argument("--only", nargs="+", metavar="ID", help="only these endpoint ids")
    p.add_argument("--allow-loopback", action="store_true", help="permit 127.0.0.0/8 and ::1 (tests and the demo)")
    p.add_argument("--again", action="store_true", help="fetch even the twins already fetched on this UTC day")
    p.add_argument("--summary", metavar="FILE", help="append a Markdown report (a GitHub job summary) to FILE")
    args = p.parse_args(argv)
    try:
        endpoints = [e for e in load_registry(args.endpoints) if not args.only or e.id in args.only]
    except RegistryError as e:
        print(str(e), file=sys.stderr)
        return 2
    now = args.now or clock()
    factory = partial(client_factory or partial(make_client, agent=user_agent(env)), allow_loopback=args.allow_loopback)
    report = run_twins(endpoints, args.data, now, factory, Memory(args.data, now), again=args.again, log=print)
    for endpoint_id, trace in report.bugs.items():
        print(f"\nBUG while fetching the twin of {endpoint_id} (the crawler's fault, not the portal's):\n{trace}", file=sys.stderr)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(report.markdown())
    return 1 if report.bugs else 0


@dataclass
class TwinsReport:
    """A line per twin looked at (fetched, failed, left for a later run), and the bugs of ours met."""

    lines: dict[str, str] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # endpoint id -> traceback

    def markdown(self) -> str:
        """The lines as a GitHub job summary."""
        out = ["## Open-data twins", ""]
        if not self.lines:
            return "\n".join(out + ["Nothing to fetch: every twin was fetched earlier this UTC day.", ""])
        out += [f"- `{ident}`: {line.replace('`', chr(39))}" for ident, line in self.lines.items()]
        return "\n".join(out + [""])


def run_twins(endpoints: list[Endpoint], data_dir: str | Path, now: datetime, client_factory: Callable[..., Client],
              memory: Memory, again: bool = False, log: Callable[..., None] = lambda *a, **k: None, durable: bool = True,
              budget_s: float = TWINS_S, clock: Callable[[], float] = time_module.monotonic) -> TwinsReport:
    """Fetch the twins not yet fetched on now's UTC day (all with again) and append their records.

    Each twin on its own: a failed one, or a bug of ours that hit it, leaves the others untouched.
    All of them share budget_s (timing.py); those it does not reach are fetched by the next run."""
    report = TwinsReport()
    done = {d["endpoint"] for d in read_data(data_dir, since=now.date(), until=now.date(), kinds=("twins",)).records["twins"]}
    started = clock()
    for endpoint in endpoints:
        if endpoint.open_data is None or (endpoint.id in done and not again):
            continue  # once a day: every crawl may call this, the first of the day fetches
        left = budget_s - (clock() - started)
        if left < LIMITS.min_call_s * 10:
            report.lines[endpoint.id] = "left for the next run: the twins' time of this run is spent"
            log(f"{endpoint.id}: {report.lines[endpoint.id]}")
            continue
        try:
            report.lines[endpoint.id] = fetch_one(endpoint, data_dir, now, client_factory, memory,
                                                  replace(LIMITS, endpoint_s=min(LIMITS.endpoint_s, left)), log, durable)
        except Exception:  # a bug of ours: the other twins go on, and the run says so
            report.bugs[endpoint.id] = traceback.format_exc()
            report.lines[endpoint.id] = "BUG (the crawler's fault; see the log)"
        log(f"{endpoint.id}: {report.lines[endpoint.id]}")
    return report


def fetch_one(endpoint: Endpoint, data_dir: str | Path, now: datetime, client_factory: Callable[..., Client], memory: Memory,
              limits: Limits, log: Callable[..., None], durable: bool) -> str:
    """Fetch one twin and append its records; a line saying what came."""
    assert endpoint.open_data is not None
    client = client_factory(1.0, limits=limits, host=urlsplit(endpoint.open_data.url).hostname or "")
    with client:
        result = fetch(endpoint, client, now, still_open(data_dir, endpoint, now))
    for problem in result.problems:
        log(f"  {problem}", file=sys.stderr)
    if result.day is None:
        return f"no rows: {result.problems[0] if result.problems else 'nothing answered'}"
    store.append(data_dir, "twins", [result.day.to_dict()], lambda r: day_of(r["crawl"]), durable=durable)
    store.append(data_dir, "twin_rows", memory.changed("twin_rows", [r.to_dict() for r in result.rows]),
                 lambda r: day_of(r["crawl"]), durable=durable)
    d = result.day
    return (f"{d.day}: {d.rows} rows{' (more not read)' if d.truncated else ''}, {len(result.rows)} panel rows, "
            f"{d.bad_rows} left out")


