"""Directory reconciliation for providers that do not push SCIM (Keycloak, Authentik).

Deactivates the NetBox accounts whose users are gone from, or disabled in, the provider's directory,
through SCIM's deprovisioning code path. Run it with `netbox sso_reconcile --backend <name> [--dry-run]`
or as the NetBox system job `SSOReconcileJob` (`reconcile_interval`). The pure decision and the settings
are `netbox_sso.core.reconcile`; the listing is `directory`; a run is `run`. See docs/provisioning.md.
"""

from __future__ import annotations

from netbox_sso.reconcile.run import ReconcileError, Result, configured, reconcile

__all__ = ["ReconcileError", "Result", "configured", "reconcile"]
