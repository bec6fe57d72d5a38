"""Logout: RP-initiated logout at the provider, and OIDC Back-Channel Logout tokens from it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from social_core.exceptions import AuthConnectionError

from netbox_sso.backends import tokens
from netbox_sso.backends.config import hardening
from netbox_sso.backends.hardening import CACHE_PREFIX
from netbox_sso.core import oidc_checks as checks
from netbox_sso.keys import (
    LOGOUT_DETAILS_ATTRIBUTE,
)
from netbox_sso.sessions.common import NO_STORE, _digest, hardened_backend, logger, record_event
from netbox_sso.sessions.state import end_sessions_counted


def rp_logout(
    request: HttpRequest, state: Mapping[str, Any], get_response: Callable[[HttpRequest], HttpResponse]
) -> HttpResponse:
    """NetBox's logout, then on to the provider's end_session_endpoint (OIDC RP-Initiated Logout 1.0)."""
    cfg = hardening()
    id_token = tokens.unseal(state.get("sealed")).get("id_token")
    target = state.get("end_session") if cfg.rp_logout else None
    # A link or form on another site, even a sibling subdomain (logout CSRF, possible with stock NetBox), must
    # not also end the user's session at the provider, which would sign them out of every application.
    cross_origin = not same_origin_navigation(request)
    # The logout is one audit event (user_logged_out: row and log line); it says whether it continues at the
    # provider. NetBox's logout view always answers with a redirect, which is what we continue from.
    setattr(
        request,
        LOGOUT_DETAILS_ATTRIBUTE,
        {"provider_logout": bool(target and not cross_origin), **({"cross_origin": True} if cross_origin else {})},
    )
    response = get_response(request)  # NetBox ends the session and redirects to LOGOUT_REDIRECT_URL
    redirected = response.status_code in (301, 302, 303) and response.has_header("Location")
    provider = bool(target and not cross_origin and redirected)
    if not provider:
        return response
    after = cfg.post_logout_redirect_uri or _absolute(request, response["Location"])
    params = {"client_id": state.get("client_id"), "post_logout_redirect_uri": after}
    if id_token:
        params["id_token_hint"] = id_token
    response["Location"] = _add_query(str(target), {k: v for k, v in params.items() if v})
    return response


def same_origin_navigation(request: HttpRequest) -> bool:
    """Whether this request comes from NetBox's own pages or the user's own hand, not from another origin.

    Browsers say so in Sec-Fetch-Site: `same-origin`, or `none` (typed, bookmarked). `same-site` is not
    enough: a sibling subdomain is another application. Without that header (older browsers, scripts),
    an Origin or Referer, when sent, must name this host.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    return urlsplit(source).netloc.lower() == request.get_host().lower()


def _absolute(request: HttpRequest, location: str) -> str:
    url = request.build_absolute_uri(location)
    if getattr(settings, "SOCIAL_AUTH_REDIRECT_IS_HTTPS", False) and url.startswith("http://"):
        url = "https://" + url.removeprefix("http://")  # behind a TLS-terminating proxy, as social-core does
    return url


def _add_query(url: str, params: Mapping[str, Any]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def backchannel_logout(request: HttpRequest, backend_name: str) -> HttpResponse:
    """OIDC Back-Channel Logout 1.0 section 2.5/2.8: validate the logout token, end the sessions, 200/400."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={**NO_STORE, "Allow": "POST"})
    cfg = hardening()
    backend = hardened_backend(request, backend_name) if cfg.backchannel_logout is not False else None
    if backend is None or not backend.backchannel_logout_enabled():
        return JsonResponse({"error": "not_found"}, status=404, headers=NO_STORE)
    token = request.POST.get("logout_token", "")
    if not token:
        return _bad_logout_request(request, backend_name, "missing", "logout_token is missing")
    try:
        claims = backend.validate_logout_token(token)
    except checks.OIDCCheckError as error:
        return _bad_logout_request(request, backend_name, error.code, str(error))
    except (AuthConnectionError, requests.RequestException) as error:
        return _bad_logout_request(request, backend_name, "provider_unavailable", f"signing keys: {error}")
    now = time.time()
    lifetime = (
        float(claims["exp"]) - now if isinstance(claims.get("exp"), int | float) else float(cfg.id_token_max_age)
    ) + cfg.clock_leeway
    # Section 2.6 step 7 (optional, recommended): refuse a jti seen before; the cache is shared by instances.
    if not cache.add(f"{CACHE_PREFIX}:logout-jti:{_digest(claims['iss'], claims['jti'])}", 1, max(60, int(lifetime))):
        return _bad_logout_request(request, backend_name, "replayed", "logout token already used (jti)")
    sub = claims.get("sub") or None
    sid = claims.get("sid") or None
    ended, other_sub = end_sessions_counted(backend.name, str(claims["iss"]), sub, sid)
    record_event(
        "logout",
        request,
        backend=backend.name,
        username="",
        outcome="success",
        reason="backchannel",
        details={"sub": sub, "sid": sid, "sessions_ended": ended, **({"other_sub": other_sub} if other_sub else {})},
    )
    return HttpResponse(status=200, headers=NO_STORE)


def _bad_logout_request(request: HttpRequest, backend: str, code: str, detail: str) -> HttpResponse:
    """400 for a rejected logout token: a log line and a counter, never an audit row.

    Anyone can post here, as often and with whatever text they like; a row per request would let them fill
    the audit table. The metric counts every rejection; the log line is written for the first few per client
    and reason in each throttle window (netbox_sso.throttle), the rest are counted only.
    """
    from netbox_sso import audit, metrics, throttle

    metrics.count_backchannel_rejected(backend, code)
    client = audit.client_address(request) or ""
    if throttle.admit("backchannel_rejected", client, backend, code).record:
        logger.warning(
            "netbox-sso: back-channel logout request for %s from %s rejected (%s): %s; further "
            "rejections are counted in netbox_sso_backchannel_rejected_total",
            metrics.backend_label(backend),
            client or "?",
            code,
            audit.redact_text(detail, 200),
        )
    return JsonResponse({"error": "invalid_request", "error_description": detail[:300]}, status=400, headers=NO_STORE)
