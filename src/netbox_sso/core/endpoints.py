"""Pure helpers for identity-provider endpoint URLs (no Django, no network)."""

from __future__ import annotations

WELL_KNOWN_SUFFIX = "/.well-known/openid-configuration"


def normalize_oidc_endpoint(endpoint: str) -> str:
    """Return the OIDC issuer base URL for an administrator-supplied endpoint.

    Administrators paste either the issuer (`https://idp/realms/x`) or the discovery document URL
    (`https://idp/realms/x/.well-known/openid-configuration`, the reference manual's form), with or
    without a trailing slash. social-core appends the well-known suffix itself, so we strip it.
    """
    value = endpoint.strip()
    while value.endswith("/"):
        value = value[:-1]
    if value.endswith(WELL_KNOWN_SUFFIX):
        value = value[: -len(WELL_KNOWN_SUFFIX)]
    while value.endswith("/"):
        value = value[:-1]
    return value


def discovery_url(issuer: str) -> str:
    """OIDC Discovery 1.0 section 4: the issuer with `/.well-known/openid-configuration` appended."""
    return normalize_oidc_endpoint(issuer) + WELL_KNOWN_SUFFIX


def okta_issuer(api_url: str) -> str:
    """The issuer of the Okta authorization server behind `SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL`.

    The reference manual's forms: `https://<okta-domain>/oauth2/` (the org authorization server, whose
    issuer is the bare domain) and `https://<okta-domain>/oauth2/<auth-server-id>/` (a custom server,
    whose issuer keeps the path). Okta documents both in "Authorization servers" / "Discovery".
    """
    value = normalize_oidc_endpoint(api_url)
    if value.endswith("/oauth2"):
        return value[: -len("/oauth2")]
    return value


def entra_base_url(authority_host: str, tenant: str) -> str:
    """`https://<authority_host>/<tenant>`: every Entra endpoint of one tenant hangs below it."""
    host = authority_host.strip().rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return f"{host}/{tenant.strip().strip('/')}"


def entra_discovery_url(authority_host: str, tenant: str, *, v2: bool) -> str:
    """Tenant-specific discovery: `/<tenant>/.well-known/...` (v1) or `/<tenant>/v2.0/.well-known/...`."""
    base = entra_base_url(authority_host, tenant)
    return f"{base}/v2.0{WELL_KNOWN_SUFFIX}" if v2 else f"{base}{WELL_KNOWN_SUFFIX}"
