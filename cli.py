"""open311-status COMMAND [ARGS ...]: the one command of Open311 Status.

Each command hands its arguments to the module that does the work, unchanged, so
`open311-status COMMAND --help` is that module's own help, and the long-standing spellings
(`python -m crawler ...`, `python build.py ...`) do exactly the same.
"""

from __future__ import annotations

import http.server
import io
import os
import re
import runpy
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def crawl(argv: list[str]) -> int:
    """open311-status crawl: the crawler's own command line."""
    from crawler.__main__ import main

    return main(argv)


def check(argv: list[str]) -> int:
    """open311-status check: the contributor's check, with the real clock."""
    from check import main

    return main(argv, clock=_now)


def twins(argv: list[str]) -> int:
    """open311-status twins: the daily fetch of the open-data twins, with the real clock and environment."""
    from twins import main

    return main(argv, clock=_now, env=os.environ)


def validate(argv: list[str]) -> int:
    """open311-status validate: the registry check."""
    from registry import main

    return main(argv)


def incidents(argv: list[str]) -> int:
    """open311-status incidents: the incidents as GitHub issues, with the real clock and GITHUB_TOKEN."""
    from incidents import main

    return main(argv, clock=_now, env=os.environ)


def forms(argv: list[str]) -> int:
    """open311-status forms: answer a new issue of the issue forms, with the real clock, ISSUE_BODY and GITHUB_TOKEN."""
    from forms import main

    return main(argv, clock=_now, env=os.environ)


def audit(argv: list[str]) -> int:
    """open311-status audit: import a field audit."""
    from audits import main

    return main(argv)


def build(argv: list[str]) -> int:
    """open311-status build: build.py's command line."""
    from builder import main

    return main(argv)


def demo(argv: list[str]) -> int:
    """open311-status demo: the simulated month behind make demo."""
    from simulator.demo import main

    return main(argv)


class PagesHandler(http.server.SimpleHTTPRequestHandler):
    """Files as GitHub Pages serves them, byte ranges too: DuckDB reads a Parquet file's footer, then only the
    columns a query needs (Range: bytes=A-B, bytes=A- and bytes=-N, answered 206 with Content-Range)."""

    def send_head(self) -> Any:  # SimpleHTTPRequestHandler's: a file or buffer to copy, or None
        """The headers, and the body to send: the asked-for bytes of a file, or what SimpleHTTPRequestHandler sends."""
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        path = self.translate_path(self.path)
        if not wanted or wanted.groups() == ("", "") or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, end = wanted.groups()
        first, last = (max(0, size - int(end)), size - 1) if start == "" else (int(start), min(int(end or size - 1), size - 1))
        if first > last or first >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        with open(path, "rb") as f:
            f.seek(first)
            body = f.read(last - first + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)


def serve(argv: list[str]) -> int:
    """Serve a built site on loopback, as GitHub Pages would serve it, until interrupted."""
    import argparse
    import functools

    p = argparse.ArgumentParser(prog="open311-status serve", description=serve.__doc__)
    p.add_argument("--directory", default="site", help="the built site (default: site)")
    p.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1 (default: 8000)")
    args = p.parse_args(argv)
    if not (Path(args.directory) / "index.html").exists():
        print(f"open311-status serve: no site in {args.directory}/ yet: run open311-status demo (or build) first", file=sys.stderr)
        return 1
    handler = functools.partial(PagesHandler, directory=args.directory)
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"serving {args.directory}/ on http://127.0.0.1:{args.port}/; Ctrl-C to stop", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def archive(argv: list[str]) -> int:
    """open311-status archive: the monthly archive of data/ (compact, export), with the real clock."""
    from history.archive import main

    return main(argv, clock=_now)


def shards(argv: list[str]) -> int:
    """open311-status shards: the crawl workflow's export and merge of sharded crawls."""
    from shards import main

    return main(argv)


def bench(argv: list[str]) -> int:
    """The benchmarks of benchmarks/run.py, printed as one table (they live beside the code, not in the package)."""
    sys.argv = [str(ROOT / "benchmarks" / "run.py"), *argv]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    return 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "crawl": (crawl, "probe every endpoint of the registry and append the records to data/ (python -m crawler)"),
    "check": (check, "try a candidate endpoint once, or the registry entries a pull request touches (python -m check)"),
    "twins": (twins, "fetch the open-data twins, once a UTC day (python -m twins)"),
    "validate": (validate, "check endpoints.yaml, every problem on a line of its own (python -m crawler.registry)"),
    "incidents": (incidents, "open, comment on and close a GitHub issue for each incident (python -m incidents)"),
    "forms": (forms, "answer an issue of the issue forms: check a proposed endpoint, or put a report on its incident (python -m forms)"),
    "audit": (audit, "import a field audit: what people saw of tickets on the street"),
    "build": (build, "render the site from data/ (python build.py)"),
    "demo": (demo, "crawl a simulated world for 30 days and build its site, offline"),
    "serve": (serve, "serve the built site on http://127.0.0.1:8000/"),
    "archive": (archive, "compact the months that are over into data/archive/, or export one as JSON Lines"),
    "shards": (shards, "export a shard's new lines, or merge shards' lines (the crawl workflow)"),
    "bench": (bench, "run the benchmarks and print their table"),
}


def usage() -> str:
    """The commands, a line each: what open311-status --help and a mistyped command show."""
    width = max(map(len, COMMANDS))
    return "\n".join(["usage: open311-status COMMAND [ARGS ...]", "", "commands:"]
                     + [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
                     + ["", "open311-status COMMAND --help shows a command's own options."])


def main(argv: list[str] | None = None) -> int:
    """Run one command; 2 with the list of commands when none or an unknown one is given."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(usage() if not argv else f"open311-status: no command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:])


def _now() -> datetime:
    return datetime.now(timezone.utc)


if __name__ == "__main__":
    sys.exit(main())
