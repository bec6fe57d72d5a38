"""Outermost middleware: for /oauth/ requests, count SQL statements and time the request server-side.

Response headers: X-Bench-Queries (statements executed through Django cursors, savepoints included),
X-Bench-Tables (those statements by first table named, `savepoint` for savepoints: "t1=3;t2=1"),
X-Bench-Server-Ms (wall time inside Django, all middleware included). Every response gets X-Bench-Pid
(the gunicorn worker that served it). With NBBENCH_SQL_LOG=<file> in NetBox's environment, each counted
statement is also appended to that file (diagnostics: which statements a login runs). With
NBBENCH_PROFILE=<directory>, each callback (/oauth/complete/) is profiled with cProfile and its stats
written there as <pid>-<n>-<kind>.prof, kind "first" or "repeat" by whether the user existed (diagnostics:
where a login's time goes; `python -m bench.profile <directory>` sums them). Profiling slows the request:
never set it for a measured run.
"""

from __future__ import annotations

import cProfile
import itertools
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

PREFIX = "/oauth/"
#: Paths measured; NBBENCH_PREFIXES (comma-separated) adds others, e.g. /api/ for bench.api_tokens.
PREFIXES = (PREFIX, *(p for p in os.environ.get("NBBENCH_PREFIXES", "").split(",") if p))
SQL_LOG = os.environ.get("NBBENCH_SQL_LOG")
PROFILE_DIR = os.environ.get("NBBENCH_PROFILE")
_profiled = itertools.count()
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
        self.created_user = False  # an INSERT into users_user ran: a first login

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        kind = statement_kind(str(sql))
        self.tables[kind] += 1
        if kind == "users_user" and str(sql).lstrip().upper().startswith("INSERT"):
            self.created_user = True
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
        if not request.path.startswith(PREFIXES):
            response = self.get_response(request)
            response["X-Bench-Pid"] = str(os.getpid())
            return response
        counter = _Counter(f"{request.get_host()}{request.path}")
        profiler = cProfile.Profile() if PROFILE_DIR and "/complete/" in request.path else None
        start = time.perf_counter()
        with connection.execute_wrapper(counter):
            if profiler is not None:
                profiler.enable()
            try:
                response = self.get_response(request)
            finally:
                if profiler is not None:
                    profiler.disable()
        response["X-Bench-Server-Ms"] = f"{(time.perf_counter() - start) * 1000:.3f}"
        response["X-Bench-Queries"] = str(counter.count)
        response["X-Bench-Tables"] = ";".join(f"{table}={count}" for table, count in sorted(counter.tables.items()))
        response["X-Bench-Pid"] = str(os.getpid())
        counter.flush()
        if profiler is not None:
            kind = "first" if counter.created_user else "repeat"
            profiler.dump_stats(os.path.join(PROFILE_DIR, f"{os.getpid()}-{next(_profiled)}-{kind}.prof"))
        return response
