"""make bench, issue 29 (part 6): a repository aged by years at 100 endpoints, under the crawl workflow's own
compaction and commits; after each year, what is left to check out, to clone, to read and to build.

Scaled where the machine cannot do it in full, and how:
- The day files are the demo's own lines: its 12 cities crawled every 30 minutes for 30 simulated days, of which
  the last 7 are the pool (the days issue 29 measured). Each day, each of the 100 endpoints takes one of its
  city's 7 days at random, renamed, its dates moved, and its numbers (`ms`, `w`, `b`) jittered by up to a fifth
  and kept to two significant digits, so that no two days are the same bytes. The registry's lines (endpoints,
  services) come once, from the simulation's first day; audits and incidents are left out (a few lines a month).
- One commit a day, where the workflow makes one a crawl: 48 times fewer commits of the same lines. What one
  commit a crawl adds is measured apart, on two days committed both ways (their new objects packed as a push
  sends them), and added to the clones' figures beside what was measured.
- Each day the merge job's two steps: its crawls' commit, then `archive compact` and its commit, both through
  .github/scripts/commit-data.sh (pushed to a branch of the same repository). Loose objects are packed once a
  month (git repack -d), as git's own upkeep would: each pack's deltas are found within its month.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchmarks.measure import ROOT, build_in_child, size
from records.layout import day_path
from records.terse import two_digits

ENDPOINTS = 100
YEARS = 5
SIM_DAYS = 30  # the demo's simulation, as issue 29 measured it: the last POOL_DAYS of them
POOL_DAYS = 7
START = date(2027, 1, 1)
DAILY = ("probes", "tickets", "events", "crawls", "twins", "twin_rows")
ONCE = ("endpoints", "services")  # stored as changes: the registry's first day, then (here) nothing changes
JOBS = ("/*", "!/data/archive/")  # the crawl and merge jobs' checkout (.github/workflows/crawl.yml)
CONTRIBUTOR = ("/*", "!/data/", "/data/README.md")  # README, "Built for years"
COMMIT = ROOT / ".github" / "scripts" / "commit-data.sh"
DATE = re.compile(r"\d{4}-\d\d-\d\d")
NUMBER = re.compile(r'"(ms|w|b)":(\d+)')
ENDPOINT = re.compile(r'"endpoint":"([^"]+)"')
CRAWL = re.compile(r'"crawl":"([^"]+)"')


@dataclass
class Pool:
    """The demo's lines: per kind, per (city, or None for a kind kept per crawl, and day 0..6), that day's lines."""

    cities: list[str]
    dates: list[date]
    days: dict[str, dict[tuple[str | None, int], str]]
    first: dict[str, dict[str | None, str]]
    first_date: date


def pool(tmp: Path) -> Pool:
    """Simulate the demo's cities for SIM_DAYS and keep the lines of the last POOL_DAYS (and the registry's)."""
    from simulator.demo import DEFAULT_SCENARIO
    from simulator.demo import run as simulate
    from simulator.scenario import load

    end = datetime(2026, 11, 20, tzinfo=timezone.utc)
    cities = load(DEFAULT_SCENARIO)
    simulate(cities, tmp, end - timedelta(days=SIM_DAYS), end, timedelta(minutes=30), progress=False)
    dates = [(end - timedelta(days=n)).date() for n in range(POOL_DAYS, 0, -1)]
    days = {kind: {(key, i): text for i, day in enumerate(dates) for key, text in by_endpoint(day_path(tmp / "data", kind, day)).items()}
            for kind in DAILY}
    first = (end - timedelta(days=SIM_DAYS)).date()
    return Pool([c.id for c in cities], dates, days, {kind: by_endpoint(day_path(tmp / "data", kind, first)) for kind in ONCE}, first)


def by_endpoint(path: Path) -> dict[str | None, str]:
    """A day file's lines by their endpoint (None for lines of no endpoint), in their order."""
    out: dict[str | None, list[str]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        found = ENDPOINT.search(line)
        out.setdefault(found[1] if found else None, []).append(line)
    return {key: "\n".join(lines) + "\n" for key, lines in out.items()}


@functools.lru_cache(maxsize=None)
def _moved(day: str, by: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=by)).isoformat()


def moved(text: str, by: int, city: str | None, name: str | None, rng: random.Random | None) -> str:
    """A city's lines as another endpoint's, `by` days later, their numbers jittered when rng is given."""
    text = DATE.sub(lambda m: _moved(m[0], by), text)
    if city is not None:
        text = text.replace(f'"endpoint":"{city}"', f'"endpoint":"{name}"')
    if rng is not None:
        text = NUMBER.sub(lambda m: f'"{m[1]}":{two_digits(int(int(m[2]) * rng.uniform(0.8, 1.25)))}', text)
    return text


def endpoint_ids(pool: Pool, n: int) -> list[tuple[str, str]]:
    """(its city, its id) of each of the n endpoints."""
    return [(pool.cities[k % len(pool.cities)], f"{pool.cities[k % len(pool.cities)]}_{k:03d}") for k in range(n)]


def day_files(pool: Pool, day: date, n: int, rng: random.Random) -> dict[str, str]:
    """One day of n endpoints' lines, per kind."""
    out: dict[str, str] = {}
    for kind in DAILY:
        parts = []
        for city, name in endpoint_ids(pool, n) if kind != "crawls" else [(None, None)]:
            i = rng.randrange(POOL_DAYS)
            if text := pool.days[kind].get((city, i)):
                parts.append(moved(text, (day - pool.dates[i]).days, city, name, rng if kind == "probes" else None))
        if parts:
            out[kind] = "".join(parts)
    return out


def registry_files(pool: Pool, day: date, n: int) -> dict[str, str]:
    """The registry's lines (endpoints and services) of n endpoints, as their first crawl stores them."""
    by = (day - pool.first_date).days
    return {kind: "".join(moved(pool.first[kind][city], by, city, name, None) for city, name in endpoint_ids(pool, n)
                          if city in pool.first[kind]) for kind in ONCE}


def write(data: Path, day: date, files: dict[str, str], append: bool = False) -> None:
    for kind, text in files.items():
        path = day_path(data, kind, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w") as f:
            f.write(text)


def one_crawl(pool: Pool, at: datetime, n: int, rng: random.Random) -> str:
    """The probe lines of one crawl at `at`: each endpoint's first line of one of its city's days, stamped then."""
    lines = []
    for city, name in endpoint_ids(pool, n):
        i = rng.randrange(POOL_DAYS)
        if text := pool.days["probes"].get((city, i)):
            line = moved(text.partition("\n")[0] + "\n", (at.date() - pool.dates[i]).days, city, name, rng)
            lines.append(CRAWL.sub(f'"crawl":"{at:%Y-%m-%dT%H:%M:%SZ}"', line, count=1))
    return "".join(lines)


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, input=stdin).stdout


def start_repository(repo: Path) -> None:
    """The project's code and registry at HEAD (its data/ only README.md), committed once: what the clones carry besides the data."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.name", "bench"), ("user.email", "bench@example.org"), ("gc.auto", "0"),
                       ("uploadpack.allowFilter", "true"), ("uploadpack.allowAnySHA1InWant", "true")):
        git(repo, "config", key, value)
    tracked = [p for p in git(ROOT, "ls-files").splitlines() if not p.startswith("data/") or p == "data/README.md"]
    for path in tracked:
        if (ROOT / path).is_file():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, repo / path)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "The project")
    git(repo, "remote", "add", "origin", str(repo))


def commit(repo: Path, message: str) -> None:
    """The workflow's own commit step (pushed to the branch `aged` of the same repository)."""
    subprocess.run(["bash", str(COMMIT), message, "aged"], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "COMMIT_ATTEMPTS": "1"})


def compact(repo: Path, now: datetime) -> None:
    """The merge job's step: `open311-status archive compact`, as of the crawl's time."""
    from history import archive

    with contextlib.redirect_stdout(io.StringIO()) as said:
        if archive.main(["compact", "--data", str(repo / "data"), "--now", now.strftime("%Y-%m-%dT%H:%M:%SZ")]) != 0:
            raise RuntimeError(f"archive compact refused a month: {said.getvalue()}")


@dataclass
class Year:
    """What one simulated year leaves, in bytes and seconds."""

    archive: int
    live: int
    jobs: dict[str, tuple[int, int]]  # job -> (data/ checked out, .git)
    memory_s: tuple[float, float]  # the crawl's start: its digests made (the cache lost), kept (the cache restored)
    contributor: tuple[int, int]  # (the clone in all, its .git)
    blobless: int
    full: int
    builds: list[tuple[float, float, float]]  # cold, warm: seconds, peak MB, largest child MB


def clone(repo: Path, dest: Path, *options: str) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    git(repo.parent, "clone", "-q", *options, f"file://{repo}", str(dest))
    return dest


def job_checkout(repo: Path, dest: Path, job: str, now: datetime) -> Path:
    """What actions/checkout does with the workflow's sparse patterns (one commit, blobless), then the job's archive
    months (history/archive.py READS)."""
    from history.archive import checkout

    clone(repo, dest, "--depth", "1", "--filter=blob:none", "--no-checkout")
    git(dest, "sparse-checkout", "set", "--no-cone", *JOBS)
    git(dest, "checkout", "-q", "main")
    git(dest, "sparse-checkout", "add", *checkout(job, now))
    return dest


def memory_read(data: Path, now: datetime, cache: Path | None = None) -> float:
    """The crawl's start: its memory of what is stored (crawler/memory.py Memory), read whole, with the digests of its
    older days (crawler/digest.py) kept in cache."""
    from crawler.memory import Memory

    started = time.monotonic()
    memory = Memory(data, now, cache)
    memory.covered()
    for kind in ("tickets", "events", "services", "endpoints", "twin_rows"):
        memory.changed(kind, [])
    return time.monotonic() - started


def measure(repo: Path, tmp: Path, pool: Pool, n: int, now: datetime) -> Year:
    data = repo / "data"
    jobs, memory_s = {}, (0.0, 0.0)
    for job in ("crawl", "merge"):
        dest = job_checkout(repo, tmp / f"job-{job}", job, now)
        jobs[job] = (size(dest / "data"), size(dest / ".git"))
        if job == "crawl":  # the workflow's Actions cache lost, then restored
            digests = tmp / "crawl-cache"
            shutil.rmtree(digests, ignore_errors=True)
            memory_s = (memory_read(dest / "data", now, digests), memory_read(dest / "data", now, digests))
    build = clone(repo, tmp / "job-build", "--depth", "1", "--no-checkout")  # a plain actions/checkout: one commit, every file
    jobs["build"] = (size(data), size(build / ".git"))
    contributor = clone(repo, tmp / "contributor", "--filter=blob:none", "--sparse")
    git(contributor, "sparse-checkout", "set", "--no-cone", *CONTRIBUTOR)
    blobless = clone(repo, tmp / "blobless", "--filter=blob:none", "--no-checkout")
    full = clone(repo, tmp / "full", "--no-checkout")
    out, cache = tmp / "site", tmp / f"cache-{now:%Y}"
    builds = [build_in_child(["--data", str(data), "--out", str(out), "--now", now.isoformat(), "--cache", str(cache)])]
    if (pages := len(list((out / "endpoints").glob("*.html")))) < n:  # a build that left endpoints out is not timed as one
        raise RuntimeError(f"{out}: {pages} endpoint pages of {n}; the build left the others out")
    # One more crawl, within the day (at the next 30 minutes a new day, month and year would begin, and the build would
    # write the new month's downloads: not the build of a crawl like the others); the build again, its cache warm.
    later = now + timedelta(minutes=15)
    write(data, later.date(), {"probes": one_crawl(pool, later, n, random.Random(0))}, append=True)
    builds.append(build_in_child(["--data", str(data), "--out", str(out), "--now", later.isoformat(), "--cache", str(cache)]))
    shutil.rmtree(cache)
    return Year(size(data / "archive"), size(data, skip="archive"), jobs, memory_s, (size(contributor), size(contributor / ".git")),
                size(blobless / ".git"), size(full / ".git"), builds)


def per_crawl(repo: Path, tmp: Path, pool: Pool, n: int, day: date, days: int = 2) -> tuple[float, float]:
    """What one commit a crawl adds, per day, to one commit a day of the same lines: (all objects, commits and trees
    only), in bytes, as the new objects of `days` days pack when pushed (git pack-objects of the new commits alone)."""
    scratch = clone(repo, tmp / "per-crawl", "--no-checkout")
    git(scratch, "checkout", "-q", "main")
    git(scratch, "config", "user.name", "bench"), git(scratch, "config", "user.email", "bench@example.org")
    base = git(scratch, "rev-parse", "HEAD").strip()
    sizes = {}
    for way in ("day", "crawl"):
        git(scratch, "checkout", "-q", "-B", way, base)
        for k in range(days):
            files = day_files(pool, day + timedelta(days=k), n, random.Random(k))  # the same lines both ways
            if way == "day":
                steps = [files]
            else:
                stamps: dict[str, dict[str, list[str]]] = {}
                for kind, text in files.items():
                    for line in text.splitlines(keepends=True):
                        stamps.setdefault(CRAWL.search(line)[1], {}).setdefault(kind, []).append(line)  # type: ignore[index]  # every line names its crawl
                steps = [{kind: "".join(lines) for kind, lines in stamps[stamp].items()} for stamp in sorted(stamps)]
            for step in steps:
                write(scratch / "data", day + timedelta(days=k), step, append=True)
                git(scratch, "add", "-A", "data")
                git(scratch, "commit", "-q", "-m", f"Crawl {day + timedelta(days=k)}")
        everything = subprocess.run(["git", "pack-objects", "--revs", "--stdout", "-q"], cwd=scratch, input=f"{way}\n^{base}\n".encode(),
                                    capture_output=True, check=True).stdout
        listed = git(scratch, "rev-list", "--objects", "--filter=blob:none", way, f"^{base}")
        skeleton = subprocess.run(["git", "pack-objects", "--stdout", "-q"], cwd=scratch, input=listed.encode(), capture_output=True,
                                  check=True).stdout
        sizes[way] = (len(everything), len(skeleton))
    shutil.rmtree(scratch)
    return ((sizes["crawl"][0] - sizes["day"][0]) / days, (sizes["crawl"][1] - sizes["day"][1]) / days)


def bench_years(tmp: Path, n: int = ENDPOINTS, years: int = YEARS) -> list[tuple[str, str, str]]:
    """Age a repository by `years` at n endpoints, one simulated day at a time, measuring after each year."""
    started = time.monotonic()
    demo = pool(tmp / "pool")
    repo = tmp / "aged"
    start_repository(repo)
    write(repo / "data", START, registry_files(demo, START, n))
    rng = random.Random(29)
    measured: list[Year] = []
    day, generate_s = START, 0.0
    for year in range(1, years + 1):
        while day < date(START.year + year, 1, 1):
            begun = time.monotonic()
            write(repo / "data", day, day_files(demo, day, n, rng))
            generate_s += time.monotonic() - begun
            now = datetime(day.year, day.month, day.day, 23, 30, tzinfo=timezone.utc)
            commit(repo, f"Crawls of {day}")
            compact(repo, now)
            commit(repo, f"Archive as of {day}")
            day += timedelta(days=1)
            if day.day == 1:
                git(repo, "repack", "-d", "-q")
        measured.append(measure(repo, tmp / "measure", demo, n, now))
    overhead, skeleton = per_crawl(repo, tmp, demo, n, day)
    (tmp / "years.json").write_text(json.dumps({"years": [dataclasses.asdict(y) for y in measured], "overhead": overhead,
                                                "skeleton": skeleton, "seconds": time.monotonic() - started}))
    return rows(measured, n, overhead, skeleton, time.monotonic() - started, generate_s)


def rows(years: list[Year], n: int, overhead: float, skeleton: float, total_s: float, generate_s: float) -> list[tuple[str, str, str]]:
    """The table's rows: each figure after each simulated year, in one row."""
    def each(values: list[float], unit: str = "MB", scale: float = 1e6, digits: int = 1) -> str:
        return ", ".join(f"{v / scale:.{digits}f}" for v in values) + f" {unit}"

    span = f"{n} endpoints, after years 1 to {len(years)}"
    crawled = [skeleton * 365 * (y + 1) for y in range(len(years))]  # the commits and trees of 47 more commits a day
    everything = [overhead * 365 * (y + 1) for y in range(len(years))]
    archive = years[-1].archive / (n * len(years))
    growth = (years[-1].full - years[0].full) / (n * (len(years) - 1)) if len(years) > 1 else years[0].full / n
    cold, warm = [y.builds[0] for y in years], [y.builds[1] for y in years]
    return [
        (f"years: data/ at HEAD, {span}", each([y.archive + y.live for y in years]),
         f"the archive {each([y.archive for y in years])}, {archive / 1e6:.2f} MB per endpoint-year (target ≤ 1.5); "
         f"the live window {each([y.live for y in years])}"),
        (f"years: the crawl job's checkout of data/, {span}", each([y.jobs['crawl'][0] for y in years]),
         f"target: the same after year 5 as after year 1; its .git {each([y.jobs['crawl'][1] for y in years])} "
         "(one commit, blobless, sparse: .github/workflows/crawl.yml)"),
        (f"years: the crawl's memory read (its start), {span}", each([y.memory_s[1] for y in years], "s", 1, 2),
         "target ≤ 2 s; crawler/memory.py Memory from the crawl job's checkout and its digests (crawler/digest.py): 92 days "
         "of probes (the backfill's coverage), tickets, events, twin rows, and every service type and registry entry; "
         f"with the cache lost, its digests made: {each([y.memory_s[0] for y in years], 's', 1, 2)}"),
        (f"years: the merge job's checkout of data/, {span}", each([y.jobs['merge'][0] for y in years]),
         f"its .git {each([y.jobs['merge'][1] for y in years])}"),
        (f"years: the build job's checkout of data/, {span}", each([y.jobs['build'][0] for y in years]),
         f"every file at HEAD (its downloads and year zips read every month); its .git {each([y.jobs['build'][1] for y in years])}"),
        (f"years: the contributor's clone (README: blobless, sparse, no data/), {span}",
         each([y.contributor[0] + c for y, c in zip(years, crawled)]),
         f"target ≤ 150 MB after year 5; measured at one commit a day {each([y.contributor[0] for y in years])} "
         f"(its .git {each([y.contributor[1] for y in years])}), plus the commits and trees of one commit a crawl, "
         f"{skeleton * 365 / 1e6:.1f} MB a year (measured on two days committed both ways)"),
        (f"years: a blobless clone of everything (.git), {span}", each([y.blobless + c for y, c in zip(years, crawled)]),
         f"at one commit a day {each([y.blobless for y in years])}, plus one commit a crawl's commits and trees"),
        (f"years: a full clone (.git), {span}", each([y.full + c for y, c in zip(years, everything)]),
         f"at one commit a day {each([y.full for y in years])}, plus what one commit a crawl adds, "
         f"{overhead * 365 / 1e6:.1f} MB a year"),
        (f"years: packed growth per endpoint-year, {n} endpoints, years 2 to {len(years)}",
         f"{(growth + overhead * 365 / n) / 1e6:.2f} MB",
         f"target ≤ 1.2 MB; the full clone's growth a year at one commit a day {growth / 1e6:.2f} MB per endpoint (day files "
         f"and the archive), plus one commit a crawl's {overhead * 365 / n / 1e6:.2f} MB"),
        (f"years: cold build, {span}", each([b[0] for b in cold], "s", 1, 1),
         f"target ≤ 60 s after year 5, peak under 2 GB: peak {each([b[1] for b in cold], 'MB', 1, 0)}, "
         f"its largest child {each([b[2] for b in cold], 'MB', 1, 0)}"),
        (f"years: incremental build after one more crawl (cache warm), {span}", each([b[0] for b in warm], "s", 1, 1),
         f"target ≤ 5 s; peak {each([b[1] for b in warm], 'MB', 1, 0)}"),
        (f"years: the bench itself, {span}", f"{total_s / 60:.0f} min",
         f"of which {generate_s / 60:.1f} min writing the day files (see benchmarks/years.py for how it is scaled)"),
    ]
