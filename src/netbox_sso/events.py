"""Audit event types and their log names, without NetBox imports (plain Django sites log them too).

NetBox's choice set (`netbox_sso.choices`) labels and colours the same values for the UI.
"""

from __future__ import annotations

#: Event type -> the stable name of the event in the `netbox_sso.audit` log (greppable "sso.").
LOG_NAMES: dict[str, str] = {
    "login_success": "sso.login.succeeded",
    "login_failure": "sso.login.failed",
    "refused": "sso.login.refused",
    "user_created": "sso.user.created",
    "groups_changed": "sso.groups.changed",
    "flags_changed": "sso.flags.changed",
    "permission_denied": "sso.permission.denied",
    "logout": "sso.logout",
    "claims_captured": "sso.claims.captured",
    "mapping_warning": "sso.mapping.warning",
    "rules_changed": "sso.rules.changed",
    "api_token_refused": "sso.api_token.refused",
    "scim_provisioned": "sso.scim.provisioned",
    "scim_deprovisioned": "sso.scim.deprovisioned",
    "scim_refused": "sso.scim.refused",
    "reconcile_deactivated": "sso.reconcile.deactivated",
    "reconcile_run": "sso.reconcile.run",
}
