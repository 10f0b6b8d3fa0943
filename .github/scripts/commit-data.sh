#!/usr/bin/env bash
# Commit what is new under data/ and push it: .github/scripts/commit-data.sh MESSAGE [BRANCH]
#
# Another run may have pushed meanwhile: then this one rebases on it and pushes again. Day files
# merge by union (.gitattributes), so appended lines never conflict. A push or a pull that fails
# is tried again, ATTEMPTS times with growing pauses; a failed rebase is aborted first, so this
# run's commit is never lost. Exit 0 once pushed (or when nothing is new), 1 if every try failed.
set -uo pipefail

message="$1"
branch="${2:-${GITHUB_REF_NAME:-main}}"
attempts="${COMMIT_ATTEMPTS:-5}"
pause="${COMMIT_PAUSE_S:-5}"

git config user.name >/dev/null || git config user.name "open311-status-bot"
git config user.email >/dev/null || git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
# --sparse: a job's checkout is sparse (.github/workflows/crawl.yml), and an archive month it writes may lie outside it.
git add --sparse data/
if git diff --cached --quiet; then
  echo "nothing new to commit"
  exit 0
fi
git commit -q -m "$message" || exit 1
for attempt in $(seq 1 "$attempts"); do
  if git push -q origin "HEAD:${branch}"; then
    echo "pushed: $message"
    exit 0
  fi
  echo "push rejected (try ${attempt} of ${attempts}); rebasing on origin/${branch}"
  sleep $((attempt * pause))
  if ! git pull -q --rebase origin "$branch"; then
    echo "git pull --rebase failed (try ${attempt} of ${attempts}); the rebase is undone and tried again"
    git rebase --abort 2>/dev/null || true
  fi
done
echo "could not push after ${attempts} tries: this run's records are in its commit only" >&2
exit 1
