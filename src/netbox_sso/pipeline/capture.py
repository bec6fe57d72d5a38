"""Safe claim inspection: with `debug_claims` on, keep the claims of each SSO login for the audit trail.

Start-up inserts the step after social_details when `debug_claims` is on (`netbox_sso.pipeline.assemble`).
The step only stashes the claims per source on the request; `netbox_sso.audit_middleware` records them as
a `claims_captured` event after the pipeline's transaction, so a refused login keeps its claims too. The
stored details are `{"id_token": {...}, "userinfo": {...} | null, "graph": {"groups": [...]}}`, the claims
document `netbox-sso explain --claims` reads, with tokens and secrets redacted by `netbox_sso.audit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netbox_sso.keys import CLAIMS_ATTRIBUTE


def capture_claims(
    backend: Any,
    response: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> None:
    from netbox_sso.pipeline.groups import claim_sources

    request = getattr(getattr(backend, "strategy", None), "request", None)
    if request is None:
        return
    sources = {
        name: dict(value) if value is not None else None
        for name, value in claim_sources(backend, response or {}).items()
    }
    username = (details or {}).get("username") or (sources.get("id_token") or {}).get("preferred_username")
    setattr(request, CLAIMS_ATTRIBUTE, {"backend": backend.name, "username": str(username or ""), "sources": sources})


def add_graph_groups(backend: Any, groups: Any) -> None:
    """Add the groups read through Microsoft Graph (overage) to this login's captured claims."""
    request = getattr(getattr(backend, "strategy", None), "request", None)
    captured = getattr(request, CLAIMS_ATTRIBUTE, None)
    if captured is not None:
        captured["sources"]["graph"] = {"groups": sorted(groups)}
