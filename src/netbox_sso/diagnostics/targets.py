"""What doctor probes for one backend, derived from the settings exactly as the backend derives them: the
discovery URL, the client ID, the issuer the backend will expect, the setting findings point at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netbox_sso.core.endpoints import discovery_url, entra_discovery_url, normalize_oidc_endpoint, okta_issuer
from netbox_sso.diagnostics.findings import Finding, Severity
from netbox_sso.diagnostics.settings import Backend, NetBoxSettings
from netbox_sso.providers import entra

DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"


@dataclass
class Target:
    """What one backend will talk to, derived from the settings exactly as the backend does."""

    backend: Backend
    #: The setting the endpoint comes from (where findings point).
    setting: str
    discovery_url: str
    client_id: str
    #: Returns None when the discovery issuer is the one the backend expects, else the problem.
    check_issuer: Callable[[str], str | None]
    issuer_fix: str
    redirect_uri: str = ""


def target_finding(
    code: str, severity: Severity, target: Target, problem: str, fix: str = "", setting: str = ""
) -> Finding:
    """A probe's finding about this target (pointing at the target's setting unless told otherwise)."""
    return Finding(code, severity, setting or target.setting, problem, fix, target.backend.name)


def _setting(settings: NetBoxSettings, backend: Backend, suffix: str) -> tuple[str, str]:
    name, value = settings.backend_setting(backend, suffix)
    return name, str(value).strip() if value not in (None, "") else ""


def target_for(settings: NetBoxSettings, backend: Backend) -> Target | Finding | None:
    """The live target of a backend, a finding when a setting it needs is missing, None when not probed."""
    _, client_id = _setting(settings, backend, "KEY")
    issuer_name, configured_issuer = _setting(settings, backend, "ID_TOKEN_ISSUER")
    if backend.kind == "generic":
        name, endpoint = _setting(settings, backend, "OIDC_ENDPOINT")
        if not endpoint:
            return Finding(
                "setting.missing", "error", name, f"{name} is not set", "set it to the issuer URL", backend.name
            )
        expected = configured_issuer or normalize_oidc_endpoint(endpoint)
    elif backend.kind == "okta":
        name, api_url = _setting(settings, backend, "API_URL")
        if not api_url:
            return Finding(
                "setting.missing",
                "error",
                name,
                f"{name} is not set",
                "set it to https://<okta-domain>/oauth2/",
                backend.name,
            )
        expected = configured_issuer or okta_issuer(api_url)
    elif backend.kind == "entra":
        name, host = _setting(settings, backend, "AUTHORITY_HOST")
        _, tenant = _setting(settings, backend, "TENANT_ID")
        tenant = tenant or "common"
        url = entra_discovery_url(host or DEFAULT_AUTHORITY_HOST, tenant, v2=bool(backend.spec and backend.spec.v2))
        if configured_issuer:
            return Target(backend, issuer_name, url, client_id, _exact(configured_issuer), _issuer_fix(issuer_name))
        return Target(
            backend,
            f"{backend.prefix}TENANT_ID",
            url,
            client_id,
            _entra_issuer(tenant),
            f"set {backend.prefix}TENANT_ID to your directory (tenant) ID",
        )
    else:
        return None
    verify = settings.plugin_config.get("verify_discovery_issuer", True)
    check = _exact(expected) if verify is not False else (lambda issuer: None)
    return Target(backend, name, discovery_url(expected), client_id, check, _issuer_fix(issuer_name))


def _issuer_fix(issuer_name: str) -> str:
    return (
        f"point the setting at the issuer the provider publishes, or set {issuer_name} to the discovery "
        "document's issuer when the provider serves discovery elsewhere"
    )


def _exact(expected: str) -> Callable[[str], str | None]:
    def check(issuer: str) -> str | None:
        return None if issuer == expected else f"the discovery issuer {issuer!r} is not the configured {expected!r}"

    return check


def _entra_issuer(tenant: str) -> Callable[[str], str | None]:
    """As netbox_sso.backends.entra.EntraID.discovery_issuer: the tenant's discovery names that tenant."""

    def check(issuer: str) -> str | None:
        named = entra.tenant_of_issuer(issuer)
        if named is None:
            return f"{issuer!r} is not a Microsoft Entra issuer"
        if entra.is_multi_tenant(tenant):
            if named == entra.TENANT_TEMPLATE:
                return None
            return f"multi-tenant discovery names {named!r}, not {{tenantid}}"
        guid = [len(part) for part in tenant.split("-")] == [8, 4, 4, 4, 12]
        if named == entra.TENANT_TEMPLATE or (guid and named.lower() != tenant.lower()):
            return f"{issuer!r} is not tenant {tenant}'s issuer"
        return None

    return check
