"""Rules for refreshed ID tokens (OIDC Core 12.2) and back-channel logout tokens (Back-Channel Logout 1.0)."""

from __future__ import annotations

import pytest

from netbox_sso.core import oidc_checks as checks
from netbox_sso.core.sessions import (
    BACKCHANNEL_EVENT,
    access_token_expiry,
    validate_logout_token_claims,
    validate_logout_token_header,
    validate_refreshed_id_token_claims,
)

ISS = "https://idp.example/realm"
NOW = 1_800_000_000.0
LIMITS = {"issuer": ISS, "client_id": "netbox", "now": NOW, "leeway": 60, "max_age": 600, "max_claim_length": 1024}


def logout_claims(**overrides) -> dict:
    claims = {
        "iss": ISS,
        "aud": "netbox",
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "j-1",
        "sub": "u-1",
        "sid": "s-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_valid_logout_token_passes():
    validate_logout_token_claims(logout_claims(), **LIMITS)
    validate_logout_token_claims(logout_claims(sub=None), **LIMITS)  # sid only
    validate_logout_token_claims(logout_claims(sid=None), **LIMITS)  # sub only
    validate_logout_token_claims(logout_claims(exp=None), **LIMITS)  # no exp: iat bounds the age


@pytest.mark.parametrize(
    ("overrides", "subject", "error"),
    [
        ({"iss": "https://other/"}, "iss", checks.InvalidClaimError),
        ({"aud": ["other"]}, "aud", checks.InvalidClaimError),
        ({"exp": NOW - 61}, "exp", checks.ExpiredTokenError),
        ({"iat": NOW + 120}, "iat", checks.ExpiredTokenError),
        ({"iat": NOW - 700}, "iat", checks.ExpiredTokenError),
        ({"jti": None}, "jti", checks.MissingClaimError),
        ({"jti": 7}, "jti", checks.InvalidClaimError),
        ({"events": None}, "events", checks.MissingClaimError),
        ({"events": {"urn:other": {}}}, "events", checks.MissingClaimError),
        ({"events": {BACKCHANNEL_EVENT: "yes"}}, "events", checks.InvalidClaimError),
        ({"nonce": "n"}, "nonce", checks.InvalidClaimError),
        ({"sub": None, "sid": None}, "sub", checks.MissingClaimError),
        ({"sid": 5}, "sid", checks.InvalidClaimError),
    ],
)
def test_invalid_logout_tokens(overrides, subject, error):
    with pytest.raises(error) as raised:
        validate_logout_token_claims(logout_claims(**overrides), **LIMITS)
    assert raised.value.subject == subject


def test_logout_token_type_header():
    for typ in (None, "logout+jwt", "JWT", "application/logout+jwt"):
        validate_logout_token_header({"alg": "RS256", **({"typ": typ} if typ else {})})
    with pytest.raises(checks.InvalidClaimError):
        validate_logout_token_header({"typ": "at+jwt"})


def id_claims(**overrides) -> dict:
    claims = {"iss": ISS, "sub": "u-1", "aud": "netbox", "iat": NOW, "exp": NOW + 300, "auth_time": NOW - 3000}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


PREVIOUS = id_claims(iat=NOW - 3000, exp=NOW - 2700, nonce="n-1")


def test_refreshed_id_token_passes():
    validate_refreshed_id_token_claims(id_claims(), PREVIOUS, **LIMITS)
    validate_refreshed_id_token_claims(id_claims(nonce="n-1", auth_time=None), PREVIOUS, **LIMITS)


@pytest.mark.parametrize(
    ("overrides", "subject"),
    [
        ({"sub": "u-2"}, "sub"),
        ({"auth_time": NOW}, "auth_time"),
        ({"nonce": "other"}, "nonce"),
        ({"aud": "another"}, "aud"),
        ({"exp": NOW - 100}, "exp"),
    ],
)
def test_refreshed_id_token_must_continue_the_sign_in(overrides, subject):
    with pytest.raises(checks.OIDCCheckError) as raised:
        validate_refreshed_id_token_claims(id_claims(**overrides), PREVIOUS, **LIMITS)
    assert raised.value.subject == subject


def test_access_token_expiry():
    assert access_token_expiry({"expires_in": 300}, NOW) == NOW + 300
    assert access_token_expiry({"expires_in": "3599"}, NOW) == NOW + 3599  # Entra v1 sends strings
    assert access_token_expiry({}, NOW) is None
    assert access_token_expiry({"expires_in": "soon"}, NOW) is None
