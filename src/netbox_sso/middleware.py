"""Every SSO failure under /oauth/ ends on NetBox's login page with a specific message, never HTTP 500.

The one place that turns failures into what the user sees and what the audit log records:
- our typed errors (`netbox_sso.core.errors.SSOError`: provider-response errors, the pipeline's refusals)
  carry their own code, subject and message;
- social-core's exceptions and transport errors are mapped below;
- anything else is an unexpected failure: a generic message, and the traceback in the `netbox_sso` log.

Each failure is one audit event (`netbox_sso.audit.record_failure`: a JSON line on logger
`netbox_sso.audit` and an SSOEvent row; a refusal or a login failure), never token contents.
Registered through the PluginConfig's `middleware`, which NetBox appends after its own middleware, so
this `process_exception` runs before NetBox's SocialAuthExceptionMiddleware (Django calls
process_exception in reverse order).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import requests
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from social_core import exceptions as social

from netbox_sso import audit as sso_audit
from netbox_sso.core.errors import SSOError
from netbox_sso.unavailable import drop_broken_connections, guard_session_save

logger = logging.getLogger("netbox_sso")

GENERIC_MESSAGE = "Single sign-on failed. Please try again or contact your administrator."

# social-core exception -> (code, message shown on the login page).
_SOCIAL_MESSAGES: tuple[tuple[type[Exception], str, str], ...] = (
    (social.AuthCanceled, "cancelled", "Single sign-on was cancelled at the identity provider."),
    (
        social.AuthStateMissing,
        "invalid_authorization_response",
        "Single sign-on failed: this sign-in link is unknown, expired or was already used; please start again.",
    ),
    (
        social.AuthStateForbidden,
        "invalid_authorization_response",
        "Single sign-on failed: this sign-in link is unknown, expired or was already used; please start again.",
    ),
    (
        social.AuthAlreadyAssociated,
        "already_associated",
        "Single sign-on failed: this identity is already linked to another NetBox account.",
    ),
    (
        social.AuthConnectionError,
        "provider_unavailable",
        "Single sign-on failed: the identity provider could not be reached.",
    ),
    (
        social.AuthUnreachableProvider,
        "provider_unavailable",
        "Single sign-on failed: the identity provider is unavailable.",
    ),
    (social.AuthTokenError, "invalid_token", "Single sign-on failed: the identity provider's token was rejected."),
    (
        social.AuthMissingParameter,
        "missing_parameter",
        "Single sign-on failed: the identity provider's response is incomplete.",
    ),
    (social.AuthForbidden, "forbidden", "Single sign-on failed: your account is not allowed to sign in."),
    (social.AuthFailed, "failed", "Single sign-on failed at the identity provider."),
)


def describe(exception: BaseException) -> tuple[str, str, str]:
    """(code, subject, user message) for a failure during an SSO request."""
    if isinstance(exception, SSOError):  # ours: provider-response errors and the pipeline's refusals
        return exception.code, exception.subject, exception.user_message()
    refusal = getattr(exception, "message", None)
    if isinstance(exception, social.AuthForbidden) and isinstance(refusal, str) and refusal:
        return "refused", "", refusal
    for kind, code, text in _SOCIAL_MESSAGES:
        if isinstance(exception, kind):
            subject = str(getattr(exception, "parameter", "") or "")
            return code, subject, text
    if isinstance(exception, requests.Timeout):
        return "provider_timeout", "", "Single sign-on failed: the identity provider did not answer in time."
    if isinstance(exception, requests.RequestException):
        return (
            "provider_unavailable",
            "",
            "Single sign-on failed: the identity provider is unavailable or answered with an error.",
        )
    if isinstance(exception, ValueError | KeyError | TypeError) and "json" in type(exception).__module__.lower():
        return "malformed_response", "", "Single sign-on failed: the identity provider sent a malformed response."
    return "unexpected", type(exception).__name__, GENERIC_MESSAGE


def _backend_name(request: HttpRequest) -> str:
    backend = getattr(request, "backend", None)
    if backend is not None:
        return str(getattr(backend, "name", ""))
    match = request.resolver_match
    return str((match.kwargs.get("backend") if match else "") or "")


class SSOFailureMiddleware:
    """Turn exceptions raised while handling /oauth/... into a redirect to the login page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(str(settings.LOGIN_URL)) or "/oauth/" in request.path:
            guard_session_save(request)  # a database cut while the session is saved: login page or 503
        return self.get_response(request)

    @staticmethod
    def is_sso_request(request: HttpRequest) -> bool:
        match = request.resolver_match
        if match is not None:
            return match.namespace == "social" or match.url_name == "social_auth_begin"
        return "/oauth/" in request.path

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self.is_sso_request(request) or isinstance(exception, Http404):
            return None  # an unknown backend in the URL is NetBox's 404, not a failed sign-in
        if isinstance(exception, DatabaseError):
            drop_broken_connections()
        code, subject, message = describe(exception)
        backend = _backend_name(request)
        stage = (
            "begin"
            if (request.resolver_match and request.resolver_match.url_name == "social_auth_begin")
            else "complete"
        )
        sso_audit.record_failure(request, exception, backend=backend, code=code, subject=subject, stage=stage)
        if code == "unexpected":
            logger.error("netbox-sso: unexpected failure during SSO (%s)", backend, exc_info=exception)
        # No message storage (API clients): the redirect still lands on the login page.
        with contextlib.suppress(messages.MessageFailure):
            messages.error(request, message, extra_tags=f"social-auth {backend}".strip())
        return self.login_page_response(request)

    @staticmethod
    def login_page_response(request: HttpRequest) -> HttpResponse:
        login_url = str(settings.LOGIN_URL)
        if not url_has_allowed_host_and_scheme(login_url, allowed_hosts=None):
            login_url = "/login/"
        # NetBox's login page posts the SSO form with fetch() and navigates to {"url": ...} itself; a
        # redirect would be followed by fetch() and the message lost, so answer as NetBox's begin view does.
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"url": request.build_absolute_uri(login_url)})
        return HttpResponseRedirect(login_url)
