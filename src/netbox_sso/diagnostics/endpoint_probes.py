"""Doctor's probes of the endpoints a sign-in uses: the token endpoint with the client's credentials
(RFC 6749 section 5.2, netbox_sso.diagnostics.credentials), the clock from the provider's Date header
(RFC 9110 section 6.6.1) and the redirect URI at the authorization endpoint."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netbox_sso.diagnostics import credentials
from netbox_sso.diagnostics.findings import Finding, Severity
from netbox_sso.diagnostics.prober import Answer, Failure, Prober
from netbox_sso.diagnostics.settings import NetBoxSettings
from netbox_sso.diagnostics.targets import Target, target_finding

#: Clock difference (seconds) worth a warning even when within the leeway: stock social-core allows 1 s
#: (OIDC) and 0 s (Entra), and the Date header itself is only exact to the second.
SKEW_WARNING = 5.0
REDIRECT_MISMATCH_MARKERS = ("redirect_uri_mismatch", "AADSTS50011", "invalid_redirect_uri", "redirect uri")
INVALID_CLIENT_MARKERS = ("invalid_client", "unauthorized_client", "AADSTS700016", "client_id")


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
                target_finding(
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
                target_finding(
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
        target_finding(
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
                    target_finding(
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
            target_finding(
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
            target_finding(
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
        target_finding(
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
