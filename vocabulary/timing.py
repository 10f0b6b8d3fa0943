"""How one scheduled run of .github/workflows/crawl.yml fits in its 30-minute slot.

The workflow's jobs run one after another: plan → crawl (one runner per shard, at once) → merge
→ build → deploy. Each job gets SETUP_S for checkout, Python and the locked install, plus the
budget of its own work below, and its timeout-minutes covers both. The timeouts add up to at
most CADENCE, so even a run in which every job uses all of its time ends before the next slot
is due (time spent waiting for a runner comes on top; the workflow's concurrency group makes
an overlapping run wait, never run alongside). tests/test_workflows.py holds the workflow to
these numbers, and the crawler and the twins to their budgets.
"""

from __future__ import annotations

from vocabulary import CADENCE, CRON_OFFSET  # noqa: F401  # the cadence, with the budget that must fit in it

SETUP_S = 150  # a job's checkout, Python and the install from the lock (wheels from the pip cache)

# The crawl: every host at once, each within HOST_S (client.Limits.host_s). SeeClickFix serves
# 40 of the registry's endpoints from one host, one call at a time, about 8 s each when all
# answer: about 320 s. A host still busy at HOST_S leaves the rest of its endpoints for the
# next crawl (their status for this one is unknown, never down).
HOST_S = 540
EXPORT_S = 30  # the shard's new lines, exported and uploaded

# The merge: the shards' lines appended and committed first, then the incidents' issues on GitHub
# (INCIDENTS_S: a month of data read, a few calls, and at most INCIDENTS_WAIT_S of rate-limit waits; a
# longer wait is left to the next run), then the open-data twins (the first run of each UTC day
# fetches them all, within TWINS_S together), committed again with what the incidents logged.
MERGE_S = 30
COMMIT_S = 60  # one commit and push, with its retries
INCIDENTS_S = 60
INCIDENTS_WAIT_S = 30
TWINS_S = 180

BUILD_S = 120  # the site from the history (a few seconds with the build cache) and its upload
DEPLOY_S = 120  # actions/deploy-pages waits for GitHub Pages to take the artifact

# Seconds of work per job; the job's timeout is at least SETUP_S more (deploy and plan check
# out nothing).
JOBS = {
    "plan": (0, 0),
    "crawl": (SETUP_S, HOST_S + EXPORT_S),
    "merge": (SETUP_S, MERGE_S + COMMIT_S + INCIDENTS_S + TWINS_S + COMMIT_S),
    "build": (SETUP_S, BUILD_S),
    "deploy": (0, DEPLOY_S),
}


def needed_s(job: str) -> int:
    """The least timeout a job may have: its setup and its own budget."""
    setup, work = JOBS[job]
    return setup + work
