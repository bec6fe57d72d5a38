"""`netbox-sso check`: run every static check in one loop; read the configuration, never the network, never Django.

`run_checks(settings)` returns every finding at once, so an administrator fixes a configuration in one
pass. Each check is a small function named after what it checks, in a module per topic
(`netbox_sso.diagnostics.checks`); the order of `CHECKS` is the order of the report within one severity.
"""

from __future__ import annotations

from collections.abc import Collection

from netbox_sso.diagnostics.checks.backends import (
    check_backend_settings_names,
    check_backends_exist,
    check_entra,
    check_oidc_endpoint,
    check_okta,
    check_placeholders,
    check_required_settings,
    check_verify_ssl,
    check_weakening_settings,
)
from netbox_sso.diagnostics.checks.context import Check, Context
from netbox_sso.diagnostics.checks.mapping import (
    check_groups,
    check_groups_exist,
    check_mapping,
    check_mapping_backends,
    mapped_groups,
    netbox_group_names,
    parse_mapping,
)
from netbox_sso.diagnostics.checks.pipeline import check_pipeline, known_pipeline_steps
from netbox_sso.diagnostics.checks.provisioning import check_reconcile
from netbox_sso.diagnostics.checks.sessions import check_cleartext_secrets, check_session_age
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings
from netbox_sso.pipeline.assemble import STEP_ROLES

__all__ = [
    "CHECKS",
    "STEP_ROLES",
    "check_groups_exist",
    "known_pipeline_steps",
    "mapped_groups",
    "netbox_group_names",
    "parse_mapping",
    "run_checks",
]

CHECKS: tuple[Check, ...] = (
    check_backends_exist,
    check_placeholders,
    check_required_settings,
    check_backend_settings_names,
    check_entra,
    check_oidc_endpoint,
    check_verify_ssl,
    check_weakening_settings,
    check_session_age,
    check_cleartext_secrets,
    check_mapping,
    check_okta,
    check_pipeline,
    check_mapping_backends,
    check_groups,
    check_reconcile,
)


def run_checks(
    settings: NetBoxSettings,
    *,
    existing_groups: Collection[str] | None = None,
    groups_error: str | None = None,
) -> list[Finding]:
    """Every static finding. `existing_groups` (from the database) or `groups_error` enables the group check."""
    readable = isinstance(settings.get("REMOTE_AUTH_BACKEND", ""), str | list | tuple)
    config, mapping_findings = parse_mapping(settings)
    ctx = Context(settings.sso_backends() if readable else [], config, mapping_findings, existing_groups, groups_error)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(settings, ctx))
    return findings
