"""Hardening settings, read from `PLUGINS_CONFIG['netbox_sso']` (every key optional).

Sign-in (all backends):
- `clock_leeway` (seconds, default 60): tolerated clock difference for exp, nbf and iat.
- `id_token_max_age` (seconds, default 600): an ID token issued longer ago than this is refused.
- `idp_timeout` (seconds, default 10): total time for one call to the identity provider (connect, wait,
  and read together; requests' own timeouts are per phase only).
- `max_response_bytes` (default 1 MiB): larger answers from the identity provider are refused.
- `max_claim_length` (characters, default 1024): a longer string claim refuses the sign-in.
- `metadata_cache_ttl` (seconds, default 3600, at most 86400): how long discovery documents and JWKS are
  kept in NetBox's cache (Redis); never served after that, even if a refresh fails.
- `allow_insecure_http` (default False): WEAKENS: permits http:// identity-provider URLs off loopback.
- `verify_discovery_issuer` (default True): False WEAKENS: accepts a discovery document whose issuer
  differs from the configured one (the ID token's iss is then checked against the discovery issuer).

Identity (pipeline steps in `netbox_sso.pipeline.identity`):
- `username_claim` (default "preferred_username"): claim the NetBox username comes from; fallback the
  email's local part, then sub. Never the display name.
- `reserved_usernames` (list, default []): names refused in addition to the built-in list.
- `break_glass_users` (list of usernames, default []): never linked to an SSO identity, never created
  from one.

Microsoft Entra ID (`azuread-oauth2`):
- `entra_allowed_tenants` (list of tenant IDs, default []): tenants allowed besides
  SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID; required when that setting is common/organizations.

Tokens at rest:
- `store_tokens` (default False): keep access and refresh tokens in extra_data, encrypted with a key
  derived from SECRET_KEY. Off: they are not stored at all.

Sessions and logout (`netbox_sso.sessions`, documented in docs/sessions.md):
- `session_max_age_from_token` (default False): True or "id_token" caps a NetBox session at the ID
  token's exp, "access_token" at the access token's expiry (never beyond SESSION_COOKIE_AGE).
- `refresh_tokens` (default False): keep the refresh token (encrypted) in the session and refresh before
  the access token expires; group mapping is re-evaluated with the fresh claims; a refused refresh ends
  the session.
- `refresh_margin` (seconds, default 60): refresh when the access token expires within this time.
- `refresh_interval` (seconds, default 60, at least 1): at most one refresh attempt per session per interval.
- `rp_logout` (default True): NetBox's logout also ends the session at the provider (RP-initiated logout)
  when the provider advertises an end_session_endpoint.
- `post_logout_redirect_uri` (default: the absolute LOGOUT_REDIRECT_URL, e.g. https://<netbox>/).
- `backchannel_logout` (default True): accept OIDC Back-Channel Logout tokens at
  /oauth/backchannel-logout/<backend>/.
- `login_redirect_backend` (default None): send anonymous visitors of the login page straight to this
  backend; /login/?local=1 still shows the password form (break-glass accounts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

PLUGIN = "netbox_sso"
MAX_CACHE_TTL = 86400

DEFAULTS: dict[str, Any] = {
    "clock_leeway": 60,
    "id_token_max_age": 600,
    "idp_timeout": 10.0,
    "max_response_bytes": 1024 * 1024,
    "max_claim_length": 1024,
    "metadata_cache_ttl": 3600,
    "allow_insecure_http": False,
    "verify_discovery_issuer": True,
    "username_claim": "preferred_username",
    "reserved_usernames": [],
    "break_glass_users": [],
    "entra_allowed_tenants": [],
    "store_tokens": False,
    "session_max_age_from_token": False,
    "refresh_tokens": False,
    "refresh_margin": 60,
    "refresh_interval": 60,
    "rp_logout": True,
    "post_logout_redirect_uri": None,
    "backchannel_logout": True,
    "login_redirect_backend": None,
}
#: Accepted values of `session_max_age_from_token` -> which token's expiry caps the session.
SESSION_CAP_MODES: dict[Any, str | None] = {False: None, None: None, True: "id_token", "id_token": "id_token",
                                            "access_token": "access_token"}
#: Top-level PLUGINS_CONFIG['netbox_sso'] keys owned here (break_glass_users is shared with the mapping).
SETTINGS_KEYS: tuple[str, ...] = tuple(key for key in DEFAULTS if key != "break_glass_users")


@dataclass(frozen=True)
class Hardening:
    """The hardening settings in effect (defaults filled in, TTL bounded)."""

    clock_leeway: float = 60
    id_token_max_age: float = 600
    idp_timeout: float = 10.0
    max_response_bytes: int = 1024 * 1024
    max_claim_length: int = 1024
    metadata_cache_ttl: int = 3600
    allow_insecure_http: bool = False
    verify_discovery_issuer: bool = True
    username_claim: str = "preferred_username"
    reserved_usernames: tuple[str, ...] = ()
    break_glass_users: tuple[str, ...] = ()
    entra_allowed_tenants: tuple[str, ...] = ()
    store_tokens: bool = False
    #: None, "id_token" or "access_token" (see SESSION_CAP_MODES).
    session_cap: str | None = None
    refresh_tokens: bool = False
    refresh_margin: float = 60
    refresh_interval: int = 60
    rp_logout: bool = True
    post_logout_redirect_uri: str | None = None
    backchannel_logout: bool = True
    login_redirect_backend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def plugin_settings() -> dict[str, Any]:
    """The raw `PLUGINS_CONFIG['netbox_sso']` dict (empty if absent)."""
    return dict(getattr(settings, "PLUGINS_CONFIG", {}).get(PLUGIN) or {})


def hardening() -> Hardening:
    """Read the settings on every call: cheap, and tests may change PLUGINS_CONFIG at run time."""
    raw = {**DEFAULTS, **plugin_settings()}
    return Hardening(
        clock_leeway=float(raw["clock_leeway"]),
        id_token_max_age=float(raw["id_token_max_age"]),
        idp_timeout=float(raw["idp_timeout"]),
        max_response_bytes=int(raw["max_response_bytes"]),
        max_claim_length=int(raw["max_claim_length"]),
        metadata_cache_ttl=max(1, min(int(raw["metadata_cache_ttl"]), MAX_CACHE_TTL)),
        allow_insecure_http=bool(raw["allow_insecure_http"]),
        verify_discovery_issuer=bool(raw["verify_discovery_issuer"]),
        username_claim=str(raw["username_claim"] or "preferred_username"),
        reserved_usernames=tuple(str(n) for n in raw["reserved_usernames"] or ()),
        break_glass_users=tuple(str(n) for n in raw["break_glass_users"] or ()),
        entra_allowed_tenants=tuple(str(t) for t in raw["entra_allowed_tenants"] or ()),
        store_tokens=bool(raw["store_tokens"]),
        session_cap=session_cap_mode(raw["session_max_age_from_token"]),
        refresh_tokens=bool(raw["refresh_tokens"]),
        refresh_margin=float(raw["refresh_margin"]),
        # Django's Redis cache rounds timeouts down to whole seconds; 0 would mean "no lock at all".
        refresh_interval=max(1, int(raw["refresh_interval"])),
        rp_logout=bool(raw["rp_logout"]),
        post_logout_redirect_uri=str(raw["post_logout_redirect_uri"]) if raw["post_logout_redirect_uri"] else None,
        backchannel_logout=bool(raw["backchannel_logout"]),
        login_redirect_backend=str(raw["login_redirect_backend"]) if raw["login_redirect_backend"] else None,
        extra={k: v for k, v in raw.items() if k not in DEFAULTS},
    )


def session_cap_mode(value: Any) -> str | None:
    """`session_max_age_from_token` as None, "id_token" or "access_token"; anything else is a config error."""
    try:
        return SESSION_CAP_MODES[value]
    except (KeyError, TypeError):
        raise ValueError(f"PLUGINS_CONFIG['netbox_sso']['session_max_age_from_token'] = {value!r}: use True, "
                         "False, 'id_token' or 'access_token'") from None
