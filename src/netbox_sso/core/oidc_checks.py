"""Validation rules for what an OpenID provider sends us, each named after the rule it enforces.

Pure functions over plain data (decoded JSON, claim dicts, URLs, times): no Django, no network, no
social-core. The backends call them in order; each raises a typed error naming the claim, discovery
field or parameter it rejects, so one place (the middleware) turns every failure into a message for
the user and one structured audit line. Signature verification itself is PyJWT's; the rules here are
the ones PyJWT does not apply, or applies with settings we do not want (1 s leeway, optional iat).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from netbox_sso.core.oidc_errors import (
    AuthorizationResponseError,
    ExpiredTokenError,
    ForeignTenantError,
    InsecureEndpointError,
    InvalidClaimError,
    InvalidDiscoveryError,
    InvalidJWKSError,
    InvalidSignatureError,
    MalformedResponseError,
    MissingClaimError,
    OIDCCheckError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ResponseTooLargeError,
)

#: The validators, and the errors they raise (defined in core.oidc_errors, re-exported here).
__all__ = [
    "DEFAULT_ALGORITHMS",
    "FORBIDDEN_ALGORITHMS",
    "MAX_SUB_LENGTH",
    "AuthorizationResponseError",
    "ExpiredTokenError",
    "ForeignTenantError",
    "InsecureEndpointError",
    "InvalidClaimError",
    "InvalidDiscoveryError",
    "InvalidJWKSError",
    "InvalidSignatureError",
    "MalformedResponseError",
    "MissingClaimError",
    "OIDCCheckError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ResponseTooLargeError",
    "claim_is_true",
    "email_is_verified",
    "is_loopback_host",
    "parse_json_object",
    "validate_alg",
    "validate_aud",
    "validate_azp",
    "validate_claim_lengths",
    "validate_discovery",
    "validate_exp",
    "validate_https",
    "validate_iat",
    "validate_id_token_claims",
    "validate_iss",
    "validate_iss_parameter",
    "validate_jwks",
    "validate_nbf",
    "validate_nonce",
    "validate_required_claims",
    "validate_response_size",
    "validate_sub",
    "validate_tenant",
    "validate_userinfo_sub",
]

#: OIDC Core section 2: "sub ... MUST NOT exceed 255 ASCII characters in length".
MAX_SUB_LENGTH = 255
#: Signature algorithms we accept unless configured otherwise (RFC 8725 section 3.1: pin the algorithms).
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256",)
#: Algorithms that must never verify an ID token, whatever is configured: "none" is unsigned, HMAC would
#: be keyed with the client secret or, in the confusion attack, the provider's public key.
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})


# --------------------------------------------------------------------------------------------------
# Transport and discovery
# --------------------------------------------------------------------------------------------------
def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback IP literals (where plain http cannot be intercepted remotely)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_https(url: str, subject: str, *, allow_http: bool = False) -> None:
    """Every endpoint we talk to must use TLS, except on loopback.

    OIDC Core 1.0 section 3.1.2.1: "Communication with the Authorization Endpoint MUST utilize TLS";
    section 3.1.3: "Communication with the Token Endpoint MUST utilize TLS"; OIDC Discovery 1.0
    section 3: the issuer "is a case-sensitive URL using the https scheme". `allow_http` is the explicit,
    logged opt-in for a provider that is not on loopback.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and (allow_http or is_loopback_host(parts.hostname)):
        return
    raise InsecureEndpointError(subject, f"{url!r} is not an https URL")


def validate_discovery(document: Any, expected_issuer: str, *, allow_http: bool = False) -> dict[str, Any]:
    """Check a discovery document; return it.

    OIDC Discovery 1.0 section 4.3: "The issuer value returned MUST be identical to the Issuer URL that
    was used as the prefix to /.well-known/openid-configuration to retrieve the configuration
    information." Section 3 makes issuer, authorization_endpoint, jwks_uri REQUIRED (and
    token_endpoint unless only the implicit flow is used); every endpoint must use TLS (Core 3.1.2.1,
    3.1.3.1).
    """
    if not isinstance(document, Mapping):
        raise InvalidDiscoveryError("openid-configuration", "not a JSON object")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidDiscoveryError("issuer", "missing")
    if issuer != expected_issuer:
        raise InvalidDiscoveryError("issuer", f"{issuer!r} is not the configured issuer {expected_issuer!r}")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDiscoveryError(name, "missing")
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        value = document.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidDiscoveryError(name, "not a string")
            validate_https(value, name, allow_http=allow_http)
    return dict(document)


def validate_jwks(document: Any) -> list[dict[str, Any]]:
    """Return the usable keys of a JWK Set.

    RFC 7517 section 5: "The value of the 'keys' member is an array of JWK values." Section 5:
    "Implementations SHOULD ignore JWKs within a JWK Set that use 'kty' values that are not understood
    by them" - so unknown or malformed entries are skipped, but a set with no usable key is an error.
    """
    if not isinstance(document, Mapping):
        raise InvalidJWKSError("jwks", "not a JSON object")
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise InvalidJWKSError("keys", "missing or not an array")
    usable = [
        key
        for key in keys
        if isinstance(key, Mapping) and isinstance(key.get("kty"), str) and key.get("use", "sig") == "sig"
    ]
    if not usable:
        raise InvalidJWKSError("keys", "no signing key")
    return [dict(key) for key in usable]


def parse_json_object(body: bytes | str, subject: str) -> dict[str, Any]:
    """Parse a provider's JSON answer; anything but an object is malformed.

    RFC 6749 section 5.1 (token), OIDC Core 5.3.2 (userinfo), Discovery 4.2 and RFC 7517 section 5 all
    specify a JSON object.
    """
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedResponseError(subject, "not valid JSON") from error
    if not isinstance(value, dict):
        raise MalformedResponseError(subject, "not a JSON object")
    return value


def validate_response_size(size: int, limit: int, subject: str) -> None:
    """Our cap on provider answers (no spec sets one; an unbounded body is a memory-exhaustion vector)."""
    if size > limit:
        raise ResponseTooLargeError(subject, f"more than {limit} bytes")


# --------------------------------------------------------------------------------------------------
# Authorization response (the redirect back to /oauth/complete/...)
# --------------------------------------------------------------------------------------------------
def validate_iss_parameter(params: Mapping[str, Any], expected_issuer: str, *, required: bool = False) -> None:
    """RFC 9207 (authorization server issuer identification).

    Section 2.4: "Clients that support this specification MUST extract the value of the iss parameter
    from authorization responses they receive if the parameter is present. Clients MUST then compare
    the result to the issuer identifier of the authorization server where the authorization request was
    sent to. ... If the value does not match the expected issuer identifier, clients MUST reject the
    authorization response." And: where the metadata says
    authorization_response_iss_parameter_supported, "clients MUST reject authorization responses
    without the iss parameter" (`required`).
    """
    value = params.get("iss")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        if required:
            raise AuthorizationResponseError("iss", "missing, but the provider advertises it")
        return
    if value != expected_issuer:
        raise AuthorizationResponseError("iss", f"{value!r} is not the expected issuer")


# --------------------------------------------------------------------------------------------------
# ID token (OIDC Core 1.0 section 3.1.3.7)
# --------------------------------------------------------------------------------------------------
def validate_alg(header: Mapping[str, Any], allowed: Iterable[str]) -> str:
    """OIDC Core 3.1.3.7 step 7: "The alg value SHOULD be the default of RS256 or the algorithm sent by
    the Client in the id_token_signed_response_alg parameter during Registration."

    RFC 8725 section 3.1: "Libraries MUST enable the caller to specify a supported set of algorithms and
    MUST NOT use any other algorithms when performing cryptographic operations." "none" and HMAC
    algorithms are refused whatever is configured (section 2.1, 2.2: alg none and HS/RS confusion).
    """
    alg = header.get("alg")
    allowed_set = {a for a in allowed if a not in FORBIDDEN_ALGORITHMS}
    if not isinstance(alg, str) or alg not in allowed_set:
        raise InvalidSignatureError("alg", f"{alg!r} is not an accepted algorithm {sorted(allowed_set)}")
    return alg


def validate_required_claims(claims: Mapping[str, Any]) -> None:
    """OIDC Core section 2: iss, sub, aud, exp and iat are REQUIRED in every ID token."""
    for name in ("iss", "sub", "aud", "exp", "iat"):
        if claims.get(name) in (None, ""):
            raise MissingClaimError(name)


def validate_iss(claims: Mapping[str, Any], expected_issuer: str) -> None:
    """OIDC Core 3.1.3.7 step 2: "The Issuer Identifier for the OpenID Provider ... MUST exactly match
    the value of the iss (issuer) Claim."
    """
    if claims.get("iss") != expected_issuer:
        raise InvalidClaimError("iss", f"{claims.get('iss')!r} is not the expected issuer")


def validate_aud(claims: Mapping[str, Any], client_id: str) -> None:
    """OIDC Core 3.1.3.7 step 3: "The Client MUST validate that the aud (audience) Claim contains its
    client_id value ... The ID Token MUST be rejected if the ID Token does not list the Client as a
    valid audience."
    """
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise InvalidClaimError("aud", "this NetBox is not an audience of the token")


def validate_azp(claims: Mapping[str, Any], client_id: str) -> None:
    """OIDC Core 3.1.3.7 steps 4-5: "If the ID Token contains multiple audiences, the Client SHOULD
    verify that an azp Claim is present. If an azp (authorized party) Claim is present, the Client
    SHOULD verify that its client_id is the Claim Value."
    """
    aud = claims.get("aud")
    if "azp" in claims:
        if claims["azp"] != client_id:
            raise InvalidClaimError("azp", "the token was issued to another client")
    elif isinstance(aud, list) and len(aud) > 1:
        raise MissingClaimError("azp", "required with several audiences")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidClaimError(name, "not a NumericDate")
    return float(value)


def validate_exp(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    """OIDC Core 3.1.3.7 step 9: "The current time MUST be before the time represented by the exp
    Claim (possibly allowing for some small leeway to account for clock skew)."
    """
    if now - leeway >= _number(claims, "exp"):
        raise ExpiredTokenError("exp", "the token has expired")


def validate_nbf(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    """RFC 7519 section 4.1.5: "The nbf (not before) claim identifies the time before which the JWT MUST
    NOT be accepted for processing ... Implementers MAY provide for some small leeway."
    """
    if "nbf" in claims and now + leeway < _number(claims, "nbf"):
        raise ExpiredTokenError("nbf", "the token is not valid yet")


def validate_iat(claims: Mapping[str, Any], now: float, leeway: float, max_age: float) -> None:
    """OIDC Core 3.1.3.7 step 10: "The iat Claim can be used to reject tokens that were issued too far
    away from the current time, limiting the amount of time that nonces need to be stored to prevent
    attacks. The acceptable range is Client specific."

    We accept iat from `max_age` seconds in the past to `leeway` seconds in the future.
    """
    iat = _number(claims, "iat")
    if iat > now + leeway:
        raise ExpiredTokenError("iat", "issued in the future")
    if iat < now - max_age - leeway:
        raise ExpiredTokenError("iat", f"issued more than {int(max_age)} s ago")


def validate_nonce(claims: Mapping[str, Any], expected_nonce: str | None) -> None:
    """OIDC Core 3.1.3.7 step 11: "If a nonce value was sent in the Authentication Request, a nonce Claim
    MUST be present and its value checked to verify that it is the same value as the one that was sent
    in the Authentication Request."

    `expected_nonce` is the nonce stored with this login's state in this browser session, so a token
    minted for another session or another login attempt is refused.
    """
    if not expected_nonce:
        raise AuthorizationResponseError("nonce", "no login in progress for this response")
    nonce = claims.get("nonce")
    if not nonce:
        raise MissingClaimError("nonce")
    if not isinstance(nonce, str) or not _constant_time_equal(nonce, expected_nonce):
        raise InvalidClaimError("nonce", "does not belong to this sign-in")


def validate_sub(claims: Mapping[str, Any]) -> str:
    """OIDC Core section 2: sub is "A locally unique and never reassigned identifier within the Issuer
    for the End-User ... It MUST NOT exceed 255 ASCII characters in length." Section 5.7: sub is a
    string.
    """
    sub = claims.get("sub")
    if sub is None or sub == "":
        raise MissingClaimError("sub")
    if not isinstance(sub, str):
        raise InvalidClaimError("sub", "not a string")
    if len(sub) > MAX_SUB_LENGTH or not sub.isascii():
        raise InvalidClaimError("sub", f"longer than {MAX_SUB_LENGTH} ASCII characters")
    return sub


def validate_id_token_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float,
    leeway: float,
    max_age: float,
    max_claim_length: int,
) -> None:
    """The ID-token rules of OIDC Core 3.1.3.7 that follow signature verification, in the spec's order."""
    validate_required_claims(claims)
    validate_iss(claims, issuer)
    validate_aud(claims, client_id)
    validate_azp(claims, client_id)
    validate_exp(claims, now, leeway)
    validate_nbf(claims, now, leeway)
    validate_iat(claims, now, leeway, max_age)
    validate_nonce(claims, nonce)
    validate_sub(claims)
    validate_claim_lengths(claims, max_claim_length)


# --------------------------------------------------------------------------------------------------
# UserInfo and claim values
# --------------------------------------------------------------------------------------------------
def validate_userinfo_sub(userinfo: Mapping[str, Any], id_token_sub: str) -> None:
    """OIDC Core 5.3.2: "The sub (subject) Claim MUST always be returned in the UserInfo Response."
    ... "The sub Claim in the UserInfo Response MUST be verified to exactly match the sub Claim in the
    ID Token; if they do not match, the UserInfo Response values MUST NOT be used."
    """
    sub = userinfo.get("sub")
    if sub is None or sub == "":
        raise MissingClaimError("userinfo.sub")
    if sub != id_token_sub:
        raise InvalidClaimError("userinfo.sub", "does not match the ID token's sub")


def validate_claim_lengths(claims: Mapping[str, Any], limit: int, *, prefix: str = "") -> None:
    """Our cap on claim values (no spec sets one): any string, or string in a list, longer than `limit`
    characters is refused, so an oversized claim is a clean rejection and never a database error.
    """
    for name, value in claims.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and len(item) > limit:
                raise InvalidClaimError(f"{prefix}{name}", f"longer than {limit} characters")


def claim_is_true(value: Any) -> bool:
    """A boolean claim's truth; some providers send "true" as a string (OIDC Core 5.1 says boolean)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def email_is_verified(claims: Mapping[str, Any], *, provider: str = "generic") -> bool:
    """Whether the provider asserts that the user controls the email address.

    OIDC Core 5.1: email_verified "True if the End-User's e-mail address has been verified; otherwise
    false." For Microsoft Entra ID, learn.microsoft.com "Migrate away from using email claims for user
    identification or authorization": email is mutable and unverified unless the optional claim
    xms_edov ("email domain owner verified") is true.
    """
    if provider == "entra":
        return claim_is_true(claims.get("xms_edov"))
    return claim_is_true(claims.get("email_verified"))


def validate_tenant(claims: Mapping[str, Any], allowed_tenants: Collection[str]) -> str:
    """Microsoft identity platform, "Validate tokens" / "Claims validation": applications that sign in
    users from their own tenant must check that the tid claim is that tenant; multi-tenant applications
    "must validate the tid claim against the list of tenants allowed to sign in".
    """
    tid = claims.get("tid")
    if not isinstance(tid, str) or not tid:
        raise MissingClaimError("tid")
    if tid.lower() not in {t.lower() for t in allowed_tenants}:
        raise ForeignTenantError("tid", f"tenant {tid} is not allowed")
    return tid


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
