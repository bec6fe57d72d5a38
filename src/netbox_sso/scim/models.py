"""What SCIM provisioning keeps: the provider connections (with their hashed token) and the pushed resources.

A `SCIMConnection` is one provisioning client (an Entra ID enterprise application, an Okta app). It names
the social-auth backend whose sign-ins the provisioned accounts must meet (`backend`), so a pushed user and
the same person signing in land on one NetBox account. Its bearer token is shown once and stored as a
SHA-256 digest; the first characters (`token_prefix`) find the row without scanning.

`SCIMUser` ties a SCIM resource to a NetBox user; `SCIMGroup` is a group of the provider (not a NetBox
group): its membership feeds the same mapping rules as a sign-in's groups claim.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from utilities.querysets import RestrictedQuerySet

__all__ = ("SCIMConnection", "SCIMGroup", "SCIMMembership", "SCIMUser")


RATE_LIMIT_DEFAULT = 60_000


class TokenAction(models.TextChoices):
    DISABLE = "disable", _("Disable (re-enabled on reactivation)")
    EXPIRE = "expire", _("Expire now (not restored)")
    DELETE = "delete", _("Delete (not restored)")


class GroupKey(models.TextChoices):
    AUTOMATIC = "", _("Automatic (Entra ID: externalId, others: displayName)")
    EXTERNAL_ID = "externalId", _("externalId (Entra ID group object ID)")
    DISPLAY_NAME = "displayName", _("displayName")


class SCIMConnection(models.Model):
    """One SCIM provisioning client and the NetBox sign-in backend its users belong to."""

    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    backend = models.CharField(
        verbose_name=_("backend"),
        max_length=64,
        help_text=_(
            "Social-auth backend the provisioned users sign in with, e.g. azuread-oauth2, okta-openidconnect, oidc"
        ),
    )
    tenant_id = models.CharField(
        verbose_name=_("tenant ID"),
        max_length=64,
        blank=True,
        help_text=_("Entra ID only: the directory (tenant) ID of the users"),
    )
    group_key = models.CharField(
        verbose_name=_("group key"), max_length=16, blank=True, choices=GroupKey.choices, default=GroupKey.AUTOMATIC
    )
    token_action = models.CharField(
        verbose_name=_("API tokens on deprovisioning"),
        max_length=16,
        choices=TokenAction.choices,
        default=TokenAction.DISABLE,
    )
    dry_run = models.BooleanField(
        verbose_name=_("dry run"),
        default=False,
        help_text=_("Deprovisioning is reported in the audit trail, not applied"),
    )
    enabled = models.BooleanField(verbose_name=_("enabled"), default=True)
    #: Requests per minute (0: unlimited). The default is far above a provider's first sync: at 6,000 an
    #: Okta-style first sync of 10,000 users at 10 concurrent requests was throttled on a 2-core NetBox
    #: (docs/benchmarks-scim.md), and Entra ID suspends provisioning for Retry-After on every 429.
    rate_limit = models.PositiveIntegerField(verbose_name=_("requests per minute"), default=RATE_LIMIT_DEFAULT)
    token_prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    token_rotated = models.DateTimeField(verbose_name=_("token rotated"), null=True, blank=True, editable=False)
    #: When the token was last accepted, to the minute (written at most once a minute: tokens.LAST_USED_EVERY).
    token_last_used = models.DateTimeField(verbose_name=_("token last used"), null=True, blank=True, editable=False)
    #: Who created the connection: a NetBox username, or "command line" (kept as text: survives the user).
    created_by = models.CharField(verbose_name=_("created by"), max_length=150, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        verbose_name = _("SCIM connection")
        verbose_name_plural = _("SCIM connections")

    def __str__(self) -> str:
        return f"{self.name} ({self.backend})"

    @property
    def token_revoked(self) -> bool:
        """Revoked: no token is valid until the next rotation (tokens.revoke)."""
        return not self.token_hash

    @property
    def effective_group_key(self) -> str:
        if self.group_key:
            return self.group_key
        return GroupKey.EXTERNAL_ID if self.backend == "azuread-oauth2" else GroupKey.DISPLAY_NAME


class SCIMUser(models.Model):
    """A user pushed by a connection: its SCIM attributes and the NetBox account they describe."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(SCIMConnection, on_delete=models.CASCADE, related_name="users")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim")
    user_name = models.CharField(max_length=255)
    #: userName case-folded: SCIM's userName is case-insensitive (RFC 7643 4.1.1), and so are NetBox's names.
    user_name_folded = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    display_name = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    #: The resource as the provider last wrote it (RFC 7643 attributes, without id, meta and groups).
    attributes = models.JSONField(default=dict)
    #: API tokens this connection disabled at deprovisioning (re-enabled on reactivation).
    disabled_tokens = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("user_name_folded",)
        constraints = (
            models.UniqueConstraint(fields=("connection", "user_name_folded"), name="netbox_sso_scimuser_username"),
        )
        verbose_name = _("SCIM user")
        verbose_name_plural = _("SCIM users")

    def __str__(self) -> str:
        return self.user_name


class SCIMGroup(models.Model):
    """A provider group pushed by a connection (not a NetBox group: the mapping rules decide those)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(SCIMConnection, on_delete=models.CASCADE, related_name="groups")
    display_name = models.CharField(max_length=255)
    display_name_folded = models.CharField(max_length=255, db_index=True)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    attributes = models.JSONField(default=dict)
    members = models.ManyToManyField(SCIMUser, related_name="scim_groups", blank=True, through="SCIMMembership")
    version = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("display_name_folded",)
        verbose_name = _("SCIM group")
        verbose_name_plural = _("SCIM groups")

    def __str__(self) -> str:
        return self.display_name


class SCIMMembership(models.Model):
    """A user in a provider group; `display` is the member's display as the provider last sent it."""

    scimgroup = models.ForeignKey(SCIMGroup, on_delete=models.CASCADE, related_name="+")
    scimuser = models.ForeignKey(SCIMUser, on_delete=models.CASCADE, related_name="+")
    display = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("scimgroup", "scimuser"), name="netbox_sso_scimmembership_unique"),
        )
        verbose_name = _("SCIM group membership")
