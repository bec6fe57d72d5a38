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
from social_core.exceptions import AuthForbidden

from netbox_sso.conf import sso_config
from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.decision import CurrentUser, Decision, decide
from netbox_sso.core.rules import BackendRules
from netbox_sso.pipeline.apply import apply_decision

logger = logging.getLogger("netbox_sso.mapping")
audit = logging.getLogger("netbox_sso.audit")

#: Token-endpoint fields that are not claims (they sit beside userinfo's claims in `response`).
_TOKEN_FIELDS = frozenset({"access_token", "id_token", "refresh_token", "token_type", "expires_in", "scope",
                           "ext_expires_in", "expires_on", "not_before", "resource"})


class SSORefused(AuthForbidden):
    """The login is refused by the mapping rules; the message says why and is shown on the login page."""

    def __init__(self, backend: Any, message: str) -> None:
        super().__init__(backend)
        self.message = message

    def __str__(self) -> str:
        return self.message


def claim_sources(backend: Any, response: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """Where each source's claims are for this backend.

    OIDC backends keep the validated ID-token claims on `backend.id_token` and merge userinfo into
    `response`; Entra ID's v1 backend puts the validated ID-token claims into `response` itself and has no
    userinfo groups.
    """
    id_token = getattr(backend, "id_token", None)
    if isinstance(id_token, Mapping):
        userinfo = {key: value for key, value in response.items() if key not in _TOKEN_FIELDS}
        return {"id_token": id_token, "userinfo": userinfo or None}
    return {"id_token": {key: value for key, value in response.items() if key not in _TOKEN_FIELDS},
            "userinfo": None}


def _rules_for(backend: Any) -> BackendRules | None:
    return sso_config().backends.get(backend.name)


def _is_break_glass(username: str | None) -> bool:
    return bool(username) and sso_config().is_break_glass(username)


def resolve_groups(backend: Any, details: Mapping[str, Any], response: Mapping[str, Any], user: Any = None,
                   *args: Any, **kwargs: Any) -> dict[str, Any] | None:
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
            audit.warning("sso.login.refused backend=%s reason=graph: %s", backend.name, error)
            raise SSORefused(backend, f"Single sign-on refused: your groups could not be read ({error}).") from error
    username = user.username if user is not None else str(details.get("username") or "")
    preview = decide(rules, reading, CurrentUser(username, frozenset(), False, user is None),
                     break_glass=_is_break_glass(username))
    if not preview.allowed:
        audit.warning("sso.login.refused backend=%s user=%s reason=%s", backend.name, username, preview.refusal)
        raise SSORefused(backend, preview.refusal or "Sign-in refused by the group rules.")
    return {"sso_groups_reading": reading}


def apply_mapping(backend: Any, user: Any = None, response: Mapping[str, Any] | None = None, is_new: bool = False,
                  sso_groups_reading: GroupsReading | None = None, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
    """Mirror managed groups and flags onto the user, atomically."""
    rules = _rules_for(backend)
    if rules is None or user is None:
        return None
    reading = sso_groups_reading or read_groups(rules, claim_sources(backend, response or {}))
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=user.pk)
        current = CurrentUser(locked.username, frozenset(locked.groups.values_list("name", flat=True)),
                              locked.is_superuser, is_new)
        decision = decide(rules, reading, current, break_glass=_is_break_glass(locked.username))
        if not decision.allowed:  # state changed since resolve_groups (e.g. became break-glass): stay safe
            raise SSORefused(backend, decision.refusal or "Sign-in refused by the group rules.")
        outcome = apply_decision(locked, decision, rules)
    user.is_superuser = locked.is_superuser
    _log(backend.name, locked.username, reading, decision, outcome)
    return {"sso_decision": decision}


def _log(backend: str, username: str, reading: GroupsReading, decision: Decision, outcome: Any) -> None:
    for warning in (*decision.warnings, *outcome.warnings):
        logger.warning("netbox-sso mapping (%s, %s): %s", backend, username, warning)
    if outcome.added or outcome.removed or outcome.superuser_changed:
        audit.info("sso.mapping.applied backend=%s user=%s source=%s added=%s removed=%s superuser=%s",
                   backend, username, reading.source, sorted(outcome.added), sorted(outcome.removed),
                   outcome.superuser_after if outcome.superuser_changed else "unchanged")
