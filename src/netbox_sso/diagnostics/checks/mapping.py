"""Checks of the mapping rules: parse errors and warnings, rules for disabled backends, missing groups."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from netbox_sso.core.errors import ConfigError
from netbox_sso.core.rules import SSOConfig, check_backends, parse_config
from netbox_sso.diagnostics.checks.context import Context, finding
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings


def parse_mapping(settings: NetBoxSettings) -> tuple[SSOConfig | None, list[Finding]]:
    """The mapping rules as NetBox would load them, and every problem as a finding."""
    plugins = settings.get("PLUGINS_CONFIG")
    if plugins is not None and not isinstance(plugins, Mapping):
        return None, [
            finding(
                "config.invalid_type",
                "error",
                "PLUGINS_CONFIG",
                f"must be a dict, got {type(plugins).__name__}",
                "write PLUGINS_CONFIG = {...}",
            )
        ]
    defaults = settings.get("REMOTE_AUTH_DEFAULT_GROUPS") or ()
    if isinstance(defaults, str) or not isinstance(defaults, list | tuple):
        return None, [
            finding(
                "config.invalid_type",
                "error",
                "REMOTE_AUTH_DEFAULT_GROUPS",
                f"must be a list of group names, got {defaults!r}",
                "write e.g. REMOTE_AUTH_DEFAULT_GROUPS = ['Viewers']",
            )
        ]
    try:
        config = parse_config(
            (plugins or {}).get("netbox_sso"),
            pipeline_config=settings.get("SOCIAL_AUTH_PIPELINE_CONFIG"),
            remote_auth_default_groups=tuple(defaults),
        )
    except ConfigError as error:
        return None, [finding(p.code, "error", p.path, p.problem, p.fix) for p in error.problems]
    findings = [finding(w.code, "warning", w.path, w.message, w.fix) for w in config.warnings]
    return config, findings


def check_mapping(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    """The mapping rules' problems and warnings (parsed once, by the driver, into the context)."""
    yield from ctx.mapping_findings


def check_mapping_backends(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    config = ctx.config
    if config is None or not ctx.sso:
        return
    for warning in check_backends(config, [backend.name for backend in ctx.sso]):
        yield finding(warning.code, "warning", warning.path, warning.message, warning.fix)
    defaults = settings.get("REMOTE_AUTH_DEFAULT_GROUPS") or ()
    for backend in ctx.sso:
        if config.rules_for(backend.name) is None and not defaults:
            yield finding(
                "mapping.absent",
                "info",
                f"PLUGINS_CONFIG['netbox_sso']['backends'][{backend.name!r}]",
                f"users signing in through {backend.name} get no groups and no permissions: they see 'You do not "
                "have permission' until an administrator assigns groups",
                "map the provider's groups to NetBox groups (group_map, superuser_groups) or set "
                "REMOTE_AUTH_DEFAULT_GROUPS",
                backend.name,
            )


def mapped_groups(config: SSOConfig) -> dict[str, tuple[str, bool]]:
    """NetBox group -> (the setting naming it, whether netbox-sso creates it)."""
    found: dict[str, tuple[str, bool]] = {}
    for rules in config.backends.values():
        targets: set[str] = set(rules.managed_groups) | set(rules.default_groups)
        for group in sorted(targets):
            created = found.get(group, ("", False))[1] or rules.create_groups
            found[group] = (rules.setting, created)
    return found


def check_groups_exist(
    config: SSOConfig | None, existing: Collection[str] | None, error: str = ""
) -> Iterator[Finding]:
    """Mapped NetBox groups that do not exist (only with `--database`)."""
    if config is None:
        return
    if existing is None:
        yield finding(
            "groups.unchecked",
            "info",
            "DATABASES",
            f"mapped groups not checked: {error}",
            "run check where NetBox's database is reachable",
        )
        return
    for group, (setting, created) in sorted(mapped_groups(config).items()):
        if group in existing:
            continue
        if created:
            yield finding(
                "groups.missing",
                "info",
                setting,
                f"NetBox group {group!r} does not exist yet; create_groups makes it at the first login that needs it",
                "",
            )
        else:
            yield finding(
                "groups.missing",
                "warning",
                setting,
                f"NetBox group {group!r} does not exist, so mapping to it does nothing (and is logged)",
                f"create the group {group!r} in NetBox (Admin > Groups), or set 'create_groups': True",
            )


def check_groups(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    """Mapped groups against NetBox's database, when the caller read it (`check --database`)."""
    if ctx.existing_groups is not None or ctx.groups_error is not None:
        yield from check_groups_exist(ctx.config, ctx.existing_groups, ctx.groups_error or "")


def netbox_group_names(settings: NetBoxSettings, timeout: float = 5.0) -> set[str]:
    """users_group names from NetBox's PostgreSQL database (DATABASES['default'] or legacy DATABASE)."""
    import psycopg  # NetBox's own driver; imported here so `check` without --database never needs it

    databases = settings.get("DATABASES")
    db = databases.get("default") if isinstance(databases, Mapping) else settings.get("DATABASE")
    if not isinstance(db, Mapping):
        raise ValueError("DATABASES['default'] is not set")
    params: dict[str, Any] = {
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "connect_timeout": max(1, int(timeout)),
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")}) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM users_group")}
