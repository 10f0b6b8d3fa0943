"""A city's open-data portal on loopback: Socrata- and CKAN-style queries over a few rows, and a CSV file.

Enough of each query language for what twins/ asks (and for trying it by hand):
  GET /resource/<id>.json   $select, $where (col >= 'T' AND col < 'T', col in ('a', ...)), $order, $limit, $offset
  GET /api/3/action/datastore_search_sql?sql=SELECT "a", "b" FROM "<resource>" WHERE ... ORDER BY "c" LIMIT n OFFSET m
  GET /<name>.csv           the rows as a CSV file
Times compare as times, as in the real portals (a Boston "2022-01-01 23:46:09" is after 2022-01-01T00:00:00).
A query it cannot read is answered as the portals answer one: 400 (Socrata) or 409 with success false (CKAN).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator.serving import LoopbackHTTPServer

CONDITION = re.compile(r"""\s*"?(\w+)"?\s*(>=|<|=|\bin\b|\bIN\b)\s*(\((?:\s*'(?:[^']|'')*'\s*,?)*\)|'(?:[^']|'')*')\s*""")
SQL = re.compile(r"""SELECT (?P<cols>.+?) FROM "(?P<table>[^"]+)"(?: WHERE (?P<where>.+?))?(?: ORDER BY "(?P<order>\w+)")?"""
                 r"""(?: LIMIT (?P<limit>\d+))?(?: OFFSET (?P<offset>\d+))?$""")


class Unreadable(ValueError):
    """A portal query the simulated portal does not understand: answered 400, as a real one would."""
    pass


@lru_cache(maxsize=1 << 16)
def _value(text: str) -> Any:
    try:
        return datetime.fromisoformat(text.replace("Z", "").replace(" ", "T")[:19])
    except ValueError:
        return text


def _literals(text: str) -> list[str]:
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", text)]


def condition(where: str | None) -> Callable[[dict[str, Any]], bool]:
    """A SoQL or SQL condition of the few forms the twins fetch uses, read once: whether a row meets it."""
    tests: list[tuple[str, str, Any, str]] = []  # column, operator, the literal as read (a time where it is one), as text
    for part in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE) if where else []:
        m = CONDITION.fullmatch(part)
        if not m:
            raise Unreadable(f"cannot read the condition {part!r}")
        column, op, literals = m.group(1), m.group(2).lower(), _literals(m.group(3))
        tests.append((column, op, set(literals) if op == "in" else _value(literals[0]), "" if op == "in" else literals[0]))

    def meets(row: dict[str, Any]) -> bool:
        for column, op, right, text in tests:
            cell = row.get(column)
            if op == "in":
                if str(cell) not in right:
                    return False
                continue
            if cell in (None, ""):
                return False
            left, against = _value(str(cell)), right
            if type(left) is not type(against):
                left, against = str(cell), text
            if not (left >= against if op == ">=" else left < against if op == "<" else left == against):
                return False
        return True

    return meets


def select(rows: list[dict[str, Any]], columns: list[str], where: str | None, order: str | None, limit: int, offset: int
           ) -> list[dict[str, Any]]:
    """The rows a query asks for, with only its columns: as a portal answers."""
    known = {c for r in rows for c in r}  # a portal leaves a row's empty cells out
    for c in columns + ([order] if order else []) + re.findall(r'"?(\w+)"?\s*(?:>=|<|=|\bin\b|\bIN\b)', where or ""):
        if c not in known:
            raise Unreadable(f"no such column: {c}")
    meets = condition(where)
    found = [r for r in rows if meets(r)]
    if order:
        found.sort(key=lambda r: str(r.get(order, "")))
    return [{c: r[c] for c in columns if r.get(c) not in (None, "")} for r in found[offset:offset + limit]]


class Portal:
    """Serves rows as a Socrata resource, a CKAN DataStore table and a CSV file, on one loopback address."""

    def __init__(self, rows: list[dict[str, Any]] | Callable[[datetime | None], list[dict[str, Any]]], host: str = "127.0.0.1",
                 resource: str = "abcd-1234", table: str = "0000-table", csv_name: str = "requests.csv", csv_text: str | None = None):
        """rows: the dataset, or a function of the simulated moment (X-Simulated-Now) that gives it then."""
        self.rows, self.resource, self.table, self.csv_name = rows, resource, table, csv_name
        self.csv_text = csv_text
        self.calls: list[str] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                portal.calls.append(self.path)
                moment = self.headers.get("X-Simulated-Now")
                try:
                    rows = portal.rows_at(datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None)
                    if parts.path == f"/resource/{portal.resource}.json":
                        columns = [c.strip() for c in query.get("$select", "").split(",") if c.strip()] or list(rows[0])
                        out: Any = select(rows, columns, query.get("$where"), query.get("$order"),
                                          int(query.get("$limit", 1000)), int(query.get("$offset", 0)))
                        self.send(200, json.dumps(out).encode(), "application/json")
                    elif parts.path == "/api/3/action/datastore_search_sql":
                        m = SQL.fullmatch(query.get("sql", "").strip())
                        if not m or m.group("table") != portal.table:
                            raise Unreadable("cannot read the SQL, or no such table")
                        columns = re.findall(r'"(\w+)"', m.group("cols"))
                        records = select(rows, columns, m.group("where"), m.group("order"),
                                         int(m.group("limit") or 32000), int(m.group("offset") or 0))
                        self.send(200, json.dumps({"success": True, "result": {"records": records}}).encode(), "application/json")
                    elif parts.path == f"/{portal.csv_name}":
                        self.send(200, portal.as_csv(rows).encode(), "text/csv")
                    else:
                        self.send(404, b"not found", "text/plain")
                except Exception as e:  # the portal answers every query, as a real one does
                    if parts.path.startswith("/api/"):
                        body = {"success": False, "error": {"message": str(e), "__type": "Validation Error"}}
                        self.send(409, json.dumps(body).encode(), "application/json")
                    else:
                        self.send(400, json.dumps({"error": True, "message": str(e)}).encode(), "application/json")

            def send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = LoopbackHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}/"

    def rows_at(self, moment: datetime | None) -> list[dict[str, Any]]:
        """The portal's rows as of a moment: tickets not yet requested are not published yet."""
        return self.rows(moment) if callable(self.rows) else self.rows

    def as_csv(self, rows: list[dict[str, Any]]) -> str:
        """The rows as one CSV file, for a csv twin."""
        if self.csv_text is not None:
            return self.csv_text
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    def start(self) -> None:
        """Serve on the portal's loopback address."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving and free the address."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Portal:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
