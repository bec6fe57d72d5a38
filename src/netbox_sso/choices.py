"""Choice sets: the SSO audit trail (event, outcome) and mapping rules (effect, match type)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from utilities.choices import ChoiceSet


class SSOEventTypeChoices(ChoiceSet):
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    REFUSED = "refused"
    USER_CREATED = "user_created"
    GROUPS_CHANGED = "groups_changed"
    FLAGS_CHANGED = "flags_changed"
    PERMISSION_DENIED = "permission_denied"
    LOGOUT = "logout"
    CLAIMS_CAPTURED = "claims_captured"
    MAPPING_WARNING = "mapping_warning"
    RULES_CHANGED = "rules_changed"
    API_TOKEN_REFUSED = "api_token_refused"
    SCIM_PROVISIONED = "scim_provisioned"
    SCIM_DEPROVISIONED = "scim_deprovisioned"
    SCIM_REFUSED = "scim_refused"
    RECONCILE_DEACTIVATED = "reconcile_deactivated"
    RECONCILE_RUN = "reconcile_run"

    CHOICES = (
        (LOGIN_SUCCESS, _("Login succeeded"), "green"),
        (LOGIN_FAILURE, _("Login failed"), "red"),
        (REFUSED, _("Login refused"), "orange"),
        (USER_CREATED, _("User created"), "blue"),
        (GROUPS_CHANGED, _("Groups changed"), "cyan"),
        (FLAGS_CHANGED, _("Flags changed"), "purple"),
        (PERMISSION_DENIED, _("Permission denied after SSO login"), "yellow"),
        (LOGOUT, _("Logout"), "gray"),
        (CLAIMS_CAPTURED, _("Claims captured (debug)"), "indigo"),
        (MAPPING_WARNING, _("Mapping warning"), "yellow"),
        (RULES_CHANGED, _("Mapping rules changed"), "teal"),
        (API_TOKEN_REFUSED, _("API token refused"), "red"),
        (SCIM_PROVISIONED, _("SCIM provisioning"), "teal"),
        (SCIM_DEPROVISIONED, _("SCIM deprovisioning"), "red"),
        (SCIM_REFUSED, _("SCIM request refused"), "orange"),
        (RECONCILE_DEACTIVATED, _("Directory reconciliation: deactivated"), "red"),
        (RECONCILE_RUN, _("Directory reconciliation run"), "teal"),
    )


class SSOOutcomeChoices(ChoiceSet):
    SUCCESS = "success"
    FAILURE = "failure"
    REFUSED = "refused"
    DENIED = "denied"
    INFO = "info"

    CHOICES = (
        (SUCCESS, _("Success"), "green"),
        (FAILURE, _("Failure"), "red"),
        (REFUSED, _("Refused"), "orange"),
        (DENIED, _("Denied"), "yellow"),
        (INFO, _("Info"), "gray"),
    )


class MappingEffectChoices(ChoiceSet):
    """What a mapping rule does when its IdP value is present (see netbox_sso.core.rule_sources)."""

    GROUPS = "groups"
    SUPERUSER = "superuser"
    REQUIRED = "required"
    DEFAULT = "default"

    CHOICES = (
        (GROUPS, _("Assign NetBox groups"), "blue"),
        (SUPERUSER, _("Grant superuser"), "red"),
        (REQUIRED, _("Required to sign in"), "orange"),
        (DEFAULT, _("Default groups (first login)"), "gray"),
    )


class MappingMatchChoices(ChoiceSet):
    EXACT = "exact"
    GLOB = "glob"
    REGEX = "regex"

    CHOICES = (
        (EXACT, _("Exact value"), "green"),
        (GLOB, _("Glob (whole value)"), "cyan"),
        (REGEX, _("Regular expression (re.search)"), "purple"),
    )
