"""Outermost middleware: for /oauth/ requests, count SQL statements and time the request server-side.

Response headers: X-Bench-Queries (statements executed through Django cursors, savepoints included),
X-Bench-Tables (those statements by first table named, `savepoint` for savepoints: "t1=3;t2=1"),
X-Bench-Server-Ms (wall time inside Django, all middleware included). Every response gets X-Bench-Pid
(the gunicorn worker that served it). With NBBENCH_SQL_LOG=<file> in NetBox's environment, each counted
statement is also appended to that file (diagnostics: which statements a login runs).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

PREFIX = "/oauth/"
SQL_LOG = os.environ.get("NBBENCH_SQL_LOG")
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """The first table a statement names, or 'savepoint' / 'other'."""
    if re.match(r"\s*(?:RELEASE\s+)?(?:ROLLBACK\s+TO\s+)?SAVEPOINT\b", sql, re.IGNORECASE):
        return "savepoint"
    match = _TABLE.search(sql)
    return match.group(1) if match else "other"


class _Counter:
    def __init__(self, path: str) -> None:
        self.count = 0
        self.path = path
        self.statements: list[str] = []
        self.tables: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        self.tables[statement_kind(str(sql))] += 1
        if SQL_LOG:
            self.statements.append(" ".join(str(sql).split())[:200])
        return execute(sql, params, many, context)

    def flush(self) -> None:
        if SQL_LOG and self.statements:
            with open(SQL_LOG, "a", encoding="utf-8") as handle:
                handle.write(f"== {os.getpid()} {self.path} {self.count}\n")
                handle.writelines(f"{line}\n" for line in self.statements)


class BenchMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            response = self.get_response(request)
            response["X-Bench-Pid"] = str(os.getpid())
            return response
        counter = _Counter(f"{request.get_host()}{request.path}")
        start = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Bench-Server-Ms"] = f"{(time.perf_counter() - start) * 1000:.3f}"
        response["X-Bench-Queries"] = str(counter.count)
        response["X-Bench-Tables"] = ";".join(f"{table}={count}" for table, count in sorted(counter.tables.items()))
        response["X-Bench-Pid"] = str(os.getpid())
        counter.flush()
        return response
