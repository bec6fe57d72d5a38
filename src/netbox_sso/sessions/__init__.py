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

Modules: `state` (what a sign-in leaves), `refresh`, `logout`, `login_page`, `middleware`, `common`.
Settings: docs/configuration.md (core.settings_schema); behaviour and operations: docs/sessions.md.
"""

from __future__ import annotations

from netbox_sso.sessions.common import (
    AUTO_REDIRECT_GUARD,
    ENDED_BY_PROVIDER,
    EXPIRED_UNRENEWED,
    MAX_INDEXED,
    NO_STORE,
    REFRESH_INVALID,
    REFRESH_REFUSED,
    hardened_backend,
    log_event,
    record_event,
)
from netbox_sso.sessions.login_page import (
    login_redirect,
)
from netbox_sso.sessions.logout import (
    backchannel_logout,
    rp_logout,
    same_origin_navigation,
)
from netbox_sso.sessions.middleware import (
    SSOSessionMiddleware,
)
from netbox_sso.sessions.refresh import (
    end_session,
    maybe_refresh,
)
from netbox_sso.sessions.state import (
    cap_session,
    configure_sessions,
    end_sessions,
    end_sessions_counted,
    finalize_login,
    index_session,
    logged_out_by_provider,
)

__all__ = [
    "AUTO_REDIRECT_GUARD",
    "ENDED_BY_PROVIDER",
    "EXPIRED_UNRENEWED",
    "MAX_INDEXED",
    "NO_STORE",
    "REFRESH_INVALID",
    "REFRESH_REFUSED",
    "SSOSessionMiddleware",
    "backchannel_logout",
    "cap_session",
    "configure_sessions",
    "end_session",
    "end_sessions",
    "end_sessions_counted",
    "finalize_login",
    "hardened_backend",
    "index_session",
    "log_event",
    "logged_out_by_provider",
    "login_redirect",
    "maybe_refresh",
    "record_event",
    "rp_logout",
    "same_origin_navigation",
]
