"""The claims of a sign-in per source (`claim_sources`, which the group steps read too) and, with `debug_claims`
on, their safe inspection: the claims of each SSO login kept for the audit trail.

Start-up inserts the capture step (`capture_claims`) after social_details when `debug_claims` is on
(`netbox_sso.pipeline.assemble`). The step only stashes the claims per source on the request;
`netbox_sso.audit_middleware` records them as a `claims_captured` event after the pipeline's transaction, so
a refused login keeps its claims too. The stored details are
`{"id_token": {...}, "userinfo": {...} | null, "graph": {"groups": [...]}}`, the claims document
`netbox-sso explain --claims` reads, with tokens and secrets redacted by `netbox_sso.audit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netbox_sso.keys import CLAIMS_ATTRIBUTE

#: Token-endpoint fields that are not claims (they sit beside userinfo's claims in `response`).
_TOKEN_FIELDS = frozenset(
    {
        "access_token",
        "id_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "scope",
        "ext_expires_in",
        "expires_on",
        "not_before",
        "resource",
    }
)


def claim_sources(backend: Any, response: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """Where each source's claims are for this backend.

    OIDC backends keep the validated ID-token claims on `backend.id_token` and merge userinfo into
    `response`; Entra ID's v1 backend puts the validated ID-token claims into `response` itself and has no
    userinfo groups.
    """
    id_token = getattr(backend, "id_token", None)
    if isinstance(id_token, Mapping):
        userinfo = {key: value for key, value in response.items() if key not in _TOKEN_FIELDS}
        return {"id_token": id_token, "userinfo": userinfo or None}
    return {"id_token": {key: value for key, value in response.items() if key not in _TOKEN_FIELDS}, "userinfo": None}


def capture_claims(
    backend: Any,
    response: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> None:
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
