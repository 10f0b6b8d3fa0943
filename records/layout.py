"""Where records live and how one is serialised."""

from __future__ import annotations

import json
from datetime import date
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

