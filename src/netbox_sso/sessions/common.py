"""Shared by the session modules: audit lines, the hardened backend of a request, cache keys, messages."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from importlib import import_module
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest
from social_core.exceptions import MissingBackend

from netbox_sso.backends.config import Hardening
from netbox_sso.backends.hardening import CACHE_PREFIX, HardenedOIDCMixin

logger = logging.getLogger("netbox_sso")
audit_log = logging.getLogger("netbox_sso.audit")

#: The login page shows itself instead of redirecting again within this many seconds.
AUTO_REDIRECT_GUARD = 10.0
#: At most this many NetBox sessions indexed per sub or sid (older ones still end through the markers).
MAX_INDEXED = 50
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

ENDED_BY_PROVIDER = "Your session was ended by the identity provider. Please sign in again."
REFRESH_REFUSED = (
    "Your single sign-on session has ended: the identity provider no longer accepts it. Please sign in again."
)
EXPIRED_UNRENEWED = (
    "Your single sign-on session expired and could not be renewed (the identity provider "
    "is unavailable). Please sign in again."
)
REFRESH_INVALID = (
    "Your single sign-on session has ended: the identity provider's renewed token was rejected. Please sign in again."
)


def log_event(
    event: str,
    *,
    backend: str,
    username: str,
    outcome: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
    logger: logging.Logger = audit_log,
) -> None:
    """One JSON line: on `netbox_sso.audit` when the audit trail cannot record the event (a plain Django
    site), on `netbox_sso` for operational session lines that are not audit events (refresh)."""
    payload = {
        "event": event,
        "backend": backend,
        "user": username,
        "outcome": outcome,
        "reason": reason,
        **({"details": dict(details)} if details else {}),
    }
    logger.log(
        logging.WARNING if outcome in ("failure", "refused") else logging.INFO,
        json.dumps(payload, sort_keys=True, default=str),
    )


def record_event(
    event: str,
    request: HttpRequest | None,
    *,
    backend: str,
    username: str,
    outcome: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """The audit trail's `record` for known event types; otherwise one JSON line on `netbox_sso.audit`."""
    try:
        from netbox_sso import audit

        audit.record(
            event, request=request, backend=backend, username=username, outcome=outcome, reason=reason, details=details
        )
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
