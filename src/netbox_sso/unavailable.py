"""Sign-in pages answer 503 with a clear message when NetBox's cache (Redis) or database is unreachable.

NetBox reads its configuration from Redis in a middleware of every request, so without Redis every page,
the login page included, fails with a bare HTTP 500 before any plugin code runs. This middleware is put
first in MIDDLEWARE at start-up (netbox_sso.startup): it sees the failed response of the login page and of
/oauth/, learns the exception from Django's got_request_exception signal, and, when the cause is an
unreachable service, answers 503 with Retry-After and says which service and that signing in works again
once it is back. Other pages and other errors are left exactly as NetBox answers them.

A connection cut while a sign-in page saves its session (`guard_session_save`, installed by
netbox_sso.middleware.SSOFailureMiddleware) is retried once on a new connection, else ends in that 503,
never in Django's bare HTTP 400 (SessionInterrupted).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from html import escape
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse

from netbox_sso.keys import EXCEPTION_ATTRIBUTE

MIDDLEWARE_PATH = "netbox_sso.unavailable.ServiceUnavailableMiddleware"
RETRY_AFTER_SECONDS = 30

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in temporarily unavailable</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Sign-in is temporarily unavailable</h1>
<p>NetBox cannot reach its {service}. Signing in, with single sign-on or a local account, works again as
soon as it is back; please try again in a minute.</p>
<p style="color: #666">Administrators: check the {service} NetBox is configured to use ({setting}).</p>
</body></html>
"""


def remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """got_request_exception handler: keep the exception on the request for the middleware."""
    if request is not None:
        setattr(request, EXCEPTION_ATTRIBUTE, sys.exc_info()[1])


def unavailable_service(error: BaseException | None) -> tuple[str, str] | None:
    """(service, setting) when `error` means NetBox's cache or database cannot be reached."""
    from django.db import InterfaceError, OperationalError

    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - NetBox always ships redis
        redis_errors: tuple[type[BaseException], ...] = ()
    else:
        redis_errors = (RedisConnectionError, RedisTimeoutError)
    seen = 0
    while error is not None and seen < 5:  # the cause may be wrapped (e.g. by django-redis)
        if redis_errors and isinstance(error, redis_errors):
            return "cache (Redis)", "REDIS in configuration.py"
        if isinstance(error, OperationalError | InterfaceError):
            return "database (PostgreSQL)", "DATABASES in configuration.py"
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def drop_broken_connections() -> None:
    """Close database connections that a PostgreSQL restart cut under this request.

    Django keeps a broken connection until the request ends, so the audit record and the session save that
    follow would fail on it too; closed, they reconnect.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(Exception):
            if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
                connection.close()


def guard_session_save(request: HttpRequest) -> None:
    """A sign-in page's session save survives a database connection cut, or ends in the 503 above.

    Django's database sessions turn any error of the UPDATE into UpdateError, which its SessionMiddleware
    answers with a bare HTTP 400 ("SessionInterrupted": meant for a session deleted by a concurrent logout).
    A connection cut by a PostgreSQL restart is not that: the save closes the broken connection and tries
    once more on a new one; if PostgreSQL still refuses, the connection error itself is raised, which
    ServiceUnavailableMiddleware answers with the 503 page naming the database.
    """
    session = getattr(request, "session", None)
    if session is None or getattr(session, "_netbox_sso_guarded", False):
        return
    save = session.save

    def save_through_a_cut(must_create: bool = False) -> None:
        # What the store knew before the attempt (e.g. netbox_sso.session_store's pending key rename), so
        # that the retry writes the same thing the cut statement was writing.
        before = dict(vars(session))
        try:
            save(must_create=must_create)
            return
        except Exception as error:  # UpdateError (an UPDATE cut), or the OperationalError of a cut statement
            if _connection_error(error) is None:
                raise
        vars(session).update(before)
        drop_broken_connections()
        try:
            save(must_create=must_create)
        except Exception as error:
            cut = _connection_error(error)
            if cut is None or cut is error:
                raise
            raise cut from error  # not UpdateError: Django's 400 would hide that the database is away

    session.save = save_through_a_cut
    session._netbox_sso_guarded = True


def _connection_error(error: BaseException) -> BaseException | None:
    """The connection failure (OperationalError/InterfaceError) behind `error`, itself or its context."""
    from django.db import InterfaceError, OperationalError

    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, OperationalError | InterfaceError):
            return candidate
    return None


class ServiceUnavailableMiddleware:
    """503 with a clear message instead of a bare 500 on sign-in pages when Redis or PostgreSQL is down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        got_request_exception.connect(remember_exception, dispatch_uid="netbox_sso.unavailable")
        base = "/" + str(getattr(settings, "BASE_PATH", "") or "")
        self.sign_in_paths = (str(settings.LOGIN_URL), f"{base.rstrip('/')}/oauth/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 500 or not request.path.startswith(self.sign_in_paths):
            return response
        cause = unavailable_service(getattr(request, EXCEPTION_ATTRIBUTE, None))
        if cause is None:
            return response
        service, setting = cause
        return HttpResponse(
            PAGE.format(service=escape(service), setting=escape(setting)),
            status=503,
            content_type="text/html; charset=utf-8",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )
