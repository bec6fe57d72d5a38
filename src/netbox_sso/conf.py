"""netbox-sso's configuration, read once from Django settings and validated by the pure core.

Sources: `PLUGINS_CONFIG['netbox_sso']` (every key declared in `netbox_sso.core.settings_schema`), the
reference manual's `SOCIAL_AUTH_PIPELINE_CONFIG` (Entra ID group map and flags) and NetBox's
`REMOTE_AUTH_DEFAULT_GROUPS`. A configuration error stops NetBox at start-up with the setting, the
problem and the fix: a mapping that silently does nothing is worse than a NetBox that refuses to start.

Mapping rules also live in the database (`netbox_sso.models.MappingRule`); `sso_config()` is both merged
and kept current on every worker through a version in the shared cache (`netbox_sso.rule_set`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from django.conf import settings

from netbox_sso.backends.config import plugin_settings, plugin_values
from netbox_sso.core import settings_schema as schema
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord, merge_plugin_config
from netbox_sso.core.rules import SSOConfig, parse_config

#: Audit trail and diagnostics settings (PLUGINS_CONFIG['netbox_sso'][key]) and their defaults.
AUDIT_DEFAULTS: dict[str, Any] = schema.defaults(schema.section_keys("Audit and diagnostics"))


def audit_setting(name: str) -> Any:
    """An audit/diagnostics setting (AUDIT_DEFAULTS) in effect, validated."""
    if name not in AUDIT_DEFAULTS:
        raise KeyError(f"{name!r} is not an audit setting (see netbox_sso.core.settings_schema)")
    return plugin_values()[name]


@cache
def file_config() -> SSOConfig:
    """The rules from configuration.py alone (parsed once per process; settings do not change at run time).

    Validated at start-up (`netbox_sso.startup`): an error here stops NetBox with the setting and the fix.
    """
    return parse_config(
        plugin_settings(),
        pipeline_config=getattr(settings, "SOCIAL_AUTH_PIPELINE_CONFIG", None),
        remote_auth_default_groups=tuple(getattr(settings, "REMOTE_AUTH_DEFAULT_GROUPS", ()) or ()),
    )


def compile_config(records: Iterable[RuleRecord], backend_settings: Iterable[BackendSettingsRecord] = ()) -> SSOConfig:
    """configuration.py's rules merged with `records` and `backend_settings` (the database's), by the one parser.

    Raises ConfigError naming each problem (paths as if the database rules were written in configuration.py).
    """
    base = file_config()
    normalizations = {name: rules.normalize for name, rules in base.backends.items()}
    return parse_config(
        merge_plugin_config(plugin_settings(), records, normalizations, backend_settings),
        pipeline_config=getattr(settings, "SOCIAL_AUTH_PIPELINE_CONFIG", None),
        remote_auth_default_groups=tuple(getattr(settings, "REMOTE_AUTH_DEFAULT_GROUPS", ()) or ()),
    )


def sso_config() -> SSOConfig:
    """The rules in force now: configuration.py merged with the database rules (`netbox_sso.rule_set`).

    Costs one cache GET (the rule-set version); the database is read only when the rules changed.
    """
    from netbox_sso.rule_set import current_config

    return current_config()
