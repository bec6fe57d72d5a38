"""Findings: one problem each, with the setting it concerns, what is wrong and how to fix it.

Every finding carries a stable code from `CODES`, so scripts (`--json`) and the Troubleshooting table in
`netbox_sso.diagnostics.symptoms` can rely on it. Exit status: 0 clean (info only), 1 warnings, 2 errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
EXIT_CLEAN, EXIT_WARNINGS, EXIT_ERRORS = 0, 1, 2

#: Every finding code -> what it means (one line). `Finding` refuses codes not listed here.
CODES: dict[str, str] = {
    # loading the configuration
    "config.not_found": "the configuration file does not exist",
    "config.unloadable": "executing the configuration file failed",
    "config.invalid_type": "a setting has the wrong type",
    "config.placeholder": "a value is still the manual's <placeholder>",
    # backends
    "backend.none": "no single sign-on backend is enabled",
    "backend.unknown": "REMOTE_AUTH_BACKEND names a class that does not exist",
    "backend.not_hardened": "a social-core backend netbox-sso does not harden",
    "plugin.not_enabled": "netbox_sso is not in PLUGINS, so nothing of it applies",
    "setting.missing": "a setting the backend needs is not set",
    "setting.wrong_backend": "a SOCIAL_AUTH_* setting names a backend that is not enabled",
    "setting.unknown": "a SOCIAL_AUTH_<BACKEND>_* setting no code reads (misspelled?)",
    # provider-specific forms
    "entra.tenant_ignored_by_stock": "TENANT_ID is ignored by stock azuread-oauth2",
    "entra.multi_tenant": "TENANT_ID is common/organizations without an allow-list",
    "oidc.endpoint_form": "the OIDC endpoint is not in the issuer form",
    "oidc.endpoint_invalid": "the OIDC endpoint is not an https URL",
    "okta.api_url_form": "the Okta API_URL does not end /oauth2/ or /oauth2/<server-id>/",
    "okta.groups_scope": "Okta groups are mapped but the groups scope is not requested",
    "url.insecure_http": "an identity-provider URL uses plain http off loopback",
    "tls.verify_disabled": "TLS certificate verification is turned off",
    "setting.weakening": "a social-core setting weakens sign-in (ID_KEY, PKCE plain or off, SANITIZE_REDIRECTS off)",
    # pipeline
    "pipeline.missing_step": "SOCIAL_AUTH_PIPELINE lacks a step sign-in needs",
    "pipeline.duplicate_step": "SOCIAL_AUTH_PIPELINE lists a step twice",
    "pipeline.order": "SOCIAL_AUTH_PIPELINE lists steps out of order",
    "pipeline.unknown_step": "SOCIAL_AUTH_PIPELINE names a step that does not exist",
    "pipeline.associate_by_email": "associate_by_email links accounts by email address",
    "pipeline.reference_step": "the reference's proprietary Entra step is provided by netbox-sso",
    # mapping
    "mapping.invalid": "the group-mapping rules are invalid",
    "plugin.invalid_setting": "a PLUGINS_CONFIG['netbox_sso'] setting has an invalid value",
    "mapping.warning": "the group-mapping rules are valid but probably not what was meant",
    "mapping.is_staff": "is_staff is mapped, but NetBox >= 4.5 has no staff flag",
    "mapping.entra_group_names": "Entra ID rules use group names where Entra sends object IDs",
    "mapping.backend_not_enabled": "mapping rules for a backend that is not enabled",
    "mapping.absent": "SSO users get no groups and no permissions",
    "groups.missing": "mapped NetBox groups do not exist",
    "groups.unchecked": "the database could not be read to check mapped groups",
    # directory reconciliation
    "reconcile.unknown_backend": "a reconcile entry names no sign-in backend of this NetBox",
    "reconcile.push_provider": "a reconcile entry names a provider that pushes SCIM (Entra ID, Okta)",
    # sessions and secrets
    "session.cookie_age": "SESSION_COOKIE_AGE / LOGIN_TIMEOUT is extreme",
    "secret.cleartext": "a secret is written in the file in clear",
    # redirect URIs
    "redirect.uris": "the redirect URIs to register at the identity provider",
    "redirect.no_base_url": "the public URL of NetBox is unknown",
    "redirect.proxy_https": "behind a TLS proxy NetBox may send an http:// redirect URI",
    "redirect.insecure": "the redirect URI uses plain http",
    "redirect.base_path": "the public URL's path differs from BASE_PATH",
    "redirect.mismatch": "the identity provider does not accept NetBox's redirect URI",
    # live probes (doctor)
    "dns.unresolved": "the identity provider's host name does not resolve",
    "tls.verify_failed": "the identity provider's TLS certificate is not trusted",
    "net.unreachable": "the identity provider cannot be reached",
    "net.timeout": "the identity provider did not answer in time",
    "discovery.http_error": "the discovery document answered with an HTTP error",
    "discovery.malformed": "the discovery document is not a JSON object",
    "discovery.missing_field": "the discovery document lacks a required field",
    "discovery.issuer_mismatch": "the discovery issuer is not the configured issuer",
    "discovery.insecure_endpoint": "the discovery document names a plain-http endpoint",
    "jwks.http_error": "the JWKS answered with an HTTP error",
    "jwks.malformed": "the JWKS is not valid JSON",
    "jwks.no_keys_field": "the JWKS has no 'keys' array",
    "jwks.empty": "the JWKS has no signing key",
    "jwks.no_rs256": "the JWKS has no RSA signing key",
    "jwks.missing_kid": "a JWKS key has no kid",
    "token.http_error": "the token endpoint answers with a server error",
    "token.unexpected": "the token endpoint does not answer like an OAuth token endpoint",
    "credentials.ok": "the provider accepted the client ID and secret (it refused only a made-up code)",
    "credentials.invalid_secret": "the provider refuses the client secret",
    "credentials.expired_secret": "the client secret has expired",
    "credentials.unknown_client": "the provider does not know the client ID at its token endpoint",
    "credentials.rejected": "the provider refuses the client ID and secret",
    "credentials.inconclusive": "the token endpoint's answer proves neither way whether the credentials work",
    "credentials.auth_method": "TOKEN_ENDPOINT_AUTH_METHOD names a method the backend cannot use",
    "clock.skew": "the identity provider's clock differs from this machine's",
    "authorize.invalid_client": "the identity provider does not know the client ID",
    "authorize.http_error": "the authorization endpoint answered with an error",
}


@dataclass(frozen=True)
class Finding:
    """One problem: where (setting), what (problem), how to fix it (fix), and how bad (severity)."""

    code: str
    severity: Severity
    setting: str
    problem: str
    fix: str = ""
    backend: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered finding code {self.code!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exit_code(findings: Iterable[Finding]) -> int:
    """2 if any error, 1 if any warning, else 0."""
    severities = {finding.severity for finding in findings}
    if "error" in severities:
        return EXIT_ERRORS
    return EXIT_WARNINGS if "warning" in severities else EXIT_CLEAN


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    return {severity: sum(1 for f in findings if f.severity == severity) for severity in SEVERITIES}


def sort_key(finding: Finding) -> tuple[int, str]:
    return SEVERITIES.index(finding.severity), finding.backend


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_findings(console: Console, findings: Sequence[Finding]) -> None:
    """Errors first; each finding as severity, code, setting, then the problem and the fix, unwrapped."""
    for finding in sorted(findings, key=sort_key):
        label = f"[{_STYLE[finding.severity]}]{finding.severity.upper():7}[/]"
        where = f" [bold]{escape(finding.setting)}[/]" if finding.setting else ""
        console.print(f"{label} [dim]{finding.code}[/]{where}", soft_wrap=True)
        console.print(f"        {escape(finding.problem)}", soft_wrap=True)
        if finding.fix:
            console.print(f"        [green]fix:[/] {escape(finding.fix)}", soft_wrap=True)
    counts = summary(findings)
    console.print(
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)", soft_wrap=True
    )
