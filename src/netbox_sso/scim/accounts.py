"""The NetBox side of a pushed user: one account per person, linked as the sign-in links it, mapped as
the sign-in maps it.

Identity continuity: the account gets the social-auth link (`UserSocialAuth`) the connection's backend
creates at sign-in, with the same uid: Entra ID `<tenant id>:<object id>` (externalId carries the object
id), Okta the user id (its OIDC `sub`; Okta sends it as externalId), generic OIDC the `sub`
(externalId). The login then finds this account instead of creating another.

Groups: a user's provider groups (their SCIM groups' externalId for Entra ID, whose rules are keyed by
object id; displayName otherwise) are read as the groups claim would be, decided by the pure core
(`netbox_sso.core.decision.decide`) and applied by the sign-in's adapter (`pipeline.apply`), so a group
change at the provider reaches NetBox without a login. `required_groups` is a sign-in gate, not a
mapping: it is not applied here (the sign-in still enforces it).
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from scim2_models import InvalidValueException, UniquenessException
from social_django.models import UserSocialAuth

from netbox_sso import audit
from netbox_sso.conf import sso_config
from netbox_sso.core.claims import GroupsReading
from netbox_sso.core.decision import CurrentUser, decide
from netbox_sso.core.rules import BackendRules
from netbox_sso.pipeline.apply import apply_decision
from netbox_sso.pipeline.groups import _log as log_mapping
from netbox_sso.pipeline.identity import clean_username, is_reserved
from netbox_sso.providers.entra import user_key
from netbox_sso.scim.models import GroupKey, SCIMConnection, SCIMMembership, SCIMUser
from netbox_sso.scim.resources import Account

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ENTRA = "azuread-oauth2"


def social_uid(connection: SCIMConnection, external_id: str) -> str | None:
    """The UserSocialAuth uid the connection's backend gives this person at sign-in (None: not known)."""
    if not external_id:
        return None
    if connection.backend == ENTRA:
        if not _GUID.match(external_id):
            raise InvalidValueException(
                detail=(
                    f"externalId {external_id!r} is not an Entra ID object ID: map the source attribute objectId to "
                    "externalId in the application's provisioning attribute mappings, so the account matches sign-in"
                )
            )
        if not connection.tenant_id:
            raise InvalidValueException(
                detail=f"SCIM connection {connection.name!r} has no tenant ID: set it "
                "(netbox-sso needs it to match Entra ID sign-ins)"
            )
        return user_key(connection.tenant_id, external_id)
    return external_id


def username_for(account: Account) -> str:
    name = clean_username(account.user_name)
    if name is None:
        raise InvalidValueException(
            detail=(
                f"userName {account.user_name!r} cannot be a NetBox username (letters, digits and . @ + _ - only, "
                "at most 150 characters)"
            )
        )
    return name


def _refuse_taken(username: str, why: str) -> UniquenessException:
    return UniquenessException(detail=f"userName {username!r}: {why}")


def find_or_create(connection: SCIMConnection, account: Account, uid: str | None) -> tuple[Any, bool]:
    """The NetBox account for a new SCIM user: the one sign-in already linked, else a new one.

    Never adopts a local account by name alone, a break-glass or reserved name, or an account that
    another SCIM resource already describes.
    """
    User = get_user_model()
    username = username_for(account)
    if sso_config().is_break_glass(username) or is_reserved(username):
        raise _refuse_taken(username, "is a reserved or break-glass name and is never provisioned")
    linked = None
    if uid is not None:
        social = UserSocialAuth.objects.select_related("user").filter(provider=connection.backend, uid=uid).first()
        linked = social.user if social else None
    if linked is not None:
        if sso_config().is_break_glass(linked.username):
            raise _refuse_taken(username, "the linked account is a break-glass account and is never provisioned")
        if SCIMUser.objects.filter(user=linked).exists():
            raise _refuse_taken(username, "this person is already provisioned (externalId in use)")
        return linked, False
    existing = User.objects.filter(username__iexact=username).first()
    if existing is not None:
        raise _refuse_taken(
            username,
            "a NetBox account of that name exists and is not linked to this identity provider; link or rename it first",
        )
    user = User(
        username=username,
        email=account.email,
        first_name=account.first_name,
        last_name=account.last_name,
        is_active=True,
    )
    user.set_unusable_password()
    user.save()
    return user, True


def update_account(user: Any, account: Account) -> list[str]:
    """Copy name, email and (when free) a new userName onto the account; returns the changed fields."""
    changed = []
    username = username_for(account)
    if username != user.username:
        User = get_user_model()
        if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
            raise _refuse_taken(username, "another NetBox account has that name")
        if sso_config().is_break_glass(username) or is_reserved(username):
            raise _refuse_taken(username, "is a reserved or break-glass name")
        user.username = username
        changed.append("username")
    for field, value in (
        ("email", account.email),
        ("first_name", account.first_name),
        ("last_name", account.last_name),
    ):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return changed


def link(connection: SCIMConnection, user: Any, uid: str | None) -> None:
    """Create or move the user's social-auth link to `uid` (the key the sign-in looks up)."""
    if uid is None:
        return
    owner = UserSocialAuth.objects.filter(provider=connection.backend, uid=uid).exclude(user=user).first()
    if owner is not None:
        raise UniquenessException(detail="externalId is already linked to another NetBox account")
    mine = UserSocialAuth.objects.filter(provider=connection.backend, user=user).first()
    if mine is None:
        UserSocialAuth.objects.create(provider=connection.backend, uid=uid, user=user, extra_data={})
    elif mine.uid != uid:
        mine.uid = uid
        mine.save(update_fields=["uid"])


# ---- groups -------------------------------------------------------------------------------------------
def _scim_rules(connection: SCIMConnection, config: Any) -> BackendRules | None:
    rules = config.backends.get(connection.backend)
    if rules is None:
        return None
    # required_groups gates sign-in; provisioning mirrors groups whatever it says (the sign-in still refuses).
    return dataclasses.replace(rules, required_groups=frozenset()) if rules.required_groups else rules


def provider_groups(connection: SCIMConnection, rows: Iterable[SCIMUser]) -> dict[Any, set[str]]:
    """SCIM user pk -> the group keys the mapping rules are written against (one query)."""
    key = (
        "scimgroup__external_id"
        if connection.effective_group_key == GroupKey.EXTERNAL_ID
        else "scimgroup__display_name"
    )
    result: dict[Any, set[str]] = defaultdict(set)
    ids = [row.pk for row in rows]
    for member, value in SCIMMembership.objects.filter(scimuser_id__in=ids).values_list("scimuser_id", key):
        if value:
            result[member].add(value)
    return result


def apply_groups(
    connection: SCIMConnection, rows: list[SCIMUser], *, request: Any, new: frozenset[Any] = frozenset()
) -> None:
    """Decide and apply the mapping for each user from their SCIM groups (the caller holds the transaction)."""
    config = sso_config()  # one read of the rules in force for the whole request
    rules = _scim_rules(connection, config)
    if rules is None or not rows:
        return
    groups = provider_groups(connection, rows)
    backend = SimpleNamespace(name=connection.backend, strategy=SimpleNamespace(request=request))
    claim = f"SCIM groups ({connection.effective_group_key})"
    User = get_user_model()
    locked = {user.pk: user for user in User.objects.select_for_update().filter(pk__in=[r.user_id for r in rows])}
    memberships: dict[Any, set[str]] = defaultdict(set)
    for user_id, name in User.groups.through.objects.filter(user_id__in=list(locked)).values_list(
        "user_id", "group__name"
    ):
        memberships[user_id].add(name)
    for row in rows:
        user = locked[row.user_id]
        reading = GroupsReading(frozenset(rules.normalize.apply_all(sorted(groups.get(row.pk, ())))), "scim", claim)
        current = CurrentUser(user.username, frozenset(memberships[user.pk]), user.is_superuser, row.pk in new)
        break_glass = config.is_break_glass(user.username)
        decision = decide(rules, reading, current, break_glass=break_glass)
        if not decision.allowed or not decision.changes:
            continue
        outcome = apply_decision(user, decision, rules)
        log_mapping(backend, user, current, reading, decision, outcome)


def record(
    event: str,
    connection: SCIMConnection,
    *,
    request: Any,
    user: Any = None,
    username: str = "",
    reason: str,
    details: dict[str, Any] | None = None,
    outcome: str = "success",
) -> None:
    audit.record(
        event,
        request=request,
        backend=connection.backend,
        user=user,
        username=username or None,
        outcome=outcome,
        reason=reason,
        details={"connection": connection.name, **(details or {})},
    )
