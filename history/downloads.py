"""What the site publishes of the history, and what moves to GitHub Releases so the site stays under Pages' 1 GB.

The build writes every month of every kind as Parquet (history/parquet.py). The newest months stay on the
site while their files together fit within the limit (the newest month always does); every older month
goes into one zip per year, open311-status-<YYYY>.zip, which the crawl workflow publishes as the asset of
the release data-<YYYY> (.github/scripts/release-archive.sh). downloads/manifest.json lists both, with
sizes and SHA-256, and links each year to its asset. plan() is pure, so make bench runs it on sizes alone.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from history.parquet import sha256, table_schema

DEFAULT_LIMIT = 500_000_000  # bytes of Parquet on the site: half of Pages' 1 GB, the pages and the rest have the other half
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's time, so a year's zip has the same bytes whenever it is made


def plan(sizes: dict[str, int], limit: int = DEFAULT_LIMIT) -> tuple[list[str], dict[str, list[str]]]:
    """Months (YYYY-MM -> bytes of all their files) to (those kept on the site, newest first; year -> months moved
    to that year's release asset, in order). A month that does not fit moves, and every month before it."""
    kept: list[str] = []
    moved: dict[str, list[str]] = defaultdict(list)
    total = 0
    for month in sorted(sizes, reverse=True):
        if not moved and (not kept or total + sizes[month] <= limit):
            kept.append(month)
            total += sizes[month]
        else:
            moved[month[:4]].insert(0, month)
    return kept, dict(sorted(moved.items()))


def asset_name(year: str) -> str:
    """A year's zip: its name on the release data-<YYYY> too (.github/scripts/release-archive.sh reads the year from it)."""
    return f"open311-status-{year}.zip"


def write_archive(year: str, files: list[Path], archive_dir: Path) -> Path:
    """One year's moved month files as a zip (stored: Parquet is compressed already), the same bytes each time."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    path = archive_dir / asset_name(year)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for file in sorted(files, key=lambda p: p.name):
            info = zipfile.ZipInfo(file.name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            z.writestr(info, file.read_bytes())
    return path


def publish(entries: list[dict[str, Any]], staged: Path, downloads: Path, archive_dir: Path, release_url: str | None,
            limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """Move the staged month files into downloads/ or a year's zip in archive_dir; return the manifest's Parquet part
    (and each kind's Table Schema, for the data package)."""
    by_month: dict[str, int] = defaultdict(int)
    for e in entries:
        by_month[e["month"]] += e["bytes"]
    kept, moved = plan(dict(by_month), limit)
    downloads.mkdir(parents=True, exist_ok=True)
    on_site = [e for e in entries if e["month"] in kept]
    for e in on_site:
        (staged / e["path"]).replace(downloads / e["path"])
    archives = []
    for year, months in moved.items():
        files = [e for e in entries if e["month"] in months]
        zipped = write_archive(year, [staged / e["path"] for e in files], archive_dir)
        archives.append({"year": year, "months": months, "path": zipped.name, "bytes": zipped.stat().st_size,
                         "sha256": sha256(zipped), "url": f"{release_url}data-{year}/{zipped.name}" if release_url else None,
                         "files": files})
    schemas = {kind: table_schema(kind) for kind in sorted({e["kind"] for e in on_site})}
    return {"limit_bytes": limit, "parquet": on_site, "archives": archives, "schemas": schemas}
