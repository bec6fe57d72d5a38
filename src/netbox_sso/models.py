"""The SSO audit trail (`SSOEvent`) and the mapping rules administrators manage in NetBox (`MappingRule`).

An event is a record, like NetBox's own ObjectChange, not an object administrators edit: no change logging,
tags or custom fields, and the restricted queryset so NetBox's object permissions apply. A mapping rule is a
NetBox object like any other: change logging, tags, comments, custom fields, object permissions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from netbox.models import PrimaryModel
from utilities.querysets import RestrictedQuerySet

from netbox_sso.choices import MappingEffectChoices, MappingMatchChoices, SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord

__all__: tuple[str, ...] = ("BackendSettings", "MappingRule", "SSOEvent")


class SSOEvent(models.Model):
    """What happened at one SSO step: who, through which backend, how it ended and why."""

    time = models.DateTimeField(verbose_name=_("time"), auto_now_add=True, editable=False, db_index=True)
    event = models.CharField(verbose_name=_("event"), max_length=32, choices=SSOEventTypeChoices, db_index=True)
    outcome = models.CharField(verbose_name=_("outcome"), max_length=16, choices=SSOOutcomeChoices)
    reason = models.CharField(
        verbose_name=_("reason"),
        max_length=64,
        blank=True,
        help_text=_("Stable reason code (e.g. required_groups, invalid_token)"),
    )
    backend = models.CharField(verbose_name=_("backend"), max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(
        to=settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", blank=True, null=True
    )
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


class MappingRule(PrimaryModel):
    """One group-mapping rule of one backend, merged with configuration.py's rules at every login.

    The rows become the rules format of configuration.py (`netbox_sso.core.rule_sources`) and are validated
    by the same parser when saved (`netbox_sso.rule_validation`); a change applies on every worker without a
    restart (`netbox_sso.rule_set`).
    """

    backend = models.CharField(
        verbose_name=_("backend"),
        max_length=64,
        db_index=True,
        help_text=_("social-core backend name, e.g. oidc, azuread-oauth2, okta-openidconnect"),
    )
    effect = models.CharField(
        verbose_name=_("effect"), max_length=16, choices=MappingEffectChoices, default=MappingEffectChoices.GROUPS
    )
    match_type = models.CharField(
        verbose_name=_("match type"), max_length=16, choices=MappingMatchChoices, default=MappingMatchChoices.EXACT
    )
    # 512 characters (at most 2 KiB of UTF-8) stays under PostgreSQL's limit for a unique-index entry.
    value = models.CharField(
        verbose_name=_("IdP value"),
        max_length=512,
        blank=True,
        help_text=_(
            "Group name, object ID, glob or regex as the provider sends it in the "
            "groups claim (empty for default groups)"
        ),
    )
    groups = models.ManyToManyField(
        to="users.Group", related_name="sso_mapping_rules", blank=True, verbose_name=_("NetBox groups")
    )

    clone_fields = ("backend", "effect", "match_type", "description")

    class Meta:
        ordering = ("backend", "effect", "match_type", "value", "pk")
        constraints = (
            models.UniqueConstraint(
                fields=("backend", "effect", "match_type", "value"),
                name="netbox_sso_mappingrule_unique_rule",
                violation_error_message=_(
                    "This backend already has a rule with this effect, "
                    "match type and IdP value; edit that rule instead."
                ),
            ),
        )
        verbose_name = _("mapping rule")
        verbose_name_plural = _("mapping rules")

    def __str__(self) -> str:
        if self.effect == MappingEffectChoices.DEFAULT:
            return f"{self.backend}: default groups"
        return f"{self.backend}: {self.get_effect_display()} for {self.match_type} {self.value!r}"

    def get_absolute_url(self) -> str:
        return reverse("plugins:netbox_sso:mappingrule", args=[self.pk])

    def get_effect_color(self) -> str | None:
        return MappingEffectChoices.colors.get(self.effect)

    def get_match_type_color(self) -> str | None:
        return MappingMatchChoices.colors.get(self.match_type)

    def record(self, group_names: tuple[str, ...] | None = None) -> RuleRecord:
        """This rule as the pure core sees it (`group_names` for unsaved groups, else the saved ones)."""
        if group_names is None:
            group_names = tuple(self.groups.values_list("name", flat=True)) if self.pk else ()
        return RuleRecord(
            self.backend.strip(), self.effect, self.match_type, self.value, tuple(sorted(group_names)), self.pk
        )


class BackendSettings(PrimaryModel):
    """How one backend's groups are read and matched (where configuration.py does not say): the claim and
    its sources, normalization, the missing-claim policy and group creation. One row per backend."""

    backend = models.CharField(
        verbose_name=_("backend"),
        max_length=64,
        unique=True,
        help_text=_("social-core backend name, e.g. oidc, azuread-oauth2, okta-openidconnect"),
    )
    groups_claim = models.CharField(
        verbose_name=_("groups claim"),
        max_length=256,
        blank=True,
        help_text=_("Claim name or dotted path (empty: 'groups')"),
    )
    groups_sources = models.CharField(
        verbose_name=_("groups sources"),
        max_length=64,
        blank=True,
        help_text=_("In order, comma-separated: id_token, userinfo, graph (Entra ID); empty: the backend's default"),
    )
    case = models.CharField(
        verbose_name=_("case"),
        max_length=16,
        choices=(("preserve", _("Preserve")), ("lower", _("Lower case"))),
        default="preserve",
    )
    strip_prefixes = models.CharField(
        verbose_name=_("strip prefixes"),
        max_length=256,
        blank=True,
        help_text=_("Comma-separated prefixes removed from values, e.g. /"),
    )
    missing_claim = models.CharField(
        verbose_name=_("missing claim"),
        max_length=16,
        choices=(("keep", _("Keep groups, warn")), ("refuse", _("Refuse sign-in"))),
        default="keep",
    )
    create_groups = models.BooleanField(
        verbose_name=_("create groups"),
        default=False,
        help_text=_("Create mapped NetBox groups that do not exist at login"),
    )

    class Meta:
        ordering = ("backend",)
        verbose_name = _("backend settings")
        verbose_name_plural = _("backend settings")

    def __str__(self) -> str:
        return f"{self.backend} settings"

    def get_absolute_url(self) -> str:
        return reverse("plugins:netbox_sso:backendsettings", args=[self.pk])

    def record(self) -> BackendSettingsRecord:
        return BackendSettingsRecord.from_fields(
            {name: getattr(self, name) for name in BackendSettingsRecord.FIELDS}, self.pk
        )


# SCIM provisioning (netbox_sso.scim): defined there, registered with this app through this import.
from netbox_sso.scim.models import SCIMConnection, SCIMGroup, SCIMMembership, SCIMUser  # noqa: E402

__all__ += ("SCIMConnection", "SCIMGroup", "SCIMMembership", "SCIMUser")
