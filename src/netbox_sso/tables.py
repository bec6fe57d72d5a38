"""The SSO events table (list view, status page)."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from netbox.tables import NetBoxTable, columns

from netbox_sso.models import SSOEvent

__all__ = ("SSOEventTable",)


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
        fields = ("pk", "id", "time", "event", "outcome", "reason", "backend", "username", "user", "client",
                  "message", "actions")
        default_columns = ("time", "event", "outcome", "reason", "backend", "username", "client")
