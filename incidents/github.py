"""The GitHub REST API, as much of it as the incidents need: list issues by label, create, comment, close, reopen.

The one place the incidents touch the network. What can go wrong, each an IssueTrackerError with its class:

    bad_token     401: the token is missing, expired or wrong
    forbidden     403 without a rate limit: the token may not write issues (the workflow needs issues: write)
    not_found     404: no such repository, or the token cannot see it
    rate_limited  403 or 429 for a rate limit (primary: X-RateLimit-Remaining 0 until X-RateLimit-Reset; secondary:
                  Retry-After, else a minute) whose wait would pass the run's budget
    server        5xx, still after the retries
    network       no answer at all: DNS, connect, timeout
    bad_answer    an answer that is not the JSON the API documents

Waits for rate limits are taken when they fit in the budget (a secondary limit without Retry-After waits a minute,
as GitHub's documentation asks); a 5xx is tried again twice. Writes are a second apart, as GitHub asks of
integrations. The token goes in the Authorization header and nowhere else: no message here ever holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from vocabulary.timing import INCIDENTS_WAIT_S

FAILURES = ("bad_token", "forbidden", "not_found", "rate_limited", "server", "network", "bad_answer")
API_URL = "https://api.github.com"
SERVER_RETRIES = 2
SECONDARY_WAIT_S = 60.0  # a secondary rate limit without Retry-After: "wait at least one minute"
WRITE_GAP_S = 1.0  # between two writes
TIMEOUT_S = 20.0
PAGES = 10  # 1000 issues at most from one listing


class IssueTrackerError(Exception):
    """A call that failed for good: failure is one of FAILURES, message says what to do, in a line."""

    def __init__(self, failure: str, message: str):
        assert failure in FAILURES
        self.failure = failure
        super().__init__(message)


@dataclass
class GitHub:
    """The repository's issues. session: anything with requests.Session's request(); sleep and clock: time.sleep and
    time.time, or a test's stand-ins; budget_s: the most this run waits for rate limits, in all."""

    repo: str
    token: str
    api_url: str = API_URL
    session: Any = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    budget_s: float = INCIDENTS_WAIT_S
    waited_s: float = 0.0
    calls: int = 0
    _last_write: float | None = None

    def issues(self, state: str, since: str | None = None, label: str | None = None) -> list[dict[str, Any]]:
        """The issues labelled incident (and label, when given) in a state (open, closed), updated since a time when
        given, newest first."""
        labels = "incident" + (f",{label}" if label else "")
        params = {"labels": labels, "state": state, "per_page": "100", "sort": "updated", "direction": "desc"}
        if since:
            params["since"] = since
        out: list[dict[str, Any]] = []
        for page in range(1, PAGES + 1):
            batch = self._call("GET", f"/repos/{self.repo}/issues", params={**params, "page": str(page)})
            if not isinstance(batch, list):
                raise IssueTrackerError("bad_answer", f"GitHub's list of issues of {self.repo} was not a list")
            out += [i for i in batch if isinstance(i, dict) and "pull_request" not in i]
            if len(batch) < 100:
                break
        return out

    def comments(self, number: int) -> list[dict[str, Any]]:
        """An issue's comments, oldest first (the first 100: an incident says far fewer)."""
        found = self._call("GET", f"/repos/{self.repo}/issues/{number}/comments", params={"per_page": "100"})
        if not isinstance(found, list):
            raise IssueTrackerError("bad_answer", f"GitHub's comments of issue #{number} were not a list")
        return found

    def create(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        """A new issue."""
        return self._issue(self._call("POST", f"/repos/{self.repo}/issues", json={"title": title, "body": body, "labels": labels}))

    def comment(self, number: int, body: str) -> None:
        """A comment on an issue."""
        self._call("POST", f"/repos/{self.repo}/issues/{number}/comments", json={"body": body})

    def set_state(self, number: int, state: str, reason: str | None = None) -> dict[str, Any]:
        """Close (reason completed or not_planned) or reopen an issue."""
        body = {"state": state, **({"state_reason": reason} if reason else {})}
        return self._issue(self._call("PATCH", f"/repos/{self.repo}/issues/{number}", json=body))

    def _issue(self, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict) or not isinstance(answer.get("number"), int):
            raise IssueTrackerError("bad_answer", f"GitHub's answer for an issue of {self.repo} had no issue number")
        return answer

    def _call(self, method: str, path: str, params: dict[str, str] | None = None, json: dict[str, Any] | None = None) -> Any:
        """One call, with the waits and retries above; its JSON answer."""
        url = self.api_url.rstrip("/") + quote(path)
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "Authorization": f"Bearer {self.token}", "User-Agent": "open311-status-incidents"}
        retries = 0
        while True:
            if method != "GET":
                self._space_writes()
            self.calls += 1
            try:
                answer = self.session.request(method, url, params=params, json=json, headers=headers, timeout=TIMEOUT_S)
            except requests.RequestException as e:
                raise IssueTrackerError("network", f"GitHub ({self.api_url}) did not answer: {type(e).__name__}") from None
            status = answer.status_code
            if method != "GET":
                self._last_write = self.clock()
            if status < 300:
                try:
                    return answer.json() if answer.content else None
                except ValueError:
                    raise IssueTrackerError("bad_answer", f"GitHub answered {method} {path} with something that is not JSON") from None
            message = _message(answer)
            wait = _rate_limit_wait(answer, message, self.clock())
            if wait is not None:
                if self.waited_s + wait > self.budget_s:
                    raise IssueTrackerError("rate_limited", f"GitHub's rate limit: {message}; it asks to wait {wait:.0f} s, more than "
                                                            f"this run's {self.budget_s - self.waited_s:.0f} s left; the next run goes on")
                self.waited_s += wait
                self.sleep(wait)
                continue
            if status >= 500 and retries < SERVER_RETRIES:
                retries += 1
                self.sleep(2.0 * retries)
                continue
            raise _failure(status, message, self.repo, method, path)

    def _space_writes(self) -> None:
        if self._last_write is not None:
            gap = WRITE_GAP_S - (self.clock() - self._last_write)
            if gap > 0:
                self.sleep(gap)


def _message(answer: Any) -> str:
    """GitHub's own message of an error, cut short (it is GitHub's text, not the token's)."""
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    text = body.get("message") if isinstance(body, dict) else None
    return f"HTTP {answer.status_code} {str(text)[:200]}" if text else f"HTTP {answer.status_code}"


def _rate_limit_wait(answer: Any, message: str, now: float) -> float | None:
    """Seconds to wait before trying again, when the answer is a rate limit; None when it is not one."""
    if answer.status_code not in (403, 429):
        return None
    headers = answer.headers
    if headers.get("Retry-After", "").strip().isdigit():
        return float(headers["Retry-After"].strip())
    if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset", "").isdigit():
        return max(1.0, float(headers["X-RateLimit-Reset"]) - now + 1)
    if answer.status_code == 429 or "rate limit" in message.lower():
        return SECONDARY_WAIT_S
    return None


def _failure(status: int, message: str, repo: str, method: str, path: str) -> IssueTrackerError:
    if status == 401:
        return IssueTrackerError("bad_token", f"GitHub refused the token ({message}): GITHUB_TOKEN must be a token of {repo} "
                                              "with issues: write (the crawl workflow's own)")
    if status == 403:
        return IssueTrackerError("forbidden", f"GitHub forbade {method} {path} ({message}): the token needs issues: write")
    if status == 404:
        return IssueTrackerError("not_found", f"GitHub has no repository {repo} that this token can see ({message})")
    if status >= 500:
        return IssueTrackerError("server", f"GitHub failed {method} {path} ({message}), {SERVER_RETRIES + 1} times")
    return IssueTrackerError("bad_answer", f"GitHub refused {method} {path} ({message})")
