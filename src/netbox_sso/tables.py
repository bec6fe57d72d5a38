"""Tables: SSO events (list view, status page) and mapping rules."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from netbox.tables import NetBoxTable, PrimaryModelTable, columns

from netbox_sso.core.rule_sources import BackendSettingsRecord
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent

__all__ = ("BackendSettingsTable", "MappingRuleTable", "SSOEventTable")


class SSOEventTable(NetBoxTable):
    time = columns.DateTimeColumn(verbose_name=_("Time"), timespec="seconds", linkify=True)
    event = columns.ChoiceFieldColumn(verbose_name=_("Event"))
    outcome = columns.ChoiceFieldColumn(verbose_name=_("Outcome"))
    reason = tables.Column(verbose_name=_("Reason"))
    backend = tables.Column(verbose_name=_("Backend"))
    username = tables.Column(verbose_name=_("Username"))
    user = tables.Column(verbose_name=_("User"), linkify=True)
    client = tables.Column(verbose_name=_("Client"))
    message = tables.Column(verbose_name=_("Message"))
    # Events are records: no edit or delete from the table (housekeeping removes old ones).
    actions = columns.ActionsColumn(actions=())

    class Meta(NetBoxTable.Meta):
        model = SSOEvent
        fields = (
            "pk",
            "id",
            "time",
            "event",
            "outcome",
            "reason",
            "backend",
            "username",
            "user",
            "client",
            "message",
            "actions",
        )
        default_columns = ("time", "event", "outcome", "reason", "backend", "username", "client")


class MappingRuleTable(PrimaryModelTable):
    backend = tables.Column(verbose_name=_("Backend"), linkify=True)
    effect = columns.ChoiceFieldColumn(verbose_name=_("Effect"), linkify=True)
    match_type = columns.ChoiceFieldColumn(verbose_name=_("Match"))
    value = tables.Column(verbose_name=_("IdP value"), linkify=True)
    groups = columns.ManyToManyColumn(verbose_name=_("NetBox groups"), linkify_item=True)
    tags = columns.TagColumn(url_name="plugins:netbox_sso:mappingrule_list")

    class Meta(PrimaryModelTable.Meta):
        model = MappingRule
        fields = (
            "pk",
            "id",
            "backend",
            "effect",
            "match_type",
            "value",
            "groups",
            "description",
            "comments",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = ("pk", "backend", "effect", "match_type", "value", "groups", "description")


class BackendSettingsTable(PrimaryModelTable):
    backend = tables.Column(verbose_name=_("Backend"), linkify=True)
    groups_claim = tables.Column(verbose_name=_("Groups claim"))
    groups_sources = tables.Column(verbose_name=_("Sources"))
    case = tables.Column(verbose_name=_("Case"))
    strip_prefixes = tables.Column(verbose_name=_("Strip prefixes"))
    missing_claim = tables.Column(verbose_name=_("Missing claim"))
    create_groups = columns.BooleanColumn(verbose_name=_("Create groups"))
    tags = columns.TagColumn(url_name="plugins:netbox_sso:backendsettings_list")

    class Meta(PrimaryModelTable.Meta):
        model = BackendSettings
        fields = (
            "pk",
            "id",
            *BackendSettingsRecord.FIELDS,
            "description",
            "comments",
            "tags",
            "created",
            "last_updated",
            "actions",
        )
        default_columns = (
            "pk",
            *BackendSettingsRecord.FIELDS,
        )
