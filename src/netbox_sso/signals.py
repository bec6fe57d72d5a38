"""Audit events from Django's signals: SSO login, logout, and users created by the SSO pipeline.

Connected in the PluginConfig's ready(). social-core marks its users with `social_user`, and its session
with the backend name; any other sign-in is a password (local) one, audited by `netbox_sso.local_login`.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save

from netbox_sso import audit
from netbox_sso.audit_middleware import current_sso_request, sso_backend_name
from netbox_sso.keys import (
    LOGOUT_DETAILS_ATTRIBUTE,
    LOGOUT_OUTCOME_ATTRIBUTE,
    LOGOUT_REASON_ATTRIBUTE,
    SESSION_LOGIN,
    SOCIAL_LAST_BACKEND,
)


def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    social = getattr(user, "social_user", None)
    if request is None:
        return
    if social is None:  # a password sign-in (login form, break-glass accounts)
        from netbox_sso.local_login import on_local_login

        on_local_login(request, user)
        return
    backend = str(getattr(social, "provider", "") or "")
    if hasattr(request, "session"):
        request.session[SESSION_LOGIN] = {"backend": backend, "at": time.time()}
    audit.record(
        "login_success",
        request=request,
        backend=backend,
        user=user,
        outcome="success",
        details={"new_user": bool(getattr(user, "is_new", False)), "superuser": bool(user.is_superuser)},
    )


def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    login = session.get(SESSION_LOGIN)
    backend = login.get("backend") if isinstance(login, dict) else session.get(SOCIAL_LAST_BACKEND)
    if not backend:
        return
    # Code that ends a session itself (netbox_sso.sessions) may say why on the request before logout().
    audit.record(
        "logout",
        request=request,
        backend=str(backend),
        user=user,
        outcome=str(getattr(request, LOGOUT_OUTCOME_ATTRIBUTE, "") or "success"),
        reason=str(getattr(request, LOGOUT_REASON_ATTRIBUTE, "") or "user"),
        details=getattr(request, LOGOUT_DETAILS_ATTRIBUTE, None),
    )


def on_user_saved(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    request = current_sso_request()
    if request is None:
        return
    audit.record(
        "user_created",
        request=request,
        backend=sso_backend_name(request),
        user=instance,
        outcome="success",
        details={"email": instance.email or ""},
    )


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    from netbox_sso.local_login import on_login_failed as record_failed_password

    record_failed_password(sender, credentials, request, **kwargs)


def connect() -> None:
    user_logged_in.connect(on_login, dispatch_uid="netbox_sso.audit.login")
    user_login_failed.connect(on_login_failed, dispatch_uid="netbox_sso.audit.login_failed")
    user_logged_out.connect(on_logout, dispatch_uid="netbox_sso.audit.logout")
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="netbox_sso.audit.user_created")
