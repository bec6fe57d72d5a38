"""The SSO audit trail: one immutable row per SSO event (written by `netbox_sso.audit.record`).

Like NetBox's own ObjectChange, an event is a record, not an object administrators edit: no change
logging, tags or custom fields, and the restricted queryset so NetBox's object permissions apply.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from utilities.querysets import RestrictedQuerySet

from netbox_sso.choices import SSOEventTypeChoices, SSOOutcomeChoices

__all__ = ("SSOEvent",)


class SSOEvent(models.Model):
    """What happened at one SSO step: who, through which backend, how it ended and why."""

    time = models.DateTimeField(verbose_name=_("time"), auto_now_add=True, editable=False, db_index=True)
    event = models.CharField(verbose_name=_("event"), max_length=32, choices=SSOEventTypeChoices, db_index=True)
    outcome = models.CharField(verbose_name=_("outcome"), max_length=16, choices=SSOOutcomeChoices)
    reason = models.CharField(verbose_name=_("reason"), max_length=64, blank=True,
                              help_text=_("Stable reason code (e.g. required_groups, invalid_token)"))
    backend = models.CharField(verbose_name=_("backend"), max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(to=settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+",
                             blank=True, null=True)
    # Kept as text: refused identities have no user row, and deleted users keep their history.
    username = models.CharField(verbose_name=_("username"), max_length=150, blank=True, db_index=True)
    client = models.GenericIPAddressField(verbose_name=_("client address"), blank=True, null=True)
    message = models.CharField(verbose_name=_("message"), max_length=300, blank=True)
    details = models.JSONField(verbose_name=_("details"), blank=True, null=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-time", "-pk")
        indexes = (models.Index(fields=("event", "time")),)
        verbose_name = _("SSO event")
        verbose_name_plural = _("SSO events")

    def __str__(self) -> str:
        who = self.username or "?"
        return f"{self.get_event_display()}: {who} ({self.backend or '-'})"

    def get_absolute_url(self) -> str:
        return reverse("plugins:netbox_sso:ssoevent", args=[self.pk])

    def get_event_color(self) -> str | None:
        return SSOEventTypeChoices.colors.get(self.event)

    def get_outcome_color(self) -> str | None:
        return SSOOutcomeChoices.colors.get(self.outcome)
