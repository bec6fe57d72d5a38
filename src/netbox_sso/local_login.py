"""Password (local) sign-ins: audited, optionally limited to break-glass accounts.

A password sign-in bypasses the provider's MFA and `required_groups`, so it is what a security team wants
to see:
- every password sign-in is an audit event (`login_success` / `login_failure`, backend `local`); a
  break-glass account's sign-in has reason `break_glass` and is logged at WARNING, for alerting;
- with `PLUGINS_CONFIG['netbox_sso']['local_login'] = 'break_glass_only'`, `PasswordSignInGuard` goes first
  in AUTHENTICATION_BACKENDS at start-up: only `break_glass_users` may sign in with a password, whichever
  backend checks it (local accounts, LDAP; login form and API token provisioning alike); anyone else is
  refused with a `refused` event (reason `local_login_restricted`), and the login page says why instead
  of "wrong password";
- a password sign-in forgets the SSO logins this browser had begun (`PENDING_KEY`): an SSO callback
  completing afterwards must not attach an identity to the account just signed in (see
  `netbox_sso.pipeline.identity.refuse_linking_signed_in_privileged`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from netbox_sso import audit
from netbox_sso.backends.config import hardening, is_break_glass

logger = logging.getLogger("netbox_sso")

#: The backend name local sign-ins carry in the audit trail and the login metrics.
LOCAL_BACKEND = "local"
PASSWORD_GUARD = "netbox_sso.local_login.PasswordSignInGuard"
#: Request attribute: a password sign-in refused by `local_login` (the refusal is already audited).
REFUSED_ATTRIBUTE = "netbox_sso_local_refused"
RESTRICTED_MESSAGE = (
    "Password sign-in is limited to break-glass accounts on this NetBox. Please sign in with single sign-on."
)


class PasswordSignInGuard:
    """First in AUTHENTICATION_BACKENDS with `local_login: 'break_glass_only'`: vetoes a password sign-in of
    anyone but `break_glass_users`, whichever backend would check the password (NetBox's local accounts,
    LDAP); authenticates no one itself. SSO and header-based sign-ins carry no username and password."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if username is None or password is None or is_break_glass(str(username)):
            return None
        # Refused before any password is checked, so the answer never tells whether it was right.
        raise _refuse(request, str(username))


def _refuse(request: HttpRequest | None, username: str) -> PermissionDenied:
    """Audit the refusal and mark the request; Django's authenticate() stops at PermissionDenied."""
    audit.record(
        "refused",
        request=request,
        backend=LOCAL_BACKEND,
        username=username,
        outcome="refused",
        reason="local_login_restricted",
        message=RESTRICTED_MESSAGE,
        details={"setting": "local_login", "value": "break_glass_only"},
    )
    if request is not None:
        setattr(request, REFUSED_ATTRIBUTE, True)
    return PermissionDenied(RESTRICTED_MESSAGE)


def restrict_password_backend() -> None:
    """Start-up: with `local_login: 'break_glass_only'`, put the guard before every authentication backend."""
    cfg = hardening()
    if cfg.local_login != "break_glass_only":
        return
    if PASSWORD_GUARD not in settings.AUTHENTICATION_BACKENDS:
        settings.AUTHENTICATION_BACKENDS = [PASSWORD_GUARD, *settings.AUTHENTICATION_BACKENDS]
    if not cfg.break_glass_users:
        logger.warning(
            "netbox-sso: local_login is 'break_glass_only' and break_glass_users is empty: no account "
            "can sign in with a password"
        )
    logger.info(
        "netbox-sso: password sign-in limited to break_glass_users (%s)", ", ".join(cfg.break_glass_users) or "none"
    )


def clear_pending_sso(request: Any) -> None:
    """Forget the SSO logins begun in this browser session (Django keeps session data across login())."""
    from netbox_sso.backends.hardening import PENDING_KEY

    session = getattr(request, "session", None)
    if session is not None and PENDING_KEY in session:
        del session[PENDING_KEY]


def on_local_login(request: Any, user: Any) -> None:
    """user_logged_in for a sign-in that is not SSO: pending SSO states cleared, one audit event."""
    clear_pending_sso(request)
    break_glass = is_break_glass(user.get_username())
    audit.record(
        "login_success",
        request=request,
        backend=LOCAL_BACKEND,
        user=user,
        outcome="success",
        reason="break_glass" if break_glass else "password",
        details={
            "break_glass": break_glass,
            "superuser": bool(user.is_superuser),
            "auth_backend": str(getattr(user, "backend", "") or ""),
        },
    )


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """user_login_failed: a wrong password (a refusal by `local_login` is audited as such already)."""
    if request is not None and getattr(request, REFUSED_ATTRIBUTE, False):
        return
    username = str(credentials.get("username") or "")
    audit.record(
        "login_failure",
        request=request,
        backend=LOCAL_BACKEND,
        username=username,
        outcome="failure",
        reason="invalid_credentials",
        details={"break_glass": bool(username) and is_break_glass(username)},
    )


class LocalLoginMiddleware:
    """A login form refused by `local_login` answers with the reason, not NetBox's "wrong password" form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, REFUSED_ATTRIBUTE, False) and request.path == settings.LOGIN_URL:
            with contextlib.suppress(messages.MessageFailure):
                messages.error(request, RESTRICTED_MESSAGE)
            query = {"local": "1"}
            next_url = request.POST.get("next")
            if next_url:
                query["next"] = next_url
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode(query)}")
        return response
