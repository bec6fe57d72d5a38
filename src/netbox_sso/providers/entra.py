"""Microsoft Entra ID specifics (pure): issuer forms, tenant extraction, the stable user key.

Microsoft identity platform, "ID token claims reference" and "Validate tokens": the v1 issuer is
`https://sts.windows.net/{tid}/`, the v2 issuer `https://login.microsoftonline.com/{tid}/v2.0`; for
the multi-tenant paths (`common`, `organizations`) discovery publishes the template `{tenantid}`.
The user's stable identity is the pair (tid, oid): "oid ... is the same across all apps in a tenant";
upn and email are mutable ("Migrate away from using email claims for user identification").
"""

from __future__ import annotations

import re

MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations", "consumers"})
TENANT_TEMPLATE = "{tenantid}"
# v2 issuers live on the cloud's login host (login.microsoftonline.com, .us, .cn ...).
_ISSUER = re.compile(r"^(?:https://sts\.windows\.net/(?P<v1>[^/]+)/|https://[^/]+/(?P<v2>[^/]+)/v2\.0)$")


def tenant_of_issuer(issuer: str) -> str | None:
    """The tenant (GUID or the `{tenantid}` template) an Entra issuer names; None if not an Entra issuer."""
    match = _ISSUER.match(issuer)
    if match is None:
        return None
    return match.group("v1") or match.group("v2")


def issuer_for_tenant(issuer_template: str, tid: str) -> str:
    """Fill the multi-tenant template with the token's (already allow-listed) tenant."""
    return issuer_template.replace(TENANT_TEMPLATE, tid).replace("{tenantId}", tid)


def is_multi_tenant(segment: str) -> bool:
    return segment.strip().lower() in MULTI_TENANT_SEGMENTS


def user_key(tid: str, oid: str) -> str:
    """The UserSocialAuth uid of an Entra identity: tenant and object ID, both immutable."""
    return f"{tid.lower()}:{oid.lower()}"
