"""Checks of directory reconciliation (`reconcile`): each entry names a sign-in backend it can read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from netbox_sso.diagnostics.checks.context import Context, finding
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings

#: Providers that push SCIM themselves: reconciliation reads only Keycloak's and Authentik's directories.
PUSHING_KINDS = {"entra": "Entra ID", "okta": "Okta"}


def check_reconcile(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    entries = settings.plugin_config.get("reconcile")
    if not isinstance(entries, Mapping):
        return  # absent, or the schema's check reports its type
    backends = {backend.name: backend for backend in ctx.sso if backend.name}
    for name in entries:
        path = f"PLUGINS_CONFIG['netbox_sso']['reconcile'][{name!r}]"
        backend = backends.get(str(name))
        if backend is None:
            have = ", ".join(repr(n) for n in sorted(backends)) or "none"
            yield finding(
                "reconcile.unknown_backend",
                "error",
                path,
                f"{name!r} is not a sign-in backend of this NetBox (its SSO backends: {have}): `netbox "
                "sso_reconcile` and the job refuse to run it",
                "use the backend's name as in /oauth/login/<name>/, e.g. 'oidc' for Keycloak or Authentik",
            )
        elif backend.kind in PUSHING_KINDS:
            yield finding(
                "reconcile.push_provider",
                "warning",
                path,
                f"{PUSHING_KINDS[backend.kind]} pushes leavers itself; reconciliation reads only Keycloak's or "
                "Authentik's directory",
                "create a SCIM connection for it instead (docs/provisioning.md)",
                str(name),
            )
