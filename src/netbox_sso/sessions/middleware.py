"""The one middleware (`SSOSessionMiddleware`) that runs the session logic on every request."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from netbox_sso.backends.config import hardening
from netbox_sso.keys import (
    SIGNIN_ATTRIBUTE,
    STATE_KEY,
)
from netbox_sso.sessions.common import ENDED_BY_PROVIDER, _is_api, _login_url
from netbox_sso.sessions.login_page import login_redirect
from netbox_sso.sessions.logout import backchannel_logout, rp_logout
from netbox_sso.sessions.refresh import end_session, maybe_refresh
from netbox_sso.sessions.state import finalize_login, logged_out_by_provider


class SSOSessionMiddleware:
    """See the module docstring; registered after NetBox's middleware, so request.user is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        base = re.escape(f"/{settings.BASE_PATH}")
        self.backchannel_path = re.compile(rf"^{base}oauth/backchannel-logout/(?P<backend>[A-Za-z0-9._-]+)/?$")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self.backchannel_path.match(request.path)
        if match:
            return backchannel_logout(request, match["backend"])
        cfg = hardening()
        if cfg.login_redirect_backend and request.method == "GET" and request.path == settings.LOGIN_URL:
            response = login_redirect(request, cfg.login_redirect_backend)
            if response is not None:
                return response
        state = request.session.get(STATE_KEY) if hasattr(request, "session") else None
        if isinstance(state, dict) and request.user.is_authenticated:
            # Sessions from before the per-backend flag existed keep being checked.
            if state.get("backchannel", True) and cfg.backchannel_logout is not False and logged_out_by_provider(state):
                end_session(request, state, reason="backchannel", message=ENDED_BY_PROVIDER)
                return self.after_session_ended(request)
            if cfg.refresh_tokens and not maybe_refresh(request, state, cfg):
                return self.after_session_ended(request)
            if request.path == reverse("logout"):
                return rp_logout(request, state, self.get_response)
        response = self.get_response(request)
        signin = getattr(request, SIGNIN_ATTRIBUTE, None)
        if isinstance(signin, dict):
            finalize_login(request, signin)
        return response

    def after_session_ended(self, request: HttpRequest) -> HttpResponse:
        if _is_api(request):
            return self.get_response(request)  # now anonymous: the API answers as it does to anyone
        if getattr(request, "htmx", False):
            # A partial (HTMX) request: a redirect would be swapped into the page; ask for a full navigation.
            return HttpResponse(status=204, headers={"HX-Redirect": str(settings.LOGIN_URL)})
        return HttpResponseRedirect(_login_url(request))
