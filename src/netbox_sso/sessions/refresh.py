"""On each request of an SSO session: end it when the provider did, refresh the tokens before they expire."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import requests
from django.contrib import messages
from django.contrib.auth import logout
from django.core.cache import cache
from django.http import HttpRequest
from social_core.exceptions import AuthConnectionError

from netbox_sso.backends import tokens
from netbox_sso.backends.config import Hardening
from netbox_sso.backends.hardening import CACHE_PREFIX
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core import sessions as session_rules
from netbox_sso.keys import (
    LOGOUT_DETAILS_ATTRIBUTE,
    LOGOUT_OUTCOME_ATTRIBUTE,
    LOGOUT_REASON_ATTRIBUTE,
    STATE_KEY,
)
from netbox_sso.sessions.common import (
    EXPIRED_UNRENEWED,
    REFRESH_INVALID,
    REFRESH_REFUSED,
    _digest,
    _expires,
    hardened_backend,
    log_event,
    logger,
)
from netbox_sso.sessions.state import cap_session


def end_session(
    request: HttpRequest,
    state: Mapping[str, Any],
    *,
    reason: str,
    message: str,
    outcome: str = "info",
    details: Mapping[str, Any] | None = None,
) -> None:
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
        end_session(
            request,
            state,
            reason="refresh_refused",
            message=REFRESH_REFUSED,
            outcome="refused",
            details={"detail": error.reason},
        )
        return False
    except (checks.ProviderUnavailableError, AuthConnectionError, requests.RequestException) as error:
        return _provider_unavailable(request, state, error, expired)
    except checks.OIDCCheckError as error:  # the provider sent something invalid: stop trusting the session
        end_session(
            request,
            state,
            reason=error.code,
            message=REFRESH_INVALID,
            outcome="failure",
            details={"subject": error.subject, "detail": error.reason},
        )
        return False
    except Exception as error:
        logger.exception("netbox-sso: unexpected failure refreshing the session of %s", request.user)
        return _provider_unavailable(request, state, error, expired)
    return _refreshed(request, state, cfg, backend, response, refresh_token, secrets)


def _provider_unavailable(request: HttpRequest, state: Mapping[str, Any], error: BaseException, expired: bool) -> bool:
    """The provider could not be asked: keep the session until its tokens expire, then end it."""
    logger.warning(
        "netbox-sso: refreshing the session of %s failed (%s: %s); %s",
        request.user,
        type(error).__name__,
        error,
        "ending it (tokens expired)" if expired else "kept until the tokens expire",
    )
    if not expired:
        return True
    end_session(
        request,
        state,
        reason="expired_unrenewed",
        message=EXPIRED_UNRENEWED,
        outcome="failure",
        details={"detail": f"{type(error).__name__}: {error}"[:300]},
    )
    return False


def _refreshed(
    request: HttpRequest,
    state: dict[str, Any],
    cfg: Hardening,
    backend: Any,
    response: dict[str, Any],
    refresh_token: str,
    secrets: Mapping[str, str],
) -> bool:
    """Keep the renewed tokens, then mirror the fresh claims onto the user's groups and flags."""
    from netbox_sso.pipeline.errors import SSORefused
    from netbox_sso.pipeline.groups import apply_mapping, resolve_groups

    now = time.time()
    claims = backend.id_token or {}
    state.update(
        id_exp=claims.get("exp", state.get("id_exp")),
        at_exp=session_rules.access_token_expiry(response, now) or claims.get("exp") or state.get("at_exp"),
        sid=claims.get("sid") or state.get("sid"),
        sealed=tokens.seal(
            {
                **(
                    {"id_token": str(response.get("id_token") or secrets.get("id_token"))}
                    if response.get("id_token") or secrets.get("id_token")
                    else {}
                ),
                "refresh_token": str(response.get("refresh_token") or refresh_token),  # rotated, or the same
            }
        ),
    )
    request.session[STATE_KEY] = state
    cap_session(request, state, cfg)
    user = request.user
    try:
        resolved = resolve_groups(backend, {"username": user.get_username()}, response, user=user) or {}
        apply_mapping(
            backend, user=user, response=response, is_new=False, sso_groups_reading=resolved.get("sso_groups_reading")
        )
    except SSORefused as error:
        end_session(request, state, reason="refused", message=str(error), outcome="refused")
        return False
    except Exception:  # mapping must not break the request; the next refresh tries again
        logger.exception("netbox-sso: re-evaluating group mapping after refresh failed for %s", user)
    # Operational, not an audit event (a row per refresh per session would flood the trail): what a refresh
    # changes is recorded (groups_changed, flags_changed), and a refresh that ends the session is a logout.
    log_event(
        "sso.session.refreshed",
        backend=backend.name,
        username=user.get_username(),
        outcome="success",
        reason="",
        logger=logger,
    )
    return True
