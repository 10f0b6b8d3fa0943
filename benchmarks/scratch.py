"""A scratch git repository the benchmarks commit crawls into, as the crawl workflow does, and weigh as a clone gets it."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path


class Repo:
    """A git repository at path, made on the spot, with the project's .gitattributes (the union merge of day files)."""

    def __init__(self, path: Path, attributes: Path | None = None):
        self.path = path
        (path / "data").mkdir(parents=True)
        for args in (("init", "-q"), ("config", "user.email", "bench@example.org"), ("config", "user.name", "bench")):
            self.git(*args)
        if attributes is not None:
            (path / ".gitattributes").write_text(attributes.read_text())

    def git(self, *args: str) -> str:
        """Run git in the repository; its output."""
        return subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, check=True).stdout

    def commit(self, message: str) -> None:
        """Everything, committed."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def packed(self) -> int:
        """The bytes of its packs (after git gc: what a clone gets)."""
        return sum(p.stat().st_size for p in (self.path / ".git" / "objects" / "pack").glob("*.pack"))

    def packed_sizes(self) -> tuple[collections.Counter[str], collections.Counter[str]]:
        """The packed bytes by object type (commit, tree, blob), and of the blobs by data/ kind."""
        by_type: collections.Counter[str] = collections.Counter()
        listed = (line.partition(" ") for line in self.git("rev-list", "--objects", "--all").splitlines())
        kind_of = {sha: path.split("/")[1] for sha, _, path in listed if path.startswith("data/") and path.count("/") >= 2}
        blob_kinds: collections.Counter[str] = collections.Counter()
        for pack in (self.path / ".git" / "objects" / "pack").glob("*.idx"):
            for line in self.git("verify-pack", "-v", str(pack)).splitlines():
                parts = line.split()
                if len(parts) >= 5 and parts[1] in ("commit", "tree", "blob"):
                    by_type[parts[1]] += int(parts[3])  # size in the pack
                    if parts[1] == "blob":
                        blob_kinds[kind_of.get(parts[0], "other")] += int(parts[3])
        return by_type, blob_kinds


def mirror_renamed(source: Path, target: Path) -> None:
    """Copy the day files that changed from source to target, each named with its kind last: data/probes/2026/
    2026-11-10.jsonl becomes data/probes/2026/2026-11-10.probes.jsonl (day files only grow, so a size tells a change)."""
    for path in source.rglob("*.jsonl"):
        kind = path.relative_to(source).parts[0]
        copy = target / path.relative_to(source).parent / f"{path.stem}.{kind}.jsonl"
        if not copy.exists() or copy.stat().st_size != path.stat().st_size:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
