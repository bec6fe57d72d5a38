"""Doctor's probes of what the provider publishes: the discovery document (OIDC Discovery 1.0 sections 3,
4.3) and the JWK Set (RFC 7517 section 5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from netbox_sso.core.oidc_checks import is_loopback_host
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.prober import Answer, Failure, Prober
from netbox_sso.diagnostics.targets import Target, target_finding

DISCOVERY_REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def probe_discovery(
    prober: Prober, target: Target, allow_http: bool
) -> tuple[dict[str, Any] | None, list[Finding], Answer | None]:
    what = "discovery"
    try:
        answer = prober.request(
            "GET", target.discovery_url, setting=target.setting, backend=target.backend.name, what=what
        )
    except Failure as failure:
        return None, [failure.finding], None
    if answer.status != 200:
        return (
            None,
            [
                target_finding(
                    "discovery.http_error",
                    "error",
                    target,
                    f"{target.discovery_url} answered HTTP {answer.status}; NetBox cannot begin sign-in "
                    "(stock NetBox answers HTTP 500)",
                    "check the endpoint setting: it must be the issuer (curl the discovery URL from the "
                    "NetBox host: it must return JSON)",
                )
            ],
            answer,
        )
    try:
        document = answer.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return (
            None,
            [
                target_finding(
                    "discovery.malformed",
                    "error",
                    target,
                    f"{target.discovery_url} did not return a JSON object",
                    "check that the URL is the provider's discovery document, not a login or proxy page",
                )
            ],
            answer,
        )
    findings = []
    for name in DISCOVERY_REQUIRED:
        if not isinstance(document.get(name), str) or not document.get(name):
            findings.append(
                target_finding(
                    "discovery.missing_field",
                    "error",
                    target,
                    f"the discovery document has no {name} (OIDC Discovery 1.0 section 3)",
                    "fix the provider's configuration or point the setting at the right issuer",
                )
            )
    issuer = document.get("issuer")
    if isinstance(issuer, str) and issuer:
        problem = target.check_issuer(issuer)
        if problem:
            findings.append(
                target_finding(
                    "discovery.issuer_mismatch",
                    "error",
                    target,
                    f"{problem}; netbox-sso refuses this provider (OIDC Discovery 4.3)",
                    target.issuer_fix,
                )
            )
    for name in (*DISCOVERY_REQUIRED, "userinfo_endpoint"):
        value = document.get(name)
        if isinstance(value, str) and value.startswith("http://"):
            host = urlsplit(value).hostname or ""
            if not is_loopback_host(host) and not allow_http:
                findings.append(
                    target_finding(
                        "discovery.insecure_endpoint",
                        "error",
                        target,
                        f"the discovery document's {name} {value!r} uses plain http",
                        "configure the provider's public URL with https",
                    )
                )
    return (document if not findings else None), findings, answer


def probe_jwks(prober: Prober, target: Target, jwks_uri: str) -> list[Finding]:
    try:
        answer = prober.request("GET", jwks_uri, setting=target.setting, backend=target.backend.name, what="JWKS")
    except Failure as failure:
        return [failure.finding]
    setting = "jwks_uri"
    if answer.status != 200:
        return [
            target_finding(
                "jwks.http_error",
                "error",
                target,
                f"{jwks_uri} answered HTTP {answer.status}: no ID token can be verified",
                "check the provider's signing-key configuration",
                setting,
            )
        ]
    try:
        document = answer.json()
    except ValueError:
        return [
            target_finding(
                "jwks.malformed",
                "error",
                target,
                f"{jwks_uri} is not valid JSON: no ID token can be verified",
                "check the provider (or a proxy in between) returns the JWK Set unchanged",
                setting,
            )
        ]
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        return [
            target_finding(
                "jwks.no_keys_field",
                "error",
                target,
                f"{jwks_uri} has no 'keys' array (RFC 7517 section 5); stock social-core fails with HTTP 500",
                "check the jwks_uri in the discovery document points at a JWK Set",
                setting,
            )
        ]
    signing = [
        k for k in keys if isinstance(k, dict) and isinstance(k.get("kty"), str) and k.get("use", "sig") == "sig"
    ]
    if not signing:
        return [
            target_finding(
                "jwks.empty",
                "error",
                target,
                f"{jwks_uri} holds no signing key: no ID token can be verified",
                "check the provider's signing keys (an active key must be published)",
                setting,
            )
        ]
    findings = []
    if not any(k.get("kty") == "RSA" and k.get("alg", "RS256") == "RS256" for k in signing):
        findings.append(
            target_finding(
                "jwks.no_rs256",
                "error",
                target,
                f"{jwks_uri} has no RSA key for RS256, the algorithm NetBox accepts by default",
                f"configure the provider to sign ID tokens with RS256, or set "
                f"{target.backend.prefix}JWT_ALGORITHMS to the algorithm it uses",
                setting,
            )
        )
    if len(signing) > 1 and any(not k.get("kid") for k in signing):
        findings.append(
            target_finding(
                "jwks.missing_kid",
                "warning",
                target,
                f"{jwks_uri} has several keys and some have no kid: key rotation cannot be followed",
                "configure the provider to publish a kid for every key",
                setting,
            )
        )
    return findings
