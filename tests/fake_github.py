"""A loopback stand-in for the GitHub REST API calls the incidents make: list issues by label, create, comment, list
comments, close and reopen; with answers scripted to fail (a secondary rate limit with Retry-After, a 5xx) and a
token that must match. Real HTTP on 127.0.0.1, as requests meets it."""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_the-right-token-0123456789"


class State:
    def __init__(self, repo: str, now: str):
        self.repo, self.now = repo, now
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.faults: list[tuple[str, str, int, dict[str, str], dict[str, Any]]] = []  # method, path regex, status, headers, body
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def fail_next(self, method: str, path: str, status: int, headers: dict[str, str] | None = None, message: str = "") -> None:
        self.faults.append((method, path, status, headers or {}, {"message": message}))

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, s in self.log if m != "GET" and s < 300]


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.state.log.append((self.command, urlsplit(self.path).path, status))

    def _handle(self) -> None:
        s = self.state
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        with s.lock:
            for i, (method, pattern, status, headers, body) in enumerate(s.faults):
                if method == self.command and re.fullmatch(pattern, url.path):
                    del s.faults[i]
                    return self._send(status, body, headers)
            base = f"/repos/{s.repo}/issues"
            length = int(self.headers.get("Content-Length") or 0)
            sent = json.loads(self.rfile.read(length)) if length else {}
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == base and self.command == "GET":
                wanted = set(query.get("labels", "").split(",")) - {""}
                found = [i for i in s.issues.values() if wanted <= {label["name"] for label in i["labels"]}
                         and query.get("state", "open") in (i["state"], "all") and (not query.get("since") or i["updated_at"] >= query["since"])]
                found.sort(key=lambda i: (i["updated_at"], i["number"]), reverse=True)
                size, page = int(query.get("per_page", 30)), int(query.get("page", 1))
                return self._send(200, found[(page - 1) * size:page * size])
            if url.path == base and self.command == "POST":
                number = max(s.issues, default=0) + 1
                s.issues[number] = {"number": number, "title": sent["title"], "body": sent["body"], "state": "open", "closed_at": None,
                                    "state_reason": None, "labels": [{"name": n} for n in sent.get("labels", [])],
                                    "html_url": f"https://github.com/{s.repo}/issues/{number}", "updated_at": s.now, "created_at": s.now}
                s.comments[number] = []
                return self._send(201, s.issues[number])
            found = re.fullmatch(re.escape(base) + r"/(\d+)(/comments)?", url.path)
            if not found or int(found.group(1)) not in s.issues:
                return self._send(404, {"message": "Not Found"})
            number = int(found.group(1))
            if found.group(2) and self.command == "GET":
                return self._send(200, s.comments[number])
            if found.group(2) and self.command == "POST":
                s.comments[number].append({"body": sent["body"]})
                s.issues[number]["updated_at"] = s.now
                return self._send(201, s.comments[number][-1])
            if not found.group(2) and self.command == "PATCH":
                issue = s.issues[number]
                issue.update(state=sent["state"], state_reason=sent.get("state_reason"), updated_at=s.now,
                             closed_at=s.now if sent["state"] == "closed" else None)
                return self._send(200, issue)
            return self._send(404, {"message": "Not Found"})

    do_GET = do_POST = do_PATCH = _handle


@contextmanager
def fake_github(repo: str, now: str) -> Iterator[tuple[str, State]]:
    """(the API's URL, its state) for the duration."""
    state = State(repo, now)
    handler = type("H", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
