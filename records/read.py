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
from typing import Any, Callable, Iterator, TypeVar

import msgspec

from records import archive, terse
from records.layout import KINDS, day_path
from records.types import RECORD_TYPES
from vocabulary import day_of

T = TypeVar("T")  # what _day_or_month gives of a day


def _expected_types(cls: type) -> dict[str, frozenset[type]]:
    out: dict[str, frozenset[type]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        if typing.get_origin(hint) is typing.ClassVar:
            continue
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        # dict[str, str] is checked as a dict; a float field also takes a whole number.
        plain = tuple(typing.get_origin(t) or t for t in options)
        out[name] = frozenset(plain + ((int,) if float in plain else ()))
    return out


EXPECTED = {kind: _expected_types(cls) for kind, cls in RECORD_TYPES.items()}
# The fields that hold a dict or a list (a probe's findings, a twin day's counts): JSON text in a table or an archive.
NESTED = {kind: {n for n, hint in typing.get_type_hints(cls).items() if "dict" in str(hint) or "list" in str(hint)}
          for kind, cls in RECORD_TYPES.items()}


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
    """The sound records read, by kind, and the lines that were not (FILE:LINE: why)."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    problems: list[str] = field(default_factory=list)


def day_of_file(path: Path) -> date | None:
    """The day a file is for, or None for a file that is no day file."""
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        return None


def read_data(
    data_dir: str | Path, since: date | None = None, until: date | None = None, kinds: tuple[str, ...] = KINDS
) -> Loaded:
    """Every sound record of the kinds in [since, until] (by day file), with the problems met: the archived months
    first (records/archive.py: a month is archived once it is over), then the day files."""
    data_dir = Path(data_dir)
    loaded = Loaded()
    for kind in kinds:
        for month, stored in archive.months(data_dir, kind).items():
            if archive.in_span(month, since, until):
                loaded.records[kind].extend(archive.probe_records(stored, since, until) if kind == "probes"
                                            else archive.read_records(stored, kind, NESTED[kind], since, until))
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
    """Append a day file's sound records to loaded (a probe line as its calls), and its problems."""
    out = loaded.records[kind]
    if kind == "probes":
        for line in probe_lines(path, loaded.problems):
            out.extend(terse.expand(line))
        return
    for _, record in _lines(path, kind, loaded.problems):
        out.append(record)


def probe_lines(path: Path, problems: list[str]) -> list[terse.Line]:
    """The sound lines of a probe day file, decoded and checked in one step (records/terse.py); each
    other line is said in problems as FILE:LINE."""
    lines = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                lines.append(terse.decode(raw))
            except ValueError as e:
                problems.append(f"{path}:{number}: {_probe_problem(raw, e)}; skipped")
    return lines


def probe_days(data_dir: str | Path, days: list[date], problems: list[str]) -> Iterator[tuple[date, list[terse.Line]]]:
    """(day, its probe lines) for each of these days that has any, in their order: from its day file, or from its
    archived month (read once, column by column, as far as these days reach; one month held at a time)."""
    def of_month(month: Path, inside: list[date]) -> dict[date, list[terse.Line]]:
        by_day: dict[date, list[terse.Line]] = {}
        for line in archive.probe_lines(month, min(inside), max(inside)):
            by_day.setdefault(day_of(line.crawl), []).append(line)
        return by_day

    yield from _day_or_month(data_dir, days, lambda path: probe_lines(path, problems), of_month)


def probe_calls(data_dir: str | Path, days: list[date], problems: list[str], methods: frozenset[str],
                names: tuple[str, ...]) -> Iterator[tuple[date, dict[str, list[Any]]]]:
    """(day, its calls of these methods, column by column: the columns named, of records.terse.COLUMNS) for each
    of these days that has any, in their order: from its day file, or from its archived month, filtered there
    before a value of it is made (the crawl's start reads a quarter of a year of them). Not the columns a line
    carries from call to call (content_type, rtt_ms)."""
    if set(names) & set(terse.CARRIED):
        raise ValueError(f"probe_calls does not give {sorted(set(names) & set(terse.CARRIED))}")
    on_line = [n for n in names if n in ("crawl", "endpoint", "crawler")]
    on_call = [terse.SHORT[n] for n in names if n not in on_line]
    at = {n: i for i, n in enumerate([*on_line, *(n for n in names if n not in on_line)])}

    def of_file(path: Path) -> dict[str, list[Any]]:
        rows = [(*(getattr(line, n) for n in on_line), *(getattr(c, k) for k in on_call))
                for line in probe_lines(path, problems) for c in line.calls if c.m in methods]
        return {n: [row[at[n]] for row in rows] for n in names}

    for day, cols in _day_or_month(data_dir, days, of_file, lambda month, inside: archive.probe_days(month, inside, methods, names)):
        if cols[names[0]]:
            yield day, cols


def probe_source(data_dir: str | Path, day: date) -> Path | None:
    """The file a day's probe lines are read from: its day file, else its archived month; None when there is neither."""
    for path in (day_path(data_dir, "probes", day), archive.month_path(data_dir, "probes", day.isoformat()[:7])):
        if path.exists():
            return path
    return None


def _day_or_month(data_dir: str | Path, days: list[date], of_file: Callable[[Path], T],
                  of_month: Callable[[Path, list[date]], dict[date, T]]) -> Iterator[tuple[date, T]]:
    """(day, what of_file gives of its day file) for each of these days, in their order; for a day without one, what
    of_month gives of it, when its month is archived: of_month reads the month once, for all these days of it (one
    month held at a time)."""
    held: tuple[str, dict[date, T]] = ("", {})
    for day in days:
        source = probe_source(data_dir, day)
        if source is None:
            continue
        if source.suffix == ".jsonl":
            yield day, of_file(source)
        else:
            month = source
            if held[0] != month.stem:
                held = (month.stem, of_month(month, [d for d in days if d.isoformat()[:7] == month.stem]))
            if day in held[1]:
                yield day, held[1][day]


def _probe_problem(raw: bytes, error: ValueError) -> str:
    """Why a probe line is not sound: not JSON at all, or JSON that is not a probe line."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        return f"not valid JSON ({e.__class__.__name__}: {e})"
    if isinstance(record, dict) and record.get("v") == 1:
        return "a probe line of layout v1 (one call a line, before crawler 0.3.0), which is no longer read"
    return str(error)


def _lines(path: Path, kind: str, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each sound line of a day file of any kind but probes, as a dict with the
    defaults of fields added since its kind was first written; each other line is said in problems."""
    expected = EXPECTED[kind]
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            problem = None
            try:
                record = _decode(raw)
            except (ValueError, UnicodeDecodeError) as e:
                problem = f"not valid JSON ({e.__class__.__name__}: {e})"
            else:
                if isinstance(record, dict):
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


def _decode(raw: bytes) -> Any:
    """A line as JSON: by msgspec, in C (a crawl reads back a month of tickets); a line it will not take goes to json,
    which says why in its own words (or takes what msgspec does not, such as NaN)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return json.loads(raw)


def record_problem(record: Any, expected: dict[str, frozenset[type]]) -> str | None:
    """Why a record is not sound (a missing field, a wrong type), or None: said as FILE:LINE and skipped. Decoded JSON
    holds only exact types, so a value's type is looked up (which also keeps True out of a whole number's field)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for name, allowed in expected.items():
        value = record.get(name, _MISSING)
        if type(value) not in allowed:
            return f"missing field '{name}'" if value is _MISSING else f"field '{name}' has the wrong type ({type(value).__name__})"
    return None


_MISSING = object()
