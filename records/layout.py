"""Where records live and how one is serialised."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

LAYOUT_VERSION = 1
KINDS = ("probes", "tickets", "events", "services", "endpoints", "crawls", "twins", "twin_rows", "audits", "incidents")


def day_path(data_dir: str | Path, kind: str, day: date) -> Path:
    """Where a day's records of a kind live: one file per UTC day, so files only ever grow."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    return Path(data_dir) / kind / f"{day.year:04d}" / f"{day.isoformat()}.jsonl"


def dumps(record: dict[str, Any]) -> str:
    """One line, sorted keys, no padding: deterministic, so git diffs stay small."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def iso(moment: datetime) -> str:
    """UTC, to the second, with Z: the one timestamp format of data/ (also for pandas Timestamps)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1 << 14)
def moment(stamp: str) -> datetime:
    """A time as data/ stores it (iso's format) back as a datetime; cached, for the same stamps are read again and again
    (a crawl's panel tickets were seen in a few thousand crawls, and the panel is asked every crawl)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def parse_moment(text: str) -> datetime:
    """A --now value: ISO 8601, taken as UTC when it has no offset. Raises ValueError."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
