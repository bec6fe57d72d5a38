"""Rules for tokens that arrive after sign-in: refreshed ID tokens and back-channel logout tokens.

Pure functions over decoded claims (no Django, no network); signatures are verified by the backend
before these run. Errors are `netbox_sso.core.oidc_checks` types, so they carry a code and subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netbox_sso.core import oidc_checks as checks

#: OIDC Back-Channel Logout 1.0 section 2.4: the event a logout token must carry.
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Section 2.4: "Use of explicit typing ... logout+jwt"; plain JWT (or none) is still common.
LOGOUT_TOKEN_TYPES = frozenset({"logout+jwt", "application/logout+jwt", "jwt"})


def validate_logout_token_header(header: Mapping[str, Any]) -> None:
    """Explicit typing (section 2.4) separates logout tokens from ID and access tokens when it is used."""
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in LOGOUT_TOKEN_TYPES):
        raise checks.InvalidClaimError("typ", f"{typ!r} is not a logout token type")


def validate_logout_token_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: float,
    max_age: float,
    max_claim_length: int,
) -> None:
    """OIDC Back-Channel Logout 1.0 section 2.6 ("Logout Token Validation"), after the signature.

    "Validate the iss, aud, iat, and exp Claims in the same way they are validated in ID Tokens";
    "Verify that the Logout Token contains a sub Claim, a sid Claim, or both"; "Verify that the Logout
    Token contains an events Claim whose value is JSON object containing the member name
    http://schemas.openid.net/event/backchannel-logout"; "Verify that the Logout Token does not contain
    a nonce Claim". jti is required (2.4) so replays can be refused; the caller keeps seen jti values.
    A missing exp is tolerated (early drafts had none): iat bounds the token's age instead.
    """
    for name in ("iss", "aud", "iat", "jti"):
        if claims.get(name) in (None, ""):
            raise checks.MissingClaimError(name)
    checks.validate_iss(claims, issuer)
    checks.validate_aud(claims, client_id)
    if "exp" in claims:
        checks.validate_exp(claims, now, leeway)
    checks.validate_nbf(claims, now, leeway)
    checks.validate_iat(claims, now, leeway, max_age)
    if not isinstance(claims["jti"], str):
        raise checks.InvalidClaimError("jti", "not a string")
    events = claims.get("events")
    if not isinstance(events, Mapping) or BACKCHANNEL_EVENT not in events:
        raise checks.MissingClaimError("events", f"no {BACKCHANNEL_EVENT} event")
    if not isinstance(events[BACKCHANNEL_EVENT], Mapping):
        raise checks.InvalidClaimError("events", "the back-channel logout event is not a JSON object")
    if "nonce" in claims:
        raise checks.InvalidClaimError("nonce", "a logout token must not contain a nonce (is this an ID token?)")
    if claims.get("sub") in (None, "") and claims.get("sid") in (None, ""):
        raise checks.MissingClaimError("sub", "a logout token needs sub, sid or both")
    if claims.get("sub") not in (None, ""):
        checks.validate_sub(claims)
    if claims.get("sid") not in (None, "") and not isinstance(claims["sid"], str):
        raise checks.InvalidClaimError("sid", "not a string")
    checks.validate_claim_lengths(claims, max_claim_length)


def validate_refreshed_id_token_claims(
    claims: Mapping[str, Any],
    previous: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: float,
    max_age: float,
    max_claim_length: int,
) -> None:
    """OIDC Core 12.2: an ID token from a refresh must be about the same authentication.

    "its iss Claim Value MUST be the same as in the ID Token issued when the original authentication
    occurred; its sub Claim Value MUST be the same ...; its iat Claim MUST represent the time that the new
    ID Token is issued; its aud Claim Value MUST be the same ...; if the ID Token contains an auth_time
    Claim, its value MUST represent the time of the original authentication ...; it SHOULD NOT have a nonce
    Claim, but if it does, its value MUST be the same as in the ID Token issued at the time of the original
    authentication".
    """
    checks.validate_required_claims(claims)
    checks.validate_iss(claims, issuer)
    if claims.get("iss") != previous.get("iss"):
        raise checks.InvalidClaimError("iss", "differs from the ID token of the sign-in")
    if claims.get("sub") != previous.get("sub"):
        raise checks.InvalidClaimError("sub", "differs from the ID token of the sign-in")
    checks.validate_aud(claims, client_id)
    checks.validate_azp(claims, client_id)
    checks.validate_exp(claims, now, leeway)
    checks.validate_nbf(claims, now, leeway)
    checks.validate_iat(claims, now, leeway, max_age)
    if "auth_time" in claims and "auth_time" in previous and claims["auth_time"] != previous["auth_time"]:
        raise checks.InvalidClaimError("auth_time", "differs from the time of the original authentication")
    if "nonce" in claims and claims["nonce"] != previous.get("nonce"):
        raise checks.InvalidClaimError("nonce", "differs from the ID token of the sign-in")
    checks.validate_sub(claims)
    checks.validate_claim_lengths(claims, max_claim_length)


def access_token_expiry(token_response: Mapping[str, Any], now: float) -> float | None:
    """When the access token expires (RFC 6749 5.1 expires_in; Entra v1 sends it as a string)."""
    value = token_response.get("expires_in")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return now + seconds if seconds > 0 else None


class RefreshRefused(checks.OIDCCheckError):
    """The provider answered the refresh with a 4xx (invalid_grant: revoked, expired, user disabled)."""

    code = "refresh_refused"
    user_text = "the identity provider no longer accepts this session"
