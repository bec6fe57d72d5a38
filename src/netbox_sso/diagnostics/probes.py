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
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from netbox_sso.core.endpoints import discovery_url, entra_discovery_url, normalize_oidc_endpoint, okta_issuer
from netbox_sso.core.oidc_checks import is_loopback_host
from netbox_sso.diagnostics import credentials
from netbox_sso.diagnostics.findings import Finding, Severity
from netbox_sso.diagnostics.redirects import PLACEHOLDER_HOST, RedirectURI, redirect_uris
from netbox_sso.diagnostics.settings import Backend, NetBoxSettings
from netbox_sso.providers import entra

DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 1024 * 1024
DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"
#: Clock difference (seconds) worth a warning even when within the leeway: stock social-core allows 1 s
#: (OIDC) and 0 s (Entra), and the Date header itself is only exact to the second.
SKEW_WARNING = 5.0
DISCOVERY_REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
REDIRECT_MISMATCH_MARKERS = ("redirect_uri_mismatch", "AADSTS50011", "invalid_redirect_uri", "redirect uri")
INVALID_CLIENT_MARKERS = ("invalid_client", "unauthorized_client", "AADSTS700016", "client_id")
CA_FIX = (
    "make NetBox trust the provider's CA: put its CA certificate (with the system CAs) in a PEM bundle and set "
    "REQUESTS_CA_BUNDLE=/path/to/bundle.pem in NetBox's environment (run doctor with the same variable or "
    "--ca-bundle). Do not set SOCIAL_AUTH_VERIFY_SSL = False"
)


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


# --- HTTP ---------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    sent_at: float
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Failure(Exception):
    """A request that got no HTTP answer; carries the finding."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.problem)
        self.finding = finding


class Prober:
    """HTTP with verified TLS, a total deadline per request, a size cap and no redirects followed."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, ca_bundle: str | None = None) -> None:
        self.timeout = timeout
        self.verify: bool | str = ca_bundle or True
        self._resolved: dict[str, str | None] = {}

    def resolve(self, host: str) -> str | None:
        """None when the host resolves, else the reason (getaddrinfo has no timeout: run it in a thread)."""
        if host in self._resolved:
            return self._resolved[host]
        outcome: dict[str, str | None] = {}

        def lookup() -> None:
            try:
                socket.getaddrinfo(host, None)
                outcome["error"] = None
            except OSError as error:
                outcome["error"] = str(error) or type(error).__name__

        worker = threading.Thread(target=lookup, daemon=True, name="netbox-sso-doctor-dns")
        worker.start()
        worker.join(self.timeout)
        reason = outcome.get("error", f"no answer within {self.timeout:g} s")
        self._resolved[host] = reason
        return reason

    def request(self, method: str, url: str, *, setting: str, backend: str, what: str, **kwargs: Any) -> Answer:
        host = urlsplit(url).hostname or ""
        reason = self.resolve(host)
        if reason is not None:
            raise Failure(
                Finding(
                    "dns.unresolved",
                    "error",
                    setting,
                    f"{what}: the host {host!r} does not resolve ({reason})",
                    "check the host name in the setting, this machine's DNS servers (/etc/resolv.conf) and, for an "
                    "on-premises provider, the internal DNS zone",
                    backend,
                )
            )
        deadline = time.monotonic() + self.timeout
        sent = time.time()
        headers = {"User-Agent": "netbox-sso-doctor", **(kwargs.pop("headers", None) or {})}
        try:
            with requests.request(
                method,
                url,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=False,
                verify=self.verify,
                headers=headers,
                **kwargs,
            ) as response:
                body = bytearray()
                for chunk in response.iter_content(16384):
                    body.extend(chunk)
                    if len(body) > MAX_BYTES or time.monotonic() > deadline:
                        raise requests.Timeout("too slow or too large")
                return Answer(response.status_code, dict(response.headers), bytes(body), sent, time.time())
        except requests.exceptions.SSLError as error:
            raise Failure(
                Finding(
                    "tls.verify_failed",
                    "error",
                    setting,
                    f"{what}: the TLS certificate of {host!r} is not trusted ({_ssl_reason(error)}); NetBox fails the "
                    "same way (SSL: CERTIFICATE_VERIFY_FAILED)",
                    CA_FIX,
                    backend,
                )
            ) from error
        except requests.Timeout as error:
            raise Failure(
                Finding(
                    "net.timeout",
                    "error",
                    setting,
                    f"{what}: {url} did not answer within {self.timeout:g} s; sign-in hangs, then fails",
                    "check firewall rules for outbound HTTPS to the provider, the proxy settings (HTTPS_PROXY), and "
                    "the provider's status",
                    backend,
                )
            ) from error
        except requests.RequestException as error:
            raise Failure(
                Finding(
                    "net.unreachable",
                    "error",
                    setting,
                    f"{what}: cannot reach {url} ({_connection_reason(error)})",
                    "check that the provider is up, firewall rules allow outbound HTTPS to it, and routes exist for an "
                    "on-premises provider",
                    backend,
                )
            ) from error


def _ssl_reason(error: Exception) -> str:
    text = str(error)
    for marker in ("certificate verify failed:", "hostname mismatch", "self-signed", "SSLError"):
        index = text.find(marker)
        if index >= 0:
            return text[index:].split("(_ssl")[0].split("')")[0].strip(" ')\"")
    return text[:200]


def _connection_reason(error: Exception) -> str:
    text = str(error)
    for marker in (
        "Connection refused",
        "Connection reset",
        "Connection aborted",
        "RemoteDisconnected",
        "Network is unreachable",
        "No route to host",
    ):
        if marker in text:
            return marker
    return type(error).__name__


# --- probes -------------------------------------------------------------------------------------------------


def _f(code: str, severity: Severity, target: Target, problem: str, fix: str = "", setting: str = "") -> Finding:
    return Finding(code, severity, setting or target.setting, problem, fix, target.backend.name)


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
                _f(
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
                _f(
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
                _f(
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
                _f(
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
                    _f(
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
            _f(
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
            _f(
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
            _f(
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
            _f(
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
            _f(
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
            _f(
                "jwks.missing_kid",
                "warning",
                target,
                f"{jwks_uri} has several keys and some have no kid: key rotation cannot be followed",
                "configure the provider to publish a kid for every key",
                setting,
            )
        )
    return findings


def probe_token(
    prober: Prober, settings: NetBoxSettings, target: Target, document: Mapping[str, Any]
) -> tuple[list[Finding], Answer | None, str]:
    """The code exchange the backend makes, with its client credentials and a made-up code.

    Returns the findings, the answer (for the clock) and the credentials probe's state: ok (the provider
    refused only the code), failed (it refused the client, or a setting is missing), inconclusive.
    """
    token_endpoint = document["token_endpoint"]
    auth, findings = credentials.client_auth(settings, target.backend, document)
    redirect_uri = target.redirect_uri or "https://netbox.invalid/"
    if auth is not None:
        request = credentials.token_request(auth, redirect_uri, pkce=settings.plugin_enabled)
    else:  # a setting is missing: still tell whether the endpoint answers like a token endpoint
        request = {
            "data": {"grant_type": "authorization_code", "code": credentials.MADE_UP_CODE, "redirect_uri": redirect_uri}
        }
    try:
        answer = prober.request(
            "POST",
            token_endpoint,
            setting="token_endpoint",
            backend=target.backend.name,
            what="token endpoint",
            **request,
        )
    except Failure as failure:
        return [*findings, failure.finding], None, "skipped"
    if answer.status >= 500:
        return (
            [
                *findings,
                _f(
                    "token.http_error",
                    "error",
                    target,
                    f"the token endpoint {token_endpoint} answers HTTP {answer.status} to a code exchange "
                    "(expected 400/401): code exchange fails ('Failed to fetch user details')",
                    "check the provider's status and any proxy in front of it",
                    "token_endpoint",
                ),
            ],
            answer,
            "skipped",
        )
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not 400 <= answer.status < 500 or not isinstance(body, dict):
        return (
            [
                *findings,
                _f(
                    "token.unexpected",
                    "warning",
                    target,
                    f"the token endpoint {token_endpoint} answered HTTP {answer.status}"
                    + ("" if isinstance(body, dict) else " without a JSON body")
                    + " to a made-up code; an OAuth token endpoint answers 400/401 with a JSON error",
                    "check that token_endpoint in the discovery document is the provider's, not a proxy or login page",
                    "token_endpoint",
                ),
            ],
            answer,
            "inconclusive",
        )
    if auth is None:
        return findings, answer, "failed"
    verdict = credentials.classify(answer.status, answer.body)
    findings.extend(credentials.verdict_findings(verdict, auth, target.backend, token_endpoint))
    state = {"accepted": "ok", "inconclusive": "inconclusive"}.get(verdict.outcome, "failed")
    return findings, answer, state


def clock_skew(answer: Answer) -> float | None:
    """Seconds the IdP's clock is ahead of ours (negative: behind), from its Date header."""
    header = answer.headers.get("Date") or answer.headers.get("date")
    if not header:
        return None
    try:
        server = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None
    # The Date header is truncated to the second; compare with the middle of the exchange.
    return server - (answer.sent_at + answer.received_at) / 2


def probe_clock(target: Target, answers: list[Answer | None], leeway: float) -> list[Finding]:
    skews = [s for s in (clock_skew(a) for a in answers if a is not None) if s is not None]
    if not skews:
        return []
    skew = max(skews, key=abs)
    if abs(skew) <= SKEW_WARNING and abs(skew) <= leeway + 1:
        return []
    direction = "ahead of" if skew > 0 else "behind"
    severity: Severity = "error" if abs(skew) > leeway + 1 else "warning"
    return [
        _f(
            "clock.skew",
            severity,
            target,
            f"the provider's clock is {abs(skew):.0f} s {direction} this machine's (Date header); tokens are "
            f"refused beyond {leeway:g} s of clock leeway (stock social-core allows 1 s, Entra 0 s)",
            "synchronise clocks with NTP (timedatectl set-ntp true / chrony) on NetBox's host; netbox-sso's "
            "PLUGINS_CONFIG['netbox_sso']['clock_leeway'] bounds the tolerance",
            "Date",
        )
    ]


def probe_authorize(prober: Prober, target: Target, authorization_endpoint: str) -> list[Finding]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": target.client_id,
        "redirect_uri": target.redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "state": "netbox-sso-doctor",
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    try:
        answer = prober.request(
            "GET",
            authorization_endpoint,
            setting="authorization_endpoint",
            backend=target.backend.name,
            what="authorization endpoint",
            params=params,
        )
    except Failure as failure:
        return [failure.finding]
    key_setting = f"{target.backend.prefix}KEY"
    if 300 <= answer.status < 400:
        location = answer.headers.get("Location") or answer.headers.get("location") or ""
        if location.startswith(target.redirect_uri):
            error = (parse_qs(urlsplit(location).query).get("error") or [""])[0]
            if error:
                return [
                    _f(
                        "authorize.http_error",
                        "warning",
                        target,
                        f"the provider accepted the redirect URI but answered error={error!r} before sign-in",
                        "check the app registration's allowed grant types and scopes",
                        key_setting,
                    )
                ]
        return []
    if answer.status < 300:
        return []
    text = answer.body.decode("utf-8", "replace")
    lowered = text.lower()
    if any(marker.lower() in lowered for marker in REDIRECT_MISMATCH_MARKERS):
        return [
            _f(
                "redirect.mismatch",
                "error",
                target,
                f"the provider rejects NetBox's redirect URI {target.redirect_uri!r} (HTTP {answer.status}: "
                f"{_excerpt(text, REDIRECT_MISMATCH_MARKERS)})",
                f"register exactly {target.redirect_uri} for client {target.client_id!r} at the provider "
                "(scheme, host, path and trailing slash must match)",
                "redirect_uri",
            )
        ]
    if any(marker.lower() in lowered for marker in INVALID_CLIENT_MARKERS):
        return [
            _f(
                "authorize.invalid_client",
                "error",
                target,
                f"the provider does not know client ID {target.client_id!r} (HTTP {answer.status}: "
                f"{_excerpt(text, INVALID_CLIENT_MARKERS)})",
                f"set {key_setting} to the application (client) ID of the app registration",
                key_setting,
            )
        ]
    return [
        _f(
            "authorize.http_error",
            "warning",
            target,
            f"the authorization endpoint answered HTTP {answer.status} before sign-in: {_excerpt(text, ())}",
            "open the URL in a browser to see the provider's message",
            "authorization_endpoint",
        )
    ]


def _excerpt(text: str, markers: tuple[str, ...]) -> str:
    """A short, tag-free piece of the provider's error page around the first marker."""
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()
    index = next((plain.lower().find(m.lower()) for m in markers if m.lower() in plain.lower()), 0)
    start = max(0, index - 40)
    return plain[start : start + 200]


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
        reports.append(diagnose(settings, target, prober))
    return DoctorResult(reports, uris, findings)
