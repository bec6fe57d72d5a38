"""Mapping-rule changes: publish a new rule-set version to every worker, and record each change in the audit trail.

Connected in the PluginConfig's ready(). A rule saved, deleted or given other groups, and a NetBox group
renamed or deleted (rules name groups), makes every worker rebuild its rules at its next login
(`netbox_sso.rule_set.bump_version`, after the commit). Rule changes are also `rules_changed` audit events
naming who changed what (NetBox's change log has the full before/after).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from netbox_sso import audit
from netbox_sso.rule_set import bump_version


def _request() -> Any:
    from netbox.context import current_request

    return current_request.get()


def _describe(rule: Any) -> dict[str, Any]:
    from netbox_sso.models import BackendSettings

    if isinstance(rule, BackendSettings):
        return {"backend_settings": rule.pk, "backend": rule.backend, **rule.record().entry()}
    return {
        "rule": rule.pk,
        "backend": rule.backend,
        "effect": rule.effect,
        "match_type": rule.match_type,
        "value": rule.value,
    }


def _record(action: str, rule: Any, **details: Any) -> None:
    request = _request()
    user = getattr(request, "user", None)
    audit.record(
        "rules_changed",
        request=request,
        backend=rule.backend,
        user=user if getattr(user, "is_authenticated", False) else None,
        outcome="info",
        reason=action,
        details={**_describe(rule), **details},
        message=f"{rule._meta.verbose_name} {action}: {rule}",
    )


def on_rule_saved(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    bump_version()
    _record("created" if created else "updated", instance)


def on_rule_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._netbox_sso_groups = sorted(instance.groups.values_list("name", flat=True))


def on_rule_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    bump_version()
    _record("deleted", instance, groups=getattr(instance, "_netbox_sso_groups", []))


def on_rule_groups_changed(sender: Any, instance: Any, action: str, pk_set: Any = None, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    bump_version()
    from netbox_sso.models import MappingRule

    if isinstance(instance, MappingRule):
        from users.models import Group

        names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
        change = {"post_add": "groups added", "post_remove": "groups removed", "post_clear": "groups cleared"}
        _record(change[action], instance, groups=names)


def on_group_changed(sender: Any, created: bool = False, **kwargs: Any) -> None:
    # A new group changes no compiled rule (rules name groups that exist, or configured names): a login that
    # creates mapped groups (create_groups) must not make every worker rebuild. Renames and deletions do.
    if not kwargs.get("raw") and not created:
        bump_version()


def connect() -> None:
    from users.models import Group

    from netbox_sso.models import BackendSettings, MappingRule

    post_save.connect(on_rule_saved, sender=BackendSettings, dispatch_uid="netbox_sso.rules.settings_saved")
    post_delete.connect(on_rule_deleted, sender=BackendSettings, dispatch_uid="netbox_sso.rules.settings_deleted")
    post_save.connect(on_rule_saved, sender=MappingRule, dispatch_uid="netbox_sso.rules.saved")
    pre_delete.connect(on_rule_deleting, sender=MappingRule, dispatch_uid="netbox_sso.rules.deleting")
    post_delete.connect(on_rule_deleted, sender=MappingRule, dispatch_uid="netbox_sso.rules.deleted")
    m2m_changed.connect(
        on_rule_groups_changed, sender=MappingRule.groups.through, dispatch_uid="netbox_sso.rules.groups"
    )
    post_save.connect(on_group_changed, sender=Group, dispatch_uid="netbox_sso.rules.group_saved")
    post_delete.connect(on_group_changed, sender=Group, dispatch_uid="netbox_sso.rules.group_deleted")
