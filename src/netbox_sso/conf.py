"""netbox-sso's configuration, read once from Django settings and validated by the pure core.

Sources: `PLUGINS_CONFIG['netbox_sso']` (the native rules), the reference manual's
`SOCIAL_AUTH_PIPELINE_CONFIG` (Entra ID group map and flags) and NetBox's `REMOTE_AUTH_DEFAULT_GROUPS`.
A configuration error stops NetBox at start-up with the setting, the problem and the fix: a mapping
that silently does nothing is worse than a NetBox that refuses to start.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings

from netbox_sso.backends.config import SETTINGS_KEYS, plugin_settings
from netbox_sso.core.rules import SSOConfig, parse_config

#: Audit trail and diagnostics settings (PLUGINS_CONFIG['netbox_sso'][key]) and their defaults.
AUDIT_DEFAULTS: dict[str, Any] = {
    "audit_retention_days": 90,  # SSO events older than this are deleted by housekeeping (0: keep forever)
    "audit_permission_denied_window": 15,  # minutes after an SSO login during which a 403 is recorded
    "debug_claims": False,  # record the (redacted) claims of every SSO login as a claims_captured event
}
#: Top-level keys of PLUGINS_CONFIG['netbox_sso'] read by modules other than the rules parser.
OTHER_TOP_LEVEL_KEYS: tuple[str, ...] = ("graph_url", *AUDIT_DEFAULTS)


def audit_setting(name: str) -> Any:
    """An audit/diagnostics setting (AUDIT_DEFAULTS) from PLUGINS_CONFIG, else its default."""
    value = plugin_settings().get(name)
    return AUDIT_DEFAULTS[name] if value is None else value


@cache
def sso_config() -> SSOConfig:
    """The validated configuration (parsed once per process; settings do not change at run time)."""

    return parse_config(
        plugin_settings(),
        # Sign-in hardening keys are validated by netbox_sso.backends.config, not by the mapping parser.
        other_top_level_keys=(*SETTINGS_KEYS, *OTHER_TOP_LEVEL_KEYS),
        pipeline_config=getattr(settings, "SOCIAL_AUTH_PIPELINE_CONFIG", None),
        remote_auth_default_groups=tuple(getattr(settings, "REMOTE_AUTH_DEFAULT_GROUPS", ()) or ()),
    )
