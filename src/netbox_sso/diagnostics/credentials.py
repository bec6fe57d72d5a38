"""Doctor's client-credentials probe: authenticate at the token endpoint exactly as the backend will, with a
made-up authorization code, and read what the provider answers.

RFC 6749 section 3.2.1 has the token endpoint authenticate the client before it looks at the grant, so:

- `invalid_client` / `unauthorized_client` (Entra's AADSTS7000215 wrong secret, AADSTS7000222 expired
  secret, AADSTS700016 unknown application; Okta's `errorCode: invalid_client`; Keycloak's "Invalid client
  or Invalid client credentials") mean the client ID or secret is wrong: an error naming the setting;
- `invalid_grant` (section 5.2: the code is refused; Entra AADSTS9002313, Okta "The authorization code is
  invalid or has expired", Keycloak "Code not valid") means the credentials were accepted;
- anything else proves neither way and is reported as inconclusive, never as ok.

How the backend authenticates, as social-core does it:
- OpenIdConnectAuth.use_basic_auth (every hardened backend, stock generic OIDC and Okta):
  SOCIAL_AUTH_<BACKEND>_TOKEN_ENDPOINT_AUTH_METHOD when set (HTTP Basic only for `client_secret_basic`,
  any other value sends the secret in the body), else Basic when discovery's
  `token_endpoint_auth_methods_supported` is absent or lists `client_secret_basic`, else the body.
- Stock AzureADOAuth2 (netbox_sso not in PLUGINS): the secret in the body; without a secret, a client
  assertion (CLIENT_ASSERTION, or the federated token file of OAUTH2_FEDERATED_TOKEN_FILE /
  AZURE_FEDERATED_TOKEN_FILE / FEDERATED_TOKEN_FILE), i.e. private_key_jwt-style client authentication.

Values never leave this module as text: findings name settings, never values, and the provider's words
are quoted only with every configured secret cut out.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import Backend, NetBoxSettings

#: The authorization code doctor sends: no provider ever issued it.
MADE_UP_CODE = "netbox-sso-doctor-made-up-code"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATED_TOKEN_ENV = ("OAUTH2_FEDERATED_TOKEN_FILE", "AZURE_FEDERATED_TOKEN_FILE")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_AADSTS = re.compile(r"AADSTS(\d+)")
#: How much of the provider's description a finding quotes.
QUOTED_LENGTH = 300
#: Shorter configured values are not cut out of the provider's text (that would mangle every word).
MIN_REDACTED = 4

Method = Literal["client_secret_basic", "client_secret_post", "client_assertion"]
Outcome = Literal["accepted", "invalid_secret", "expired_secret", "unknown_client", "rejected", "inconclusive"]

#: Entra ID's codes for client authentication failures (learn.microsoft.com, "Microsoft Entra authentication
#: and authorization error codes").
ENTRA_CLIENT_CODES: dict[int, Outcome] = {
    7000215: "invalid_secret",  # Invalid client secret provided (the Secret ID, a typo, another app's secret)
    7000222: "expired_secret",  # The provided client secret keys for app '...' are expired
    700016: "unknown_client",  # Application with identifier '...' was not found in the directory '...'
    7000218: "rejected",  # The request body must contain 'client_assertion' or 'client_secret'
}


def looks_like_guid(value: str) -> bool:
    """An Entra *Secret ID* is a GUID; a secret's *Value* never is (40 characters, often with `~`)."""
    return bool(_GUID.match(value.strip()))


@dataclass(frozen=True)
class ClientAuth:
    """How the backend authenticates at the token endpoint, and with what (values hidden from repr)."""

    method: Method
    client_id: str
    key_setting: str
    #: Where the credential comes from: the SECRET setting, or the client assertion's source.
    secret_setting: str
    #: Why this method: the TOKEN_ENDPOINT_AUTH_METHOD setting, the discovery document, or the backend.
    reason: str
    form: Mapping[str, str] = field(repr=False, default_factory=dict)
    basic: tuple[str, str] | None = field(repr=False, default=None)
    hidden: tuple[str, ...] = field(repr=False, default=())
    secret_is_guid: bool = False
    secret_has_whitespace: bool = False

    def redact(self, text: str) -> str:
        for value in sorted(self.hidden, key=len, reverse=True):
            if len(value) >= MIN_REDACTED:
                text = text.replace(value, "[redacted]")
        return text


def client_auth(
    settings: NetBoxSettings, backend: Backend, discovery: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> tuple[ClientAuth | None, list[Finding]]:
    """The client authentication the backend will send, or None with the finding that prevents it."""
    key_setting, key = settings.backend_setting(backend, "KEY")
    secret_setting, raw_secret = settings.backend_setting(backend, "SECRET")
    client_id = "" if key is None else str(key)
    secret = "" if raw_secret is None else str(raw_secret)
    if not client_id.strip():
        return None, [
            Finding(
                "setting.missing",
                "error",
                key_setting,
                f"{key_setting} is not set: the token request cannot name the client",
                "set it to the application (client) ID",
                backend.name,
            )
        ]
    if backend.kind == "entra" and not settings.plugin_enabled and not secret:
        return _stock_entra_assertion(settings, backend, client_id, key_setting, secret_setting, environ)
    if not secret:
        return None, [
            Finding(
                "setting.missing",
                "error",
                secret_setting,
                f"{secret_setting} is not set: the token request cannot authenticate the client",
                "set it to the client secret (for Entra ID: the secret's Value, not its Secret ID)",
                backend.name,
            )
        ]
    findings: list[Finding] = []
    if backend.kind == "entra" and not settings.plugin_enabled:
        basic, reason = False, "the stock azuread backend (netbox_sso not in PLUGINS)"
    else:
        basic, reason, findings = _oidc_method(settings, backend, discovery)
    shape: dict[str, Any] = {
        "secret_is_guid": looks_like_guid(secret),
        "secret_has_whitespace": secret != secret.strip(),
    }
    if basic:
        return ClientAuth(
            "client_secret_basic",
            client_id,
            key_setting,
            secret_setting,
            reason,
            basic=(client_id, secret),
            hidden=(secret,),
            **shape,
        ), findings
    return ClientAuth(
        "client_secret_post",
        client_id,
        key_setting,
        secret_setting,
        reason,
        form={"client_id": client_id, "client_secret": secret},
        hidden=(secret,),
        **shape,
    ), findings


def _oidc_method(
    settings: NetBoxSettings, backend: Backend, discovery: Mapping[str, Any]
) -> tuple[bool, str, list[Finding]]:
    """OpenIdConnectAuth.use_basic_auth, with a warning when a method is configured the backend cannot do."""
    name, configured = settings.backend_setting(backend, "TOKEN_ENDPOINT_AUTH_METHOD")
    if isinstance(configured, str) and configured:
        findings = []
        if configured not in ("client_secret_basic", "client_secret_post"):
            findings.append(
                Finding(
                    "credentials.auth_method",
                    "warning",
                    name,
                    f"{name} is {configured!r}, but the backend signs no client assertion: it sends the client secret "
                    "in the request body (client_secret_post)",
                    "set it to the method registered at the provider, client_secret_post or client_secret_basic (or "
                    "remove it to follow the discovery document)",
                    backend.name,
                )
            )
        return configured == "client_secret_basic", f"{name} = {configured!r}", findings
    methods = discovery.get("token_endpoint_auth_methods_supported")
    methods = methods if isinstance(methods, list) else []
    basic = not methods or "client_secret_basic" in methods
    return basic, "the discovery document's token_endpoint_auth_methods_supported", []


def _stock_entra_assertion(
    settings: NetBoxSettings,
    backend: Backend,
    client_id: str,
    key_setting: str,
    secret_setting: str,
    environ: Mapping[str, str],
) -> tuple[ClientAuth | None, list[Finding]]:
    """AzureADOAuth2.client_assertion: CLIENT_ASSERTION, else the federated (workload identity) token file."""
    assertion_setting, assertion = settings.backend_setting(backend, "CLIENT_ASSERTION")
    source = assertion_setting
    if not assertion:
        file_setting, file_value = settings.backend_setting(backend, "FEDERATED_TOKEN_FILE")
        env_name = next((name for name in FEDERATED_TOKEN_ENV if environ.get(name)), "")
        path = environ.get(env_name) if env_name else file_value
        source = env_name or file_setting
        try:
            assertion = Path(str(path)).read_text(encoding="utf-8").strip() if path else ""
        except OSError:
            assertion = ""
    if not assertion:
        return None, [
            Finding(
                "setting.missing",
                "error",
                secret_setting,
                f"{secret_setting} is not set and no client assertion is configured: the token request "
                "cannot authenticate the client",
                "set it to the client secret's Value (not its Secret ID), or configure a federated "
                "credential (AZURE_FEDERATED_TOKEN_FILE)",
                backend.name,
            )
        ]
    assertion = str(assertion)
    return ClientAuth(
        "client_assertion",
        client_id,
        key_setting,
        source,
        "the stock azuread backend without a secret",
        form={"client_id": client_id, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
        hidden=(assertion,),
    ), []


def token_request(auth: ClientAuth, redirect_uri: str, *, pkce: bool) -> dict[str, Any]:
    """The keyword arguments of the code exchange the backend would make, with a made-up code."""
    data = {"grant_type": "authorization_code", "code": MADE_UP_CODE, "redirect_uri": redirect_uri, **auth.form}
    if pkce:
        data["code_verifier"] = secrets.token_urlsafe(48)
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    return {"data": data, "auth": auth.basic, "headers": headers}


# --- reading the answer (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the token endpoint's answer says about the credentials."""

    outcome: Outcome
    status: int
    #: The OAuth error (Okta's `errorCode` when it answers in its own format), "" when none.
    error: str = ""
    #: Entra's AADSTS codes (from `error_codes`, else from the description).
    codes: tuple[int, ...] = ()
    #: The first line of the provider's description (Entra appends trace and correlation IDs).
    description: str = ""


def classify(status: int, body: bytes) -> Verdict:
    """Read a token endpoint's answer to a made-up code sent with the configured client credentials."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        return Verdict("inconclusive", status)
    error = document.get("error") or document.get("errorCode") or ""
    error = error if isinstance(error, str) else ""
    description = document.get("error_description") or document.get("errorSummary") or ""
    description = description if isinstance(description, str) else ""
    # Cut to QUOTED_LENGTH only when quoted, after the secrets are cut out (`_said`): a secret the provider
    # echoed and the limit cut in two would no longer match, and its first characters would be shown.
    first_line = description.strip().splitlines()[0][:4096] if description.strip() else ""
    codes = tuple(code for code in document.get("error_codes") or () if isinstance(code, int))
    codes = codes or tuple(int(code) for code in _AADSTS.findall(description))
    verdict = Verdict("inconclusive", status, error, codes, first_line)
    if 200 <= status < 300:
        return verdict  # a token for a code nobody issued: not an OAuth token endpoint we can judge
    for code in codes:
        if code in ENTRA_CLIENT_CODES:
            return Verdict(ENTRA_CLIENT_CODES[code], status, error, codes, first_line)
    if error in ("invalid_client", "unauthorized_client"):
        lowered = description.lower()
        if "errorCode" in document and "client_id" in lowered:
            outcome: Outcome = "unknown_client"  # Okta: "Invalid value for 'client_id' parameter."
        elif "expired" in lowered:
            outcome = "expired_secret"
        else:
            outcome = "rejected"
        return Verdict(outcome, status, error, codes, first_line)
    if error == "invalid_grant":
        return Verdict("accepted", status, error, codes, first_line)
    return verdict


# --- findings ----------------------------------------------------------------------------------------------

SECRET_ID_HINT = (
    "the configured value is shaped like a GUID, which is what Entra ID shows as the Secret ID: copy the secret's "
    "Value, not the Secret ID (App registrations > your app > Certificates & secrets; the Value is shown only "
    "once, so create a new client secret if you no longer have it)"
)


def verdict_findings(verdict: Verdict, auth: ClientAuth, backend: Backend, token_endpoint: str) -> list[Finding]:
    """The finding for a verdict: credentials ok (info), the setting to fix (error), or inconclusive (warning)."""
    said = _said(verdict, auth)
    how = f"sent as {auth.method}, chosen by {auth.reason}"
    if verdict.outcome == "accepted":
        return [
            Finding(
                "credentials.ok",
                "info",
                auth.secret_setting,
                f"credentials ok: the provider accepted client ID {auth.client_id!r} and the credential from "
                f"{auth.secret_setting} ({how}); it refused only doctor's made-up code ({said})",
                "",
                backend.name,
            )
        ]
    if verdict.outcome == "inconclusive":
        return [
            Finding(
                "credentials.inconclusive",
                "warning",
                auth.secret_setting,
                f"the client ID and secret could not be proven: {token_endpoint} answered a made-up code sent "
                f"with them ({how}) with {said}, neither invalid_client nor invalid_grant",
                "sign in once and read NetBox's log for the token request's error; check the app registration "
                "allows the authorization-code grant",
                backend.name,
            )
        ]
    hints = []
    if (
        verdict.outcome in ("invalid_secret", "rejected", "expired_secret")
        and backend.kind == "entra"
        and auth.secret_is_guid
    ):
        hints.append(SECRET_ID_HINT)
    if auth.secret_has_whitespace:
        hints.append(
            f"the value of {auth.secret_setting} has leading or trailing whitespace, which the backend "
            "sends as part of the secret"
        )
    if verdict.outcome == "unknown_client":
        where = " in this tenant" if backend.kind == "entra" else ""
        return [
            Finding(
                "credentials.unknown_client",
                "error",
                auth.key_setting,
                f"the provider does not know client ID {auth.client_id!r}{where}: the token request is "
                f"refused ({said}); every sign-in fails after the provider's login page",
                "; ".join(
                    [
                        f"set {auth.key_setting} to the application (client) ID of the app registration"
                        + (" in the tenant of TENANT_ID" if backend.kind == "entra" else ""),
                        *hints,
                    ]
                ),
                backend.name,
            )
        ]
    if verdict.outcome == "expired_secret":
        return [
            Finding(
                "credentials.expired_secret",
                "error",
                auth.secret_setting,
                f"the client secret of {auth.client_id!r} has expired ({said}); every sign-in fails after "
                "the provider's login page",
                "; ".join(
                    [
                        f"create a new client secret at the provider and set {auth.secret_setting} to its "
                        "value"
                        + (
                            " (the Value, not the Secret ID)"
                            if backend.kind == "entra" and not auth.secret_is_guid
                            else ""
                        ),
                        *hints,
                    ]
                ),
                backend.name,
            )
        ]
    specific = verdict.outcome == "invalid_secret"
    problem = (
        f"the provider refused the client secret of {auth.client_id!r} ({said}; {how})"
        if specific
        else f"the provider refused client ID {auth.client_id!r} with the configured secret ({said}; {how})"
    )
    fix = (
        f"set {auth.secret_setting} to the client secret of the app registration"
        if specific
        else f"set {auth.secret_setting} to the client secret of the app registration and check {auth.key_setting} "
        "is its client ID"
    )
    if backend.kind == "entra" and not auth.secret_is_guid:
        fix += " (the secret's Value, not its Secret ID)"
    return [
        Finding(
            "credentials.invalid_secret" if specific else "credentials.rejected",
            "error",
            auth.secret_setting,
            problem + "; every sign-in fails after the provider's login page",
            "; ".join([fix, *hints]),
            backend.name,
        )
    ]


def _said(verdict: Verdict, auth: ClientAuth) -> str:
    """What the provider said, e.g. `HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided.`"""
    words = f"HTTP {verdict.status}" + (
        f" {auth.redact(verdict.error)}" if verdict.error else " without an OAuth error"
    )
    if verdict.description:
        words += f": {auth.redact(verdict.description)[:QUOTED_LENGTH].rstrip('.')}"
    return words
