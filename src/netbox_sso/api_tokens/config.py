"""The API-token settings in effect (`PLUGINS_CONFIG['netbox_sso']['api_tokens']`, see core.access_tokens)."""

from __future__ import annotations

from functools import cache

from netbox_sso.backends.config import plugin_values
from netbox_sso.core.access_tokens import ROOT_KEY, ApiTokenPolicy, parse_api_tokens

__all__ = ("ApiTokenPolicy", "enabled", "policies")


@cache
def policies() -> dict[str, ApiTokenPolicy]:
    """Backend name -> policy, parsed once per process (settings do not change at run time)."""
    return parse_api_tokens(plugin_values().get(ROOT_KEY))


def enabled() -> bool:
    return bool(policies())
