"""Choice sets of the SSO audit trail: what happened (event) and how it ended (outcome)."""

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

