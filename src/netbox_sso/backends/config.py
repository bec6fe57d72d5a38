"""The hardening settings in effect, read from `PLUGINS_CONFIG['netbox_sso']`.

Every key, its default, its validator and its documentation live in `netbox_sso.core.settings_schema`
(rendered in docs/configuration.md); this module only gives the adapters a typed view of the values in
effect. Values are validated once per configuration (at start-up, in the plugin's ready()); a changed
`PLUGINS_CONFIG` dict (a test's override_settings) is validated again on its first read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from netbox_sso.core import settings_schema as schema

PLUGIN = "netbox_sso"

#: Schema sections whose keys are the hardening settings (`Hardening`'s fields).
SECTIONS = ("Sign-in hardening", "Identity", "Microsoft Entra ID", "Tokens at rest", "Sessions and logout")
_KEYS = tuple(key for section in SECTIONS for key in schema.section_keys(section) if key != "graph_url")
DEFAULTS: dict[str, Any] = {**schema.defaults(_KEYS), "break_glass_users": []}
#: Top-level PLUGINS_CONFIG['netbox_sso'] keys owned here (break_glass_users is shared with the mapping).
SETTINGS_KEYS: tuple[str, ...] = _KEYS
_DEFAULT = schema.PLUGIN_SETTINGS


@dataclass(frozen=True)
class Hardening:
    """The hardening settings in effect (defaults filled in, values converted, TTL bounded)."""

    clock_leeway: float = _DEFAULT["clock_leeway"].default
    id_token_max_age: float = _DEFAULT["id_token_max_age"].default
    idp_timeout: float = _DEFAULT["idp_timeout"].default
    max_response_bytes: int = _DEFAULT["max_response_bytes"].default
    max_claim_length: int = _DEFAULT["max_claim_length"].default
    metadata_cache_ttl: int = _DEFAULT["metadata_cache_ttl"].default
    jwks_refetch_interval: int = _DEFAULT["jwks_refetch_interval"].default
    allow_insecure_http: bool = _DEFAULT["allow_insecure_http"].default
    verify_discovery_issuer: bool = _DEFAULT["verify_discovery_issuer"].default
    username_claim: str = _DEFAULT["username_claim"].default
    reserved_usernames: tuple[str, ...] = ()
    #: "all" or "break_glass_only".
    local_login: str = _DEFAULT["local_login"].default
    break_glass_users: tuple[str, ...] = ()
    entra_allowed_tenants: tuple[str, ...] = ()
    store_tokens: bool = _DEFAULT["store_tokens"].default
    #: None, "id_token" or "access_token" (from `session_max_age_from_token`, see SESSION_CAP_MODES).
    session_cap: str | None = None
    refresh_tokens: bool = _DEFAULT["refresh_tokens"].default
    refresh_margin: float = _DEFAULT["refresh_margin"].default
    refresh_interval: int = _DEFAULT["refresh_interval"].default
    rp_logout: bool = _DEFAULT["rp_logout"].default
    post_logout_redirect_uri: str | None = None
    #: True (every backend), False (none), None (automatic: where the provider sends logout tokens, see
    #: HardenedOIDCMixin.backchannel_logout_enabled) or the backend names it is on for.
    backchannel_logout: bool | frozenset[str] | None = _DEFAULT["backchannel_logout"].default
    login_redirect_backend: str | None = None


def plugin_settings() -> dict[str, Any]:
    """The raw `PLUGINS_CONFIG['netbox_sso']` dict (empty if absent)."""
    return dict(_raw_plugin_settings() or {})


def _raw_plugin_settings() -> Any:
    return getattr(settings, "PLUGINS_CONFIG", {}).get(PLUGIN)


_resolved: tuple[Any, dict[str, Any], Hardening] | None = None


def plugin_values() -> dict[str, Any]:
    """Every top-level setting in effect, validated (ConfigError naming the setting and the fix)."""
    return _resolve()[1]


def hardening() -> Hardening:
    """The hardening settings, validated once per PLUGINS_CONFIG dict (cheap on every request)."""
    return _resolve()[2]


def _resolve() -> tuple[Any, dict[str, Any], Hardening]:
    global _resolved
    raw = _raw_plugin_settings()
    current = _resolved
    if current is not None and current[0] is raw:
        return current
    values = schema.resolve(raw)
    built = Hardening(
        **{key: values[key] for key in _KEYS if key != "session_max_age_from_token"},
        break_glass_users=values["break_glass_users"],
        session_cap=values["session_max_age_from_token"],
    )
    _resolved = (raw, values, built)
    return _resolved


def is_break_glass(username: str, cfg: Hardening | None = None) -> bool:
    """Whether `username` is one of `break_glass_users` (compared case-insensitively)."""
    names = (cfg or hardening()).break_glass_users
    return username.casefold() in {name.casefold() for name in names}
