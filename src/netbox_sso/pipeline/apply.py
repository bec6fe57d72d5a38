"""Apply a mapping decision to a user through the ORM, in a constant number of queries.

Works on NetBox's `users.Group` (with ObjectPermissions) and, on a plain Django site, on
`django.contrib.auth.models.Group` (no ObjectPermissions there: declared permissions are refused at
start-up by the rules parser's caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netbox_sso.core.decision import Decision
from netbox_sso.core.rules import BackendRules, PermissionSpec


def group_model() -> Any:
    """NetBox's Group (app `users`) when running inside NetBox, django.contrib.auth's otherwise."""
    from django.apps import apps

    return apps.get_model("users", "Group") if apps.is_installed("users") else apps.get_model("auth", "Group")


@dataclass
class Outcome:
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    created_groups: set[str] = field(default_factory=set)
    superuser_changed: bool = False
    superuser_after: bool = False
    warnings: list[str] = field(default_factory=list)


def apply_decision(user: Any, decision: Decision, rules: BackendRules) -> Outcome:
    """Add/remove groups and set flags; the caller holds the transaction."""
    Group = group_model()
    outcome = Outcome(superuser_after=user.is_superuser)
    if decision.add_groups:
        existing = {group.name: group for group in Group.objects.filter(name__in=decision.add_groups)}
        missing = set(decision.add_groups) - set(existing)
        if missing and rules.create_groups:
            # Concurrent first logins may create the same group: ignore_conflicts keeps this transaction
            # alive where a unique violation would abort it; permissions are granted idempotently.
            Group.objects.bulk_create([Group(name=name) for name in sorted(missing)], ignore_conflicts=True)
            for group in Group.objects.filter(name__in=missing):
                existing[group.name] = group
                _grant_permissions(group, rules.permissions.get(group.name, ()))
            outcome.created_groups = set(missing)
        elif missing:
            outcome.warnings.append(
                f"NetBox group(s) {sorted(missing)} named by the rules for backend {rules.backend!r} do not exist; "
                "create them in NetBox, or set create_groups: True for this backend"
            )
        if existing:
            _add_groups(user, list(existing.values()))
            outcome.added = set(existing)
    if decision.remove_groups:
        to_remove = list(Group.objects.filter(name__in=decision.remove_groups))
        if to_remove:
            user.groups.remove(*to_remove)
            outcome.removed = {group.name for group in to_remove}
    if decision.set_superuser is not None and decision.set_superuser != user.is_superuser:
        user.is_superuser = decision.set_superuser
        user.save(update_fields=["is_superuser"])
        outcome.superuser_changed = True
        outcome.superuser_after = user.is_superuser
    return outcome


def _add_groups(user: Any, groups: list[Any]) -> None:
    """`user.groups.add(*groups)` without its SELECT of the memberships that exist already.

    The decision adds only groups the user did not hold when its row was locked and read, so Django's
    check is redundant: the rows are inserted directly (a membership added meanwhile by someone else is
    skipped by ON CONFLICT DO NOTHING), with the m2m_changed signals Django sends around an add.
    """
    from django.db import router, transaction
    from django.db.models.signals import m2m_changed

    manager = user.groups
    through = manager.through
    db = router.db_for_write(through, instance=user)
    pk_set = {group.pk for group in groups}
    signal = {
        "sender": through,
        "instance": user,
        "reverse": False,
        "model": manager.model,
        "pk_set": pk_set,
        "using": db,
        "raw": False,
    }
    source, target = manager.source_field_name, manager.target_field_name
    with transaction.atomic(using=db, savepoint=False):
        m2m_changed.send(action="pre_add", **signal)
        through._default_manager.using(db).bulk_create(
            [through(**{f"{source}_id": user.pk, f"{target}_id": pk}) for pk in sorted(pk_set)], ignore_conflicts=True
        )
        m2m_changed.send(action="post_add", **signal)


def _grant_permissions(group: Any, specs: tuple[PermissionSpec, ...]) -> None:
    """Create the group's declared ObjectPermissions ("permissions as code")."""
    if not specs:
        return
    from core.models import ObjectType
    from users.models import ObjectPermission

    for spec in specs:
        permission, _ = ObjectPermission.objects.get_or_create(
            name=spec.name,
            defaults={
                "actions": list(spec.actions),
                "constraints": spec.constraints,
                "description": spec.description,
                "enabled": spec.enabled,
            },
        )
        types = []
        for label in spec.object_types:
            app_label, model = label.split(".", 1)
            types.append(ObjectType.objects.get_by_natural_key(app_label, model))
        permission.object_types.add(*types)
        permission.groups.add(group)
