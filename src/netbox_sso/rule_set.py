"""The compiled rule set in force on this worker, kept current through a version in the shared cache.

Every change of a database rule or backend settings (or of a NetBox group a rule names) writes a new random
version to NetBox's cache (Redis, shared by every worker of every instance) once its transaction commits. Each
worker keeps its compiled rules together with the version it built them from; a login reads the version (one
cache GET) and rebuilds (two queries: rules, backend settings) only when it differs. So a rule saved on one
instance applies to the next login on every instance, without a restart, and an unchanged rule set costs a
login no database query.

The version is read before the rows, so a change committed while a worker rebuilds leaves that worker with an
older version than the cache's, and the next login rebuilds again: rules are never stale for longer than one
rebuild. When the cache is unreachable nothing is trusted: the rules are read from the database each time.
If the merged rules are invalid (possible only when configuration.py changed under saved rules), SSO logins
fail closed with a message naming the problem, rather than silently dropping, say, a required-groups rule.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.db import ProgrammingError, transaction

from netbox_sso.core.errors import ConfigError, SSOError
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord
from netbox_sso.core.rules import SSOConfig

logger = logging.getLogger("netbox_sso")

#: The cache key holding the rule-set version (a random token, replaced at every change).
VERSION_KEY = "netbox_sso:rules:version"


class MappingRulesInvalid(SSOError):
    """The merged rules do not compile: SSO logins are refused (fail closed) until they are fixed."""

    code = "invalid_mapping_rules"
    subject = ""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error

    def user_message(self) -> str:
        return (
            "Single sign-on is unavailable: the group mapping rules are invalid. An administrator must fix "
            "them (Single sign-on > Mapping rules)."
        )


@dataclass(frozen=True)
class _Compiled:
    version: str | None
    config: SSOConfig | None
    error: ConfigError | None = None


_compiled: _Compiled | None = None
_lock = threading.Lock()


def _database_rules_available() -> bool:
    """True inside NetBox (the plugin's models exist); False on a plain Django site."""
    return apps.is_installed("netbox_sso") and apps.is_installed("users")


def read_version() -> str | None:
    """The current rule-set version; a new one is created when the cache has none. None: cache unreachable."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # first use, or the cache was flushed: every worker must rebuild
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:  # any cache failure means "unknown version", never a failed login
        logger.warning(
            "netbox-sso: the rule-set version could not be read from the cache; reading the "
            "mapping rules from the database",
            exc_info=True,
        )
        return None
    return str(version) if version is not None else None


def bump_version() -> None:
    """Make every worker rebuild at its next login (called once the change's transaction commits)."""

    def write() -> None:
        try:
            cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:
            logger.error(
                "netbox-sso: could not publish the new mapping-rule version to the cache; other "
                "workers keep their rules until the cache is reachable again",
                exc_info=True,
            )

    transaction.on_commit(write, robust=True)


def database_records(queryset: Any = None) -> tuple[RuleRecord, ...]:
    """Every database rule with its NetBox group names, in one query."""
    from netbox_sso.models import MappingRule

    rows = (
        (queryset if queryset is not None else MappingRule.objects.all())
        .values_list("pk", "backend", "effect", "match_type", "value", "groups__name")
        .order_by("pk")
    )
    by_pk: dict[int, tuple[Any, ...]] = {}
    groups: dict[int, list[str]] = {}
    for pk, backend, effect, match_type, value, group in rows:
        by_pk.setdefault(pk, (backend, effect, match_type, value))
        if group is not None:
            groups.setdefault(pk, []).append(group)
    return tuple(
        RuleRecord(backend, effect, match_type, value, tuple(sorted(groups.get(pk, ()))), pk)
        for pk, (backend, effect, match_type, value) in by_pk.items()
    )


def database_settings(exclude_pk: int | None = None) -> tuple[BackendSettingsRecord, ...]:
    """Every backend's settings kept in the database, in one query."""
    from netbox_sso.models import BackendSettings

    queryset = BackendSettings.objects.all()
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return tuple(row.record() for row in queryset)


def _read() -> tuple[tuple[RuleRecord, ...], tuple[BackendSettingsRecord, ...]]:
    return database_records(), database_settings()


def _build(version: str | None) -> _Compiled:
    from netbox_sso.conf import compile_config, file_config

    try:
        if transaction.get_connection().in_atomic_block:  # a failed read must not poison the login's transaction
            with transaction.atomic():
                records, backend_settings = _read()
        else:
            records, backend_settings = _read()
    except ProgrammingError:  # not migrated yet (plugin just upgraded): configuration.py's rules only
        # (any other database error propagates: a login without the database's required-groups rules would
        # admit those they refuse)
        logger.error(
            "netbox-sso: the mapping-rule table could not be read (run `netbox migrate`); using the "
            "rules from configuration.py only",
            exc_info=True,
        )
        return _Compiled(None, file_config())
    try:
        return _Compiled(version, compile_config(records, backend_settings))
    except ConfigError as error:
        logger.error(
            "netbox-sso: the mapping rules (configuration.py merged with the database) are invalid; "
            "SSO logins are refused until they are fixed: %s",
            error,
        )
        return _Compiled(version, None, error)


def current_config() -> SSOConfig:
    """The rules in force now (see the module doc); MappingRulesInvalid when they do not compile."""
    global _compiled
    from netbox_sso.conf import file_config

    if not _database_rules_available():  # a plain Django site: configuration only
        return file_config()
    version = read_version()
    compiled = _compiled
    if compiled is None or version is None or compiled.version != version:
        with _lock:
            compiled = _compiled
            if compiled is None or version is None or compiled.version != version:
                compiled = _build(version)
                _compiled = compiled
    if compiled.config is None:
        assert compiled.error is not None
        raise MappingRulesInvalid(compiled.error)
    return compiled.config


def forget() -> None:
    """Drop this worker's compiled rules (tests; the next call rebuilds)."""
    global _compiled
    _compiled = None
