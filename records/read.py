"""Read day files back, skipping (and reporting) any line that is not a sound record.

A corrupt or truncated line never stops a build: it is reported as FILE:LINE and skipped.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from records import terse
from records.layout import KINDS
from records.types import (AuditRecord, CrawlRecord, EndpointRecord, EventRecord, ProbeRecord, ServiceRecord, TicketRecord,
                           TwinDayRecord, TwinRowRecord)

RECORD_TYPES = {"probes": ProbeRecord, "tickets": TicketRecord, "events": EventRecord, "services": ServiceRecord, "endpoints": EndpointRecord,
                "crawls": CrawlRecord, "twins": TwinDayRecord, "twin_rows": TwinRowRecord, "audits": AuditRecord}


def _expected_types(cls: type) -> dict[str, tuple[type, ...]]:
    out: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        if typing.get_origin(hint) is typing.ClassVar:
            continue
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        # dict[str, str] is checked as a dict; a float field also takes a whole number.
        plain = tuple(typing.get_origin(t) or t for t in options)
        out[name] = plain + ((int,) if float in plain else ())
    return out


EXPECTED = {kind: _expected_types(cls) for kind, cls in RECORD_TYPES.items()}


def _defaults(cls: type) -> dict[str, Any]:
    """Fields added after a kind was first written, with the value older lines stand for."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "v":
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory
    return out


DEFAULTS = {kind: _defaults(cls) for kind, cls in RECORD_TYPES.items()}


@dataclass
class Loaded:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    problems: list[str] = field(default_factory=list)


def day_of_file(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        return None


def read_data(
    data_dir: str | Path, since: date | None = None, until: date | None = None, kinds: tuple[str, ...] = KINDS
) -> Loaded:
    """Every sound record of the kinds in [since, until] (by day file), with the problems met."""
    data_dir = Path(data_dir)
    loaded = Loaded()
    for kind in kinds:
        for path in sorted((data_dir / kind).glob("*/*.jsonl")):
            day = day_of_file(path)
            if day is None:
                loaded.problems.append(f"{path}: not a day file (expected YYYY-MM-DD.jsonl); skipped")
                continue
            if (since and day < since) or (until and day > until):
                continue
            read_file(path, kind, loaded)
    return loaded


def read_file(path: Path, kind: str, loaded: Loaded) -> None:
    out = loaded.records[kind]
    for number, record in _lines(path, kind, loaded.problems):
        if isinstance(record, terse.Line):
            out.extend(terse.expand(record))
        else:
            out.append(record)


def probe_records(path: Path, problems: list[str], crawl_day: str | None = None,
                  mentioning: str | None = None) -> tuple[list[terse.Line], list[dict[str, Any]]]:
    """The sound probe records of a day file: its v2 lines (decoded) and its v1 records, only those of
    crawls on crawl_day (YYYY-MM-DD) when given. With mentioning, a line without that text is passed
    over unread (a quick look for the few of another day)."""
    lines: list[terse.Line] = []
    old: list[dict[str, Any]] = []
    for _, record in _lines(path, "probes", problems, mentioning.encode() if mentioning else None):
        if isinstance(record, terse.Line):
            if crawl_day is None or record.crawl.startswith(crawl_day):
                lines.append(record)
        elif crawl_day is None or record["crawl"].startswith(crawl_day):
            old.append(record)
    return lines, old


def probe_columns(lines: list[terse.Line], old: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """probe_records' calls column by column (terse.COLUMNS: probed_at as seconds after the crawl)."""
    out = terse.columns(lines)
    for record in old:  # v1: one call a line
        for name in terse.COLUMNS:
            out[name].append(record[name])
        out["probed_at"][-1] = terse.seconds_after(record["probed_at"], record["crawl"])
    return out


def _lines(path: Path, kind: str, problems: list[str], mentioning: bytes | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, record) for each sound line: a decoded terse.Line for v2 probe lines, else a dict
    with the defaults of fields added since; each other line is said in problems."""
    expected = EXPECTED[kind]
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip() or (mentioning is not None and mentioning not in raw):
                continue
            if kind == "probes":
                try:
                    yield number, terse.decode(raw)  # the common case, decoded and checked at once
                    continue
                except ValueError as e:
                    v2_problem = str(e)
            problem = None
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                problem = f"not valid JSON ({e.__class__.__name__}: {e})"
            else:
                if kind == "probes" and isinstance(record, dict) and record.get("v") == terse.LAYOUT:
                    problem = v2_problem
                elif isinstance(record, dict):
                    for name, default in DEFAULTS[kind].items():
                        if name not in record:
                            record[name] = default() if callable(default) else default
                    problem = record_problem(record, expected)
                else:
                    problem = "not a JSON object"
            if problem:
                problems.append(f"{path}:{number}: {problem}; skipped")
            else:
                yield number, record


def record_problem(record: Any, expected: dict[str, tuple[type, ...]]) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    for name, allowed in expected.items():
        if name not in record:
            return f"missing field '{name}'"
        value = record[name]
        ok = any(
            (value is None if t is type(None) else isinstance(value, t) and not (t is int and isinstance(value, bool)))
            for t in allowed
        )
        if not ok:
            return f"field '{name}' has the wrong type ({type(value).__name__})"
    return None
