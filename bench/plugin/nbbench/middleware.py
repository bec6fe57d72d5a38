"""Outermost middleware: for /oauth/ requests, count SQL statements and time the request server-side.

Response headers: X-Bench-Queries (statements executed through Django cursors, savepoints included),
X-Bench-Server-Ms (wall time inside Django, all middleware included). Every response gets X-Bench-Pid
(the gunicorn worker that served it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

PREFIX = "/oauth/"


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class BenchMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            response = self.get_response(request)
            response["X-Bench-Pid"] = str(os.getpid())
            return response
        counter = _Counter()
        start = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Bench-Server-Ms"] = f"{(time.perf_counter() - start) * 1000:.3f}"
        response["X-Bench-Queries"] = str(counter.count)
        response["X-Bench-Pid"] = str(os.getpid())
        return response
