"""What the audit trail learns from the request itself (listed in the PluginConfig's `middleware`).

- While an /oauth/ request runs, `current_sso_request()` returns it, so the post_save handler can tell
  a user created by the SSO pipeline from one created elsewhere.
- The server time of /oauth/complete/<backend>/ goes to the callback-latency histogram.
- Claims captured by the debug step (`netbox_sso.pipeline.capture`) are recorded after the pipeline's
  transaction, so a refused login keeps its claims for inspection.
- Its audit rows are written together when the request ends (`audit.batched`), and NetBox's per-request
  ObjectType cache is filled in advance (`netbox_sso.object_types`).
- A 403 for a user whose SSO login was less than `audit_permission_denied_window` minutes ago is recorded
  once per path: "signed in, but may not see anything" is the commonest SSO support question.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

from netbox_sso import audit
from netbox_sso.keys import CLAIMS_ATTRIBUTE, SESSION_DENIED, SESSION_LOGIN
from netbox_sso.object_types import seed_request_cache

_MAX_DENIED_PATHS = 50

_current: ContextVar[HttpRequest | None] = ContextVar("netbox_sso_request", default=None)


def current_sso_request() -> HttpRequest | None:
    """The /oauth/ request being handled by this thread, if any."""
    return _current.get()


def sso_backend_name(request: HttpRequest) -> str:
    """The backend of an /oauth/ request (social_django's request.backend, else the URL)."""
    backend = getattr(request, "backend", None)
    if backend is not None and getattr(backend, "name", None):
        return str(backend.name)
    match = request.resolver_match
    return str((match.kwargs.get("backend") if match else "") or "")


def _is_callback(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.namespace == "social" and match.url_name == "complete"


class SSOAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "/oauth/" not in request.path:  # URL resolution happens later; the path is enough to decide
            response = self.get_response(request)
            if response.status_code == 403:
                self._permission_denied(request)
            return response
        token = _current.set(request)
        started = time.perf_counter()
        seed_request_cache()
        with audit.batched():  # the request's audit rows in one INSERT at its end
            try:
                response = self.get_response(request)
            finally:
                _current.reset(token)
            if _is_callback(request):
                from netbox_sso import metrics

                metrics.observe_callback(sso_backend_name(request), time.perf_counter() - started)
            self._flush_claims(request)
        return response

    @staticmethod
    def _flush_claims(request: HttpRequest) -> None:
        captured: dict[str, Any] | None = getattr(request, CLAIMS_ATTRIBUTE, None)
        if not captured:
            return
        user = getattr(request, "user", None)
        audit.record(
            "claims_captured",
            request=request,
            backend=captured.get("backend"),
            user=user if getattr(user, "is_authenticated", False) else None,
            username=captured.get("username") or None,
            outcome="info",
            reason="debug_claims",
            details=captured.get("sources"),
            message="Claims received at sign-in (debug_claims is on); tokens and secrets redacted",
        )

    @staticmethod
    def _permission_denied(request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if session is None or not getattr(user, "is_authenticated", False):
            return
        login = session.get(SESSION_LOGIN)
        if not isinstance(login, dict):
            return
        from netbox_sso.conf import audit_setting

        window = float(audit_setting("audit_permission_denied_window")) * 60
        since = time.time() - float(login.get("at", 0))
        if since > window:
            return
        denied = list(session.get(SESSION_DENIED, []))
        if request.path in denied:  # once per path: a reloading browser must not flood the trail
            return
        session[SESSION_DENIED] = [*denied, request.path][-_MAX_DENIED_PATHS:]
        audit.record(
            "permission_denied",
            request=request,
            backend=str(login.get("backend", "")),
            user=user,
            outcome="denied",
            reason="http_403",
            details={"method": request.method, "path": request.path, "seconds_since_login": round(since, 1)},
            message="HTTP 403 shortly after an SSO login: the user's groups grant no permission here",
        )
