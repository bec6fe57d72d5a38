"""The live probes of `netbox-sso doctor`, one backend at a time, each bounded by a total deadline.

For each enabled backend netbox-sso hardens, in the order a login needs them:

1. DNS: the discovery host resolves.
2. Discovery (OIDC Discovery 1.0 sections 3, 4.3): fetched over verified TLS, a JSON object with issuer,
   authorization_endpoint, token_endpoint and jwks_uri, the issuer the backend will expect, https
   endpoints (loopback excepted).
3. JWKS (RFC 7517 section 5): parseable, a `keys` array with at least one RSA signing key, every key with
   a kid when there are several.
4. Token endpoint (RFC 6749 section 5.2): the code exchange the backend makes, with its client ID and
   secret (the same client authentication method) and a made-up code, answers 400/401 with a JSON error,
   quickly (a timeout or 5xx here is what the reference calls "token endpoint not reachable").
   Credentials (netbox_sso.diagnostics.credentials): invalid_client / unauthorized_client (Entra's
   AADSTS7000215, AADSTS7000222, AADSTS700016) name the setting to fix; invalid_grant proves the client ID
   and secret were accepted ("credentials ok"); any other answer is inconclusive, never ok.
5. Clock: the IdP's Date header (RFC 9110 section 6.6.1) against this machine's clock.
6. Redirect URI: the authorization endpoint, asked with NetBox's redirect URI without following
   redirects; providers that reject an unregistered URI before sign-in say so here (redirect_uri_mismatch,
   Entra's AADSTS50011).

TLS failures always point to trusting the provider's CA (REQUESTS_CA_BUNDLE), never to disabling
verification.

Where each part lives: the target of a backend (`targets`), the HTTP prober (`prober`), discovery and JWKS
(`discovery_probes`), token endpoint, clock and redirect URI (`endpoint_probes`); this module runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netbox_sso.diagnostics.discovery_probes import probe_discovery, probe_jwks
from netbox_sso.diagnostics.endpoint_probes import clock_skew, probe_authorize, probe_clock, probe_token
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.prober import DEFAULT_TIMEOUT, Answer, Failure, Prober
from netbox_sso.diagnostics.redirects import PLACEHOLDER_HOST, RedirectURI, redirect_uris
from netbox_sso.diagnostics.settings import NetBoxSettings
from netbox_sso.diagnostics.targets import Target, target_for

# The probes' parts, importable from here as before the split (the CLI, the status page, the tests).
__all__ = [
    "DEFAULT_TIMEOUT",
    "Answer",
    "BackendReport",
    "DoctorResult",
    "Failure",
    "Prober",
    "Target",
    "clock_skew",
    "diagnose",
    "probe_authorize",
    "probe_clock",
    "probe_discovery",
    "probe_jwks",
    "probe_token",
    "run_doctor",
    "target_for",
]


@dataclass
class BackendReport:
    backend: str
    discovery_url: str = ""
    redirect_uri: str = ""
    #: probe name -> "ok" | "failed" | "skipped"
    probes: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "discovery_url": self.discovery_url,
            "redirect_uri": self.redirect_uri,
            "probes": self.probes,
        }


def diagnose(settings: NetBoxSettings, target: Target, prober: Prober) -> BackendReport:
    """Every probe of one backend; later probes are skipped when the discovery document is unusable."""
    report = BackendReport(target.backend.name, target.discovery_url, target.redirect_uri)
    plugin = settings.plugin_config
    allow_http = bool(plugin.get("allow_insecure_http"))
    leeway = float(plugin.get("clock_leeway", 60)) if settings.plugin_enabled else 1.0
    document, findings, discovery_answer = probe_discovery(prober, target, allow_http)
    report.findings.extend(findings)
    report.probes["discovery"] = "ok" if document else "failed"
    if document is None:
        for name in ("jwks", "token", "credentials", "clock", "redirect_uri"):
            report.probes[name] = "skipped"
        report.findings.extend(probe_clock(target, [discovery_answer], leeway))
        return report
    jwks = probe_jwks(prober, target, document["jwks_uri"])
    report.findings.extend(jwks)
    report.probes["jwks"] = "failed" if any(f.severity == "error" for f in jwks) else "ok"
    token, token_answer, credentials_state = probe_token(prober, settings, target, document)
    report.findings.extend(token)
    endpoint_failed = any(f.code.startswith(("token.", "net.", "dns.", "tls.")) for f in token)
    report.probes["token"] = "failed" if endpoint_failed else "ok"
    report.probes["credentials"] = credentials_state
    clock = probe_clock(target, [token_answer, discovery_answer], leeway)
    report.findings.extend(clock)
    report.probes["clock"] = "failed" if clock else "ok"
    if not target.redirect_uri or PLACEHOLDER_HOST in target.redirect_uri or not target.client_id:
        report.probes["redirect_uri"] = "skipped"
    else:
        authorize = probe_authorize(prober, target, document["authorization_endpoint"])
        report.findings.extend(authorize)
        report.probes["redirect_uri"] = "failed" if authorize else "ok"
    return report


@dataclass
class DoctorResult:
    reports: list[BackendReport]
    redirect_uris: list[RedirectURI]
    #: Findings not tied to one probe (redirect URI construction, settings missing, nothing to probe).
    findings: list[Finding]

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for report in self.reports for f in report.findings)]


def run_doctor(
    settings: NetBoxSettings,
    *,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ca_bundle: str | None = None,
) -> DoctorResult:
    """Probe every enabled backend netbox-sso hardens; other backends are listed with their redirect URI only."""
    backends = settings.sso_backends()
    uris, findings = redirect_uris(settings, [backend.name for backend in backends], base_url)
    by_name = {uri.backend: uri.uri for uri in uris}
    findings.append(
        Finding(
            "redirect.uris",
            "info",
            "redirect_uri",
            "register these redirect URIs at the provider, exactly: " + ", ".join(u.uri for u in uris)
            if uris
            else "no SSO backend is enabled: no redirect URI",
            "",
        )
    )
    if not backends:
        findings.append(
            Finding(
                "backend.none",
                "error",
                "REMOTE_AUTH_BACKEND",
                "no single sign-on backend is enabled: nothing to probe",
                "set REMOTE_AUTH_BACKEND (run `netbox-sso check` for details)",
            )
        )
    prober = Prober(timeout=timeout, ca_bundle=ca_bundle)
    reports = []
    for backend in backends:
        target = target_for(settings, backend)
        if isinstance(target, Finding):
            findings.append(target)
            continue
        if target is None:
            reports.append(
                BackendReport(backend.name, redirect_uri=by_name[backend.name], probes={"discovery": "skipped"})
            )
            continue
        target.redirect_uri = by_name[backend.name]
        reports.append(diagnose(settings, target, prober.for_backend(settings, backend)))
    return DoctorResult(reports, uris, findings)
