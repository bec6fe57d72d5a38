"""NetBox sessions that follow the identity provider: lifetime, refresh, RP-initiated and back-channel logout.

One middleware (`SSOSessionMiddleware`, registered by the PluginConfig after NetBox's own) does it all:

- after an SSO login (the hardened backend leaves `SIGNIN_ATTRIBUTE`), it stores the session's
  SSO state (`STATE_KEY`: backend, iss, sub, sid, token expiries, end_session endpoint, and the ID and
  refresh tokens sealed with `backends.tokens.seal`), caps the session at the token's expiry when asked,
  and indexes the session key under sub and sid in NetBox's cache (shared by every NetBox instance);
- on each request of such a session: ends it when a back-channel logout arrived for its sid/sub
  (markers in the cache close the gap when the index missed a session), and refreshes the tokens when
  the access token is about to expire, re-evaluating group mapping with the fresh claims;
- NetBox's /logout/ continues to the provider's end_session_endpoint (RP-initiated logout);
- POST /oauth/backchannel-logout/<backend>/ accepts OIDC Back-Channel Logout tokens (csrf-exempt: it
  is answered here, before any view, CSRF check or session write);
- GET /login/ goes straight to `login_redirect_backend` unless `?local=1` (break-glass accounts).

Settings: `netbox_sso.backends.config`; behaviour and operations: docs/sessions.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from social_core.exceptions import AuthConnectionError, MissingBackend

from netbox_sso.backends import tokens
from netbox_sso.backends.config import Hardening, hardening
from netbox_sso.backends.hardening import CACHE_PREFIX, HardenedOIDCMixin
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core import sessions as session_rules
from netbox_sso.keys import (
    AUTO_REDIRECT_KEY,
    LOGOUT_DETAILS_ATTRIBUTE,
    LOGOUT_OUTCOME_ATTRIBUTE,
    LOGOUT_REASON_ATTRIBUTE,
    SIGNIN_ATTRIBUTE,
    STATE_KEY,
)

logger = logging.getLogger("netbox_sso")
audit_log = logging.getLogger("netbox_sso.audit")

#: The login page shows itself instead of redirecting again within this many seconds.
AUTO_REDIRECT_GUARD = 10.0
#: At most this many NetBox sessions indexed per sub or sid (older ones still end through the markers).
MAX_INDEXED = 50
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

ENDED_BY_PROVIDER = "Your session was ended by the identity provider. Please sign in again."
REFRESH_REFUSED = ("Your single sign-on session has ended: the identity provider no longer accepts it. "
                   "Please sign in again.")
EXPIRED_UNRENEWED = ("Your single sign-on session expired and could not be renewed (the identity provider "
                     "is unavailable). Please sign in again.")
REFRESH_INVALID = ("Your single sign-on session has ended: the identity provider's renewed token was "
                   "rejected. Please sign in again.")


# ---- helpers -------------------------------------------------------------------------------------------
def log_event(event: str, *, backend: str, username: str, outcome: str, reason: str,
              details: Mapping[str, Any] | None = None, logger: logging.Logger = audit_log) -> None:
    """One JSON line: on `netbox_sso.audit` when the audit trail cannot record the event (a plain Django
    site), on `netbox_sso` for operational session lines that are not audit events (refresh)."""
    payload = {"event": event, "backend": backend, "user": username, "outcome": outcome, "reason": reason,
               **({"details": dict(details)} if details else {})}
    logger.log(logging.WARNING if outcome in ("failure", "refused") else logging.INFO,
                  json.dumps(payload, sort_keys=True, default=str))


def record_event(event: str, request: HttpRequest | None, *, backend: str, username: str, outcome: str,
                 reason: str, details: Mapping[str, Any] | None = None) -> None:
    """The audit trail's `record` for known event types; otherwise one JSON line on `netbox_sso.audit`."""
    try:
        from netbox_sso import audit

        audit.record(event, request=request, backend=backend, username=username, outcome=outcome,
                     reason=reason, details=details)
    except Exception:  # unknown event type or no audit trail: the log line is the record
        log_event(event, backend=backend, username=username, outcome=outcome, reason=reason, details=details)


def hardened_backend(request: HttpRequest, name: str) -> Any:
    """The configured hardened backend called `name`, bound to this request; None if there is none."""
    from social_django.utils import load_backend, load_strategy

    try:
        backend = load_backend(load_strategy(request), name, redirect_uri=None)
    except MissingBackend:
        return None
    return backend if isinstance(backend, HardenedOIDCMixin) else None


def _digest(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _index_key(kind: str, backend: str, iss: Any, value: Any) -> str:
    return f"{CACHE_PREFIX}:session-index:{kind}:{_digest(backend, iss, value)}"


def _marker_key(kind: str, backend: str, iss: Any, *values: Any) -> str:
    # v2: markers of a token with sid and sub name both (v1 named the sid alone, whatever the sub).
    return f"{CACHE_PREFIX}:logged-out-v2:{kind}:{_digest(backend, iss, *values)}"


def _markers_of_token(sub: str | None, sid: str | None) -> list[tuple[str, ...]]:
    """What a logout token ends, as marker names (OIDC Back-Channel Logout 1.0 section 2.4, 2.7):
    sid and sub: that provider session of that user, and that user's sessions recorded without a sid;
    sid only: that provider session; sub only: every session of that user."""
    if sid and sub:
        return [("sid+sub", sid, sub), ("sub-without-sid", sub)]
    return [("sid", sid)] if sid else [("sub", sub)] if sub else []


def _markers_of_session(state: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The marker names that end this session (the counterpart of _markers_of_token)."""
    sid, sub = state.get("sid") or None, state.get("sub") or None
    names: list[tuple[str, ...]] = []
    if sid:
        names.append(("sid", sid))
        if sub:
            names.append(("sid+sub", sid, sub))
    if sub:
        names.append(("sub", sub))
        if not sid:
            names.append(("sub-without-sid", sub))
    return names


def _named_by_token(state: Mapping[str, Any], sub: str | None, sid: str | None) -> bool:
    """Whether a logout token with this sub and sid ends the session with this state."""
    return not set(_markers_of_session(state)).isdisjoint(_markers_of_token(sub, sid))


def _session_store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _lifetime() -> int:
    """How long an index entry or marker may matter: the longest a session can live."""
    return max(60, int(settings.SESSION_COOKIE_AGE))


def _is_api(request: HttpRequest) -> bool:
    base = f"/{settings.BASE_PATH}"
    return request.path.startswith((f"{base}api/", f"{base}graphql"))


def _login_url(request: HttpRequest | None = None) -> str:
    url = str(settings.LOGIN_URL)
    if request is not None and request.method == "GET" and not request.path.startswith(url):
        url += "?" + urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
    return url


def _expires(state: Mapping[str, Any], cfg: Hardening) -> float:
    """When the tokens backing this session stop being good: access token, or the ID token when it caps."""
    candidates = [float(v) for v in (state.get("at_exp"), state.get("id_exp")) if isinstance(v, int | float)]
    if not candidates:
        return float("inf")
    if cfg.session_cap == "id_token" and isinstance(state.get("id_exp"), int | float):
        return min(candidates)
    return float(state.get("at_exp") or candidates[0])


# ---- start-up -----------------------------------------------------------------------------------------
def configure_sessions() -> None:
    """Session lifetime as the reference documents it, and the session options checked at start-up.

    The reference says to set SESSION_COOKIE_AGE in configuration.py, but NetBox copies only LOGIN_TIMEOUT
    into Django's SESSION_COOKIE_AGE and silently ignores the former. We apply it (LOGIN_TIMEOUT, NetBox's
    own setting, wins when both are set) and say so.
    """
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    configuration = getattr(sys.modules.get("netbox.settings"), "configuration", None)
    age = getattr(configuration, "SESSION_COOKIE_AGE", None)
    timeout = getattr(configuration, "LOGIN_TIMEOUT", None)
    if age is not None and timeout is None:
        settings.SESSION_COOKIE_AGE = int(age)
        logger.info("netbox-sso: SESSION_COOKIE_AGE = %s from configuration.py applied (NetBox itself reads "
                    "only LOGIN_TIMEOUT)", int(age))
    elif age is not None and timeout is not None and int(age) != int(timeout):
        logger.warning("netbox-sso: configuration.py sets both SESSION_COOKIE_AGE (%s) and LOGIN_TIMEOUT (%s); "
                       "LOGIN_TIMEOUT applies", age, timeout)
    try:
        cfg = hardening()
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    if cfg.login_redirect_backend:
        names = set()
        for path in settings.AUTHENTICATION_BACKENDS:
            with contextlib.suppress(ImportError):
                names.add(getattr(import_string(path), "name", None))
        if cfg.login_redirect_backend not in names:
            raise ImproperlyConfigured(
                f"netbox-sso: PLUGINS_CONFIG['netbox_sso']['login_redirect_backend'] = "
                f"{cfg.login_redirect_backend!r} is not a configured backend; one of "
                f"{sorted(n for n in names if isinstance(n, str))}")
        logger.info("netbox-sso: the login page sends visitors to %s; local accounts sign in at %s?local=1",
                    cfg.login_redirect_backend, settings.LOGIN_URL)


# ---- login: state, lifetime, index -------------------------------------------------------------------
def finalize_login(request: HttpRequest, record: Mapping[str, Any]) -> None:
    """Store the SSO state of the session that login() just created."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk != record.get("user"):
        return  # the pipeline stopped (partial) or another login won: nothing to keep
    cfg = hardening()
    keep: dict[str, str] = {}
    end_session = record.get("end_session") if cfg.rp_logout else None
    if record.get("id_token") and (end_session or cfg.refresh_tokens):
        keep["id_token"] = str(record["id_token"])
    if cfg.refresh_tokens:
        if record.get("refresh_token"):
            keep["refresh_token"] = str(record["refresh_token"])
        else:
            logger.info("netbox-sso: %s sent no refresh token for %s; the session cannot be renewed (Okta and "
                        "Entra v2 need offline_access and the refresh-token grant enabled for the app)",
                        record.get("backend"), user.get_username())
    now = time.time()
    state = {
        "backend": record.get("backend"), "client_id": record.get("client_id"), "iss": record.get("iss"),
        "sub": record.get("sub"), "sid": record.get("sid"), "id_exp": record.get("id_exp"),
        "at_exp": record.get("at_exp") or record.get("id_exp"), "end_session": end_session,
        "sealed": tokens.seal(keep) if keep else None, "login_at": now,
        # Back-channel logout is on for this session's backend (decided at sign-in, with discovery at hand).
        "backchannel": bool(record.get("backchannel", True)),
        # The sign-in itself counts as this interval's contact with the provider.
        "next_refresh": now + cfg.refresh_interval,
    }
    request.session[STATE_KEY] = state
    cap_session(request, state, cfg)
    if state["backchannel"] and request.session.session_key:
        try:
            index_session(request.session.session_key, state)
        except Exception:  # cache unavailable: the logout markers still end this session when read
            logger.warning("netbox-sso: session not indexed for back-channel logout (cache unavailable)",
                           exc_info=True)


def cap_session(request: HttpRequest, state: Mapping[str, Any], cfg: Hardening) -> None:
    """`session_max_age_from_token`: the session expires with the token (never later than SESSION_COOKIE_AGE)."""
    if cfg.session_cap is None:
        return
    exp = state.get("id_exp") if cfg.session_cap == "id_token" else state.get("at_exp")
    if not isinstance(exp, int | float):
        return
    cap = min(float(exp), time.time() + float(settings.SESSION_COOKIE_AGE))
    request.session.set_expiry(datetime.fromtimestamp(cap, tz=UTC))


def index_session(session_key: str, state: Mapping[str, Any]) -> None:
    """Remember this session under its sub and sid, so a logout token can end it on any instance."""
    index_keys = [_index_key(kind, str(state["backend"]), state.get("iss"), state[kind])
                  for kind in ("sub", "sid") if state.get(kind)]
    if not index_keys:
        return
    # Read-modify-write, one round trip each way: two concurrent logins of one sub may lose an entry; the
    # logout markers cover that.
    current = cache.get_many(index_keys)
    cache.set_many({key: [*[k for k in (current.get(key) or []) if k != session_key][-(MAX_INDEXED - 1):],
                          session_key] for key in index_keys}, _lifetime())


def end_sessions(backend: str, iss: str, sub: str | None, sid: str | None) -> int:
    """End the sessions a logout token names; the number deleted now (see end_sessions_counted)."""
    return end_sessions_counted(backend, iss, sub, sid)[0]


def end_sessions_counted(backend: str, iss: str, sub: str | None, sid: str | None) -> tuple[int, int]:
    """End the sessions a logout token names (see _markers_of_token); say what really ended.

    Returns (ended, other_sub). Sessions found in the index are deleted now (`ended`); markers end the
    others at their next request. A session with the token's sid but another sub is left alone and counted
    (`other_sub`): the sub is checked wherever the token has one.
    """
    now = time.time()
    lifetime = _lifetime()
    cache.set_many({_marker_key(name[0], backend, iss, *name[1:]): now for name in _markers_of_token(sub, sid)},
                   lifetime)
    candidates: set[str] = set()
    for kind, value in (("sid", sid), ("sub", sub)):
        if value:
            candidates.update(cache.get(_index_key(kind, backend, iss, value)) or [])
    store = _session_store()
    ended = other_sub = 0
    for session_key in candidates:
        session = store(session_key=session_key)
        state = session.load().get(STATE_KEY)
        if not isinstance(state, dict) or state.get("backend") != backend or state.get("iss") != iss:
            continue
        if not _named_by_token(state, sub, sid):
            other_sub += bool(sid and state.get("sid") == sid)
            continue
        session.delete(session_key)
        ended += 1
    return ended, other_sub


def logged_out_by_provider(state: Mapping[str, Any]) -> bool:
    """A logout token naming this session arrived after it signed in (cache markers)."""
    backend, iss = str(state.get("backend")), state.get("iss")
    keys = [_marker_key(name[0], backend, iss, *name[1:]) for name in _markers_of_session(state)]
    if not keys:
        return False
    login_at = float(state.get("login_at") or 0)
    try:
        markers = cache.get_many(keys)
    except Exception:
        # Cache (Redis) unavailable: fail open for this request rather than answer 500 from SSO code; NetBox
        # itself needs the same cache for every page, and the markers are read again on the next request.
        logger.warning("netbox-sso: back-channel logout markers unreadable (cache unavailable)", exc_info=True)
        return False
    return any(float(at) >= login_at for at in markers.values())


# ---- each request: provider logout, refresh ----------------------------------------------------------
def end_session(request: HttpRequest, state: Mapping[str, Any], *, reason: str, message: str,
                outcome: str = "info", details: Mapping[str, Any] | None = None) -> None:
    """Log the user out of NetBox, leave `message` for the login page, say why in the audit trail.

    logout() fires user_logged_out, which the audit trail records as the one `logout` event of this
    session end (row and log line); the reason, outcome and details are left on the request for it.
    """
    setattr(request, LOGOUT_REASON_ATTRIBUTE, reason)
    setattr(request, LOGOUT_OUTCOME_ATTRIBUTE, outcome)
    if details:
        setattr(request, LOGOUT_DETAILS_ATTRIBUTE, dict(details))
    logout(request)
    with contextlib.suppress(messages.MessageFailure):
        messages.warning(request, message)


def maybe_refresh(request: HttpRequest, state: dict[str, Any], cfg: Hardening) -> bool:
    """Refresh when due; False when the session had to end (the caller answers), True otherwise."""
    now = time.time()
    expires = _expires(state, cfg)
    if expires - now > cfg.refresh_margin:
        return True
    expired = now >= expires
    if not expired and now < float(state.get("next_refresh") or 0):
        return True
    secrets = tokens.unseal(state.get("sealed"))
    refresh_token = secrets.get("refresh_token")
    if not refresh_token:
        return True  # nothing to renew with: the session keeps its NetBox lifetime (or its cap)
    state["next_refresh"] = now + cfg.refresh_interval
    request.session[STATE_KEY] = state
    # One attempt per session per interval across threads, workers and instances (the cache is shared).
    if not cache.add(f"{CACHE_PREFIX}:refreshing:{_digest(request.session.session_key)}", 1, cfg.refresh_interval):
        return True
    backend = hardened_backend(request, str(state.get("backend")))
    if backend is None:
        return True
    try:
        response = backend.refresh_session(refresh_token, secrets.get("id_token"))
    except session_rules.RefreshRefused as error:
        end_session(request, state, reason="refresh_refused", message=REFRESH_REFUSED, outcome="refused",
                    details={"detail": error.reason})
        return False
    except (checks.ProviderUnavailableError, AuthConnectionError, requests.RequestException) as error:
        return _provider_unavailable(request, state, error, expired)
    except checks.OIDCCheckError as error:  # the provider sent something invalid: stop trusting the session
        end_session(request, state, reason=error.code, message=REFRESH_INVALID, outcome="failure",
                    details={"subject": error.subject, "detail": error.reason})
        return False
    except Exception as error:
        logger.exception("netbox-sso: unexpected failure refreshing the session of %s", request.user)
        return _provider_unavailable(request, state, error, expired)
    return _refreshed(request, state, cfg, backend, response, refresh_token, secrets)


def _provider_unavailable(request: HttpRequest, state: Mapping[str, Any], error: BaseException,
                          expired: bool) -> bool:
    """The provider could not be asked: keep the session until its tokens expire, then end it."""
    logger.warning("netbox-sso: refreshing the session of %s failed (%s: %s); %s", request.user,
                   type(error).__name__, error, "ending it (tokens expired)" if expired else "kept until the "
                   "tokens expire")
    if not expired:
        return True
    end_session(request, state, reason="expired_unrenewed", message=EXPIRED_UNRENEWED, outcome="failure",
                details={"detail": f"{type(error).__name__}: {error}"[:300]})
    return False


def _refreshed(request: HttpRequest, state: dict[str, Any], cfg: Hardening, backend: Any,
               response: dict[str, Any], refresh_token: str, secrets: Mapping[str, str]) -> bool:
    """Keep the renewed tokens, then mirror the fresh claims onto the user's groups and flags."""
    from netbox_sso.pipeline.errors import SSORefused
    from netbox_sso.pipeline.groups import apply_mapping, resolve_groups

    now = time.time()
    claims = backend.id_token or {}
    state.update(
        id_exp=claims.get("exp", state.get("id_exp")),
        at_exp=session_rules.access_token_expiry(response, now) or claims.get("exp") or state.get("at_exp"),
        sid=claims.get("sid") or state.get("sid"),
        sealed=tokens.seal({
            **({"id_token": str(response.get("id_token") or secrets.get("id_token"))}
               if response.get("id_token") or secrets.get("id_token") else {}),
            "refresh_token": str(response.get("refresh_token") or refresh_token),  # rotated, or the same
        }),
    )
    request.session[STATE_KEY] = state
    cap_session(request, state, cfg)
    user = request.user
    try:
        resolved = resolve_groups(backend, {"username": user.get_username()}, response, user=user) or {}
        apply_mapping(backend, user=user, response=response, is_new=False,
                      sso_groups_reading=resolved.get("sso_groups_reading"))
    except SSORefused as error:
        end_session(request, state, reason="refused", message=str(error), outcome="refused")
        return False
    except Exception:  # mapping must not break the request; the next refresh tries again
        logger.exception("netbox-sso: re-evaluating group mapping after refresh failed for %s", user)
    # Operational, not an audit event (a row per refresh per session would flood the trail): what a refresh
    # changes is recorded (groups_changed, flags_changed), and a refresh that ends the session is a logout.
    log_event("sso.session.refreshed", backend=backend.name, username=user.get_username(), outcome="success",
              reason="", logger=logger)
    return True


# ---- logout ------------------------------------------------------------------------------------------
def rp_logout(request: HttpRequest, state: Mapping[str, Any],
              get_response: Callable[[HttpRequest], HttpResponse]) -> HttpResponse:
    """NetBox's logout, then on to the provider's end_session_endpoint (OIDC RP-Initiated Logout 1.0)."""
    cfg = hardening()
    id_token = tokens.unseal(state.get("sealed")).get("id_token")
    target = state.get("end_session") if cfg.rp_logout else None
    # A link or form on another site, even a sibling subdomain (logout CSRF, possible with stock NetBox), must
    # not also end the user's session at the provider, which would sign them out of every application.
    cross_origin = not same_origin_navigation(request)
    # The logout is one audit event (user_logged_out: row and log line); it says whether it continues at the
    # provider. NetBox's logout view always answers with a redirect, which is what we continue from.
    setattr(request, LOGOUT_DETAILS_ATTRIBUTE, {"provider_logout": bool(target and not cross_origin),
                                                **({"cross_origin": True} if cross_origin else {})})
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
    lifetime = (float(claims["exp"]) - now if isinstance(claims.get("exp"), int | float)
                else float(cfg.id_token_max_age)) + cfg.clock_leeway
    # Section 2.6 step 7 (optional, recommended): refuse a jti seen before; the cache is shared by instances.
    if not cache.add(f"{CACHE_PREFIX}:logout-jti:{_digest(claims['iss'], claims['jti'])}", 1, max(60, int(lifetime))):
        return _bad_logout_request(request, backend_name, "replayed", "logout token already used (jti)")
    sub = claims.get("sub") or None
    sid = claims.get("sid") or None
    ended, other_sub = end_sessions_counted(backend.name, str(claims["iss"]), sub, sid)
    record_event("logout", request, backend=backend.name, username="", outcome="success", reason="backchannel",
                 details={"sub": sub, "sid": sid, "sessions_ended": ended,
                          **({"other_sub": other_sub} if other_sub else {})})
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
        logger.warning("netbox-sso: back-channel logout request for %s from %s rejected (%s): %s; further "
                       "rejections are counted in netbox_sso_backchannel_rejected_total",
                       metrics.backend_label(backend), client or "?", code, audit.redact_text(detail, 200))
    return JsonResponse({"error": "invalid_request", "error_description": detail[:300]}, status=400,
                        headers=NO_STORE)


# ---- login page ---------------------------------------------------------------------------------------
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
        backend = load_backend(load_strategy(request), backend_name,
                               redirect_uri=reverse("social:complete", args=(backend_name,)))
        return do_auth(backend, redirect_name=REDIRECT_FIELD_NAME)
    except Exception as error:  # e.g. discovery unreachable: the login page, with the reason
        from netbox_sso.middleware import describe

        code, subject, message = describe(error)
        record_event("login_failure", request, backend=backend_name, username="", outcome="failure", reason=code,
                     details={"stage": "login_redirect", "subject": subject, "detail": str(error)[:300]})
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
    return render(request, view.template_name, {"form": AuthenticationForm(request),
                                                "auth_backends": view.get_auth_backends(request),
                                                "login_form_hidden": False})


# ---- the middleware ------------------------------------------------------------------------------------
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
            if state.get("backchannel", True) and cfg.backchannel_logout is not False \
                    and logged_out_by_provider(state):
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
