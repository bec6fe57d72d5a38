"""Pipeline steps that turn the identity provider's groups into NetBox groups and flags.

Two steps, because reading and refusing must happen before social-core writes any row:
- `resolve_groups` (before `create_user`): reads the groups claim from the validated ID token, userinfo
  or Microsoft Graph, and refuses the login (required groups, missing claim policy) before a user exists.
- `apply_mapping` (after `user_details`): decides against the user's current groups and applies the
  change in one transaction, in a constant number of queries whatever the number of groups.
The decision itself is the pure core's (`netbox_sso.core.decision.decide`); these steps only adapt it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from netbox_sso import audit
from netbox_sso.conf import sso_config
from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.decision import CurrentUser, Decision, decide
from netbox_sso.core.rules import BackendRules, SSOConfig
from netbox_sso.keys import RULES_ATTRIBUTE
from netbox_sso.pipeline.apply import Outcome, apply_decision
from netbox_sso.pipeline.capture import add_graph_groups, claim_sources
from netbox_sso.pipeline.errors import SSORefused

logger = logging.getLogger("netbox_sso.mapping")


def _refusal_details(rules: BackendRules, reading: GroupsReading, decision: Decision | None = None) -> dict[str, Any]:
    return {
        "groups_claim": reading.claim,
        "source": reading.source,
        "consulted": list(reading.consulted),
        "groups": None if reading.values is None else sorted(reading.values),
        "required_groups": sorted(rules.required_groups),
        "problem": reading.problem,
        "reasons": list(decision.reasons) if decision else [],
    }


def _refusal_code(reading: GroupsReading, break_glass: bool) -> str:
    if break_glass:
        return "break_glass_identity"
    return "missing_groups_claim" if reading.values is None else "required_groups"


def _config(backend: Any) -> SSOConfig:
    """The rules in force, read once per request (one cache GET) and kept for the login's other step."""
    request = getattr(getattr(backend, "strategy", None), "request", None)
    config = getattr(request, RULES_ATTRIBUTE, None)
    if config is None:
        config = sso_config()
        if request is not None:
            setattr(request, RULES_ATTRIBUTE, config)
    return config


def _rules_for(backend: Any) -> BackendRules | None:
    return _config(backend).backends.get(backend.name)


def _is_break_glass(backend: Any, username: str | None) -> bool:
    return bool(username) and _config(backend).is_break_glass(username or "")


def resolve_groups(
    backend: Any, details: Mapping[str, Any], response: Mapping[str, Any], user: Any = None, *args: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """Read the groups claim and refuse the login, before any row is written, when the rules say so."""
    rules = _rules_for(backend)
    if rules is None:
        return None
    sources = claim_sources(backend, response)
    reading = read_groups(rules, sources)
    if reading.overage and "graph" in rules.groups_sources:
        from netbox_sso.providers.entra_graph import GraphError, resolve_overage

        try:
            reading = resolve_overage(backend, rules, response, reading, sources)
        except GraphError as error:  # fail closed: never continue as if the user had no groups
            raise SSORefused(
                backend,
                f"Single sign-on refused: your groups could not be read ({error}).",
                code="graph_unavailable",
                username=str(details.get("username") or ""),
                audit_details={"graph_error": str(error)},
            ) from error
        if reading.source == "graph" and reading.values is not None:
            add_graph_groups(backend, reading.values)
    username = user.username if user is not None else str(details.get("username") or "")
    break_glass = _is_break_glass(backend, username)
    preview = decide(rules, reading, CurrentUser(username, frozenset(), False, user is None), break_glass=break_glass)
    if not preview.allowed:
        raise SSORefused(
            backend,
            preview.refusal or "Sign-in refused by the group rules.",
            code=_refusal_code(reading, break_glass),
            username=username,
            audit_details=_refusal_details(rules, reading, preview),
        )
    return {"sso_groups_reading": reading}


def apply_mapping(
    backend: Any,
    user: Any = None,
    response: Mapping[str, Any] | None = None,
    is_new: bool = False,
    sso_groups_reading: GroupsReading | None = None,
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any] | None:
    """Mirror managed groups and flags onto the user, atomically."""
    rules = _rules_for(backend)
    if rules is None or user is None:
        return None
    reading = sso_groups_reading or read_groups(rules, claim_sources(backend, response or {}))
    # savepoint=False: inside the hardened backends' pipeline transaction a refusal or failure here must roll
    # back the whole login anyway; outside it (a stock backend) this block is the transaction.
    with transaction.atomic(savepoint=False):
        username, is_superuser, groups = _lock_user(user.pk)
        user.is_superuser = is_superuser  # the row as locked: decide and apply against it
        current = CurrentUser(username, frozenset(groups), is_superuser, is_new)
        break_glass = _is_break_glass(backend, username)
        decision = decide(rules, reading, current, break_glass=break_glass)
        if not decision.allowed:  # state changed since resolve_groups (e.g. became break-glass): stay safe
            raise SSORefused(
                backend,
                decision.refusal or "Sign-in refused by the group rules.",
                code=_refusal_code(reading, break_glass),
                username=username,
                audit_details=_refusal_details(rules, reading, decision),
            )
        outcome = apply_decision(user, decision, rules)
    _log(backend, user, current, reading, decision, outcome)
    return {"sso_decision": decision}


def _lock_user(pk: Any) -> tuple[str, bool, list[str]]:
    """Lock the user's row; return its username, superuser flag and group names, in one round trip.

    On PostgreSQL the group names come with the locked row (`ARRAY(SELECT ...)` in the same statement);
    elsewhere (a plain Django site on SQLite) in a second query.
    """
    from django.db import connection

    model = get_user_model()
    locked = model.objects.select_for_update().filter(pk=pk)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery
        from django.db.models import OuterRef

        field = model._meta.get_field("groups")
        through = field.remote_field.through
        names = through.objects.filter(**{field.m2m_field_name(): OuterRef("pk")}).values(
            f"{field.m2m_reverse_field_name()}__name"
        )
        username, is_superuser, groups = (
            locked.annotate(sso_group_names=ArraySubquery(names))
            .values_list(model.USERNAME_FIELD, "is_superuser", "sso_group_names")
            .get()
        )
        return username, is_superuser, list(groups or [])
    row = locked.get()
    return row.get_username(), row.is_superuser, list(row.groups.values_list("name", flat=True))


def _log(
    backend: Any, user: Any, before: CurrentUser, reading: GroupsReading, decision: Decision, outcome: Outcome
) -> None:
    """Mapping warnings to the log; group and flag changes to the audit trail (before/after)."""
    warnings = (*decision.warnings, *outcome.warnings)
    for warning in warnings:
        logger.warning("netbox-sso mapping (%s, %s): %s", backend.name, user.username, warning)
    request = getattr(getattr(backend, "strategy", None), "request", None)
    if warnings:  # e.g. a missing groups claim (nothing changed) or a mapped NetBox group that does not exist
        reason = (
            "missing_groups_claim"
            if reading.values is None
            else "missing_netbox_groups"
            if outcome.warnings
            else "mapping_warning"
        )
        audit.record(
            "mapping_warning",
            request=request,
            backend=backend.name,
            user=user,
            outcome="info",
            reason=reason,
            details={
                "warnings": list(warnings),
                "groups_claim": reading.claim,
                "problem": reading.problem,
                "consulted": list(reading.consulted),
            },
        )
    if outcome.added or outcome.removed:
        after = (before.groups - outcome.removed) | outcome.added
        audit.record(
            "groups_changed",
            request=request,
            backend=backend.name,
            user=user,
            outcome="success",
            reason="mapping",
            details={
                "before": sorted(before.groups),
                "after": sorted(after),
                "added": sorted(outcome.added),
                "removed": sorted(outcome.removed),
                "created_groups": sorted(outcome.created_groups),
                "groups_claim": reading.claim,
                "source": reading.source,
                "first_login": before.is_new,
            },
        )
    if outcome.superuser_changed:
        audit.record(
            "flags_changed",
            request=request,
            backend=backend.name,
            user=user,
            outcome="success",
            reason="superuser_groups",
            details={"is_superuser": {"before": before.is_superuser, "after": outcome.superuser_after}},
        )
