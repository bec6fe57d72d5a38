"""The login page: straight to `login_redirect_backend`, the password form at ?local=1."""

from __future__ import annotations

import contextlib
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from netbox_sso.keys import (
    AUTO_REDIRECT_KEY,
)
from netbox_sso.sessions.common import AUTO_REDIRECT_GUARD, record_event


def login_redirect(request: HttpRequest, backend_name: str) -> HttpResponse | None:
    """Send an anonymous visitor of the login page straight to the provider; None shows the page."""
    if request.GET.get("local"):
        return _local_login_page(request) if settings.LOGIN_FORM_HIDDEN else None
    if request.user.is_authenticated or _has_pending_messages(request):
        return None  # a failure or logout message must be read, and must not loop back to the provider
    now = time.time()
    if now - float(request.session.get(AUTO_REDIRECT_KEY) or 0) < AUTO_REDIRECT_GUARD:
        return None  # back from the provider within seconds without a login: show the page, don't bounce
    request.session[AUTO_REDIRECT_KEY] = now
    from social_core.actions import do_auth
    from social_django.utils import load_backend, load_strategy

    try:
        backend = load_backend(
            load_strategy(request), backend_name, redirect_uri=reverse("social:complete", args=(backend_name,))
        )
        return do_auth(backend, redirect_name=REDIRECT_FIELD_NAME)
    except Exception as error:  # e.g. discovery unreachable: the login page, with the reason
        from netbox_sso.middleware import describe

        code, subject, message = describe(error)
        record_event(
            "login_failure",
            request,
            backend=backend_name,
            username="",
            outcome="failure",
            reason=code,
            details={"stage": "login_redirect", "subject": subject, "detail": str(error)[:300]},
        )
        with contextlib.suppress(messages.MessageFailure):
            messages.error(request, message)
        return None


def _has_pending_messages(request: HttpRequest) -> bool:
    storage = messages.get_messages(request)
    pending = any(True for _ in storage)
    storage.used = False  # peeking must not consume them: the login page shows them
    return pending


def _local_login_page(request: HttpRequest) -> HttpResponse:
    """NetBox's login page with the password form shown even under LOGIN_FORM_HIDDEN (break-glass)."""
    from account.views import LoginView
    from django.contrib.auth.forms import AuthenticationForm
    from django.shortcuts import render

    view = LoginView()
    view.setup(request)
    if request.user.is_authenticated:
        return view.get(request)
    return render(
        request,
        view.template_name,
        {
            "form": AuthenticationForm(request),
            "auth_backends": view.get_auth_backends(request),
            "login_form_hidden": False,
        },
    )
