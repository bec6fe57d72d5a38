"""Start-up checks, and what a sign-in leaves in the session: state, lifetime cap, index for back-channel logout."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from netbox_sso.backends import tokens
from netbox_sso.backends.config import Hardening, hardening
from netbox_sso.keys import (
    STATE_KEY,
)
from netbox_sso.sessions.common import (
    MAX_INDEXED,
    _index_key,
    _lifetime,
    _marker_key,
    _markers_of_session,
    _markers_of_token,
    _named_by_token,
    _session_store,
    logger,
)


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
        logger.info(
            "netbox-sso: SESSION_COOKIE_AGE = %s from configuration.py applied (NetBox itself reads "
            "only LOGIN_TIMEOUT)",
            int(age),
        )
    elif age is not None and timeout is not None and int(age) != int(timeout):
        logger.warning(
            "netbox-sso: configuration.py sets both SESSION_COOKIE_AGE (%s) and LOGIN_TIMEOUT (%s); "
            "LOGIN_TIMEOUT applies",
            age,
            timeout,
        )
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
                f"{sorted(n for n in names if isinstance(n, str))}"
            )
        logger.info(
            "netbox-sso: the login page sends visitors to %s; local accounts sign in at %s?local=1",
            cfg.login_redirect_backend,
            settings.LOGIN_URL,
        )


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
            logger.info(
                "netbox-sso: %s sent no refresh token for %s; the session cannot be renewed (Okta and "
                "Entra v2 need offline_access and the refresh-token grant enabled for the app)",
                record.get("backend"),
                user.get_username(),
            )
    now = time.time()
    state = {
        "backend": record.get("backend"),
        "client_id": record.get("client_id"),
        "iss": record.get("iss"),
        "sub": record.get("sub"),
        "sid": record.get("sid"),
        "id_exp": record.get("id_exp"),
        "at_exp": record.get("at_exp") or record.get("id_exp"),
        "end_session": end_session,
        "sealed": tokens.seal(keep) if keep else None,
        "login_at": now,
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
            logger.warning("netbox-sso: session not indexed for back-channel logout (cache unavailable)", exc_info=True)


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
    index_keys = [
        _index_key(kind, str(state["backend"]), state.get("iss"), state[kind])
        for kind in ("sub", "sid")
        if state.get(kind)
    ]
    if not index_keys:
        return
    # Read-modify-write, one round trip each way: two concurrent logins of one sub may lose an entry; the
    # logout markers cover that.
    current = cache.get_many(index_keys)
    cache.set_many(
        {
            key: [*[k for k in (current.get(key) or []) if k != session_key][-(MAX_INDEXED - 1) :], session_key]
            for key in index_keys
        },
        _lifetime(),
    )


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
    cache.set_many(
        {_marker_key(name[0], backend, iss, *name[1:]): now for name in _markers_of_token(sub, sid)}, lifetime
    )
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
