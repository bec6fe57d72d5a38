"""The spec-named validation rules of netbox_sso.core.oidc_checks, one rule at a time."""

from __future__ import annotations

import pytest

from netbox_sso.core import oidc_checks as c

NOW = 1_800_000_000.0
ISS = "https://idp.example/realms/x"
CLIENT = "netbox"


def token(**overrides):
    claims = {"iss": ISS, "sub": "abc", "aud": CLIENT, "exp": NOW + 300, "iat": NOW - 5, "nonce": "n0nce"}
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def check(claims, *, nonce="n0nce", leeway=60, max_age=600, limit=1024):
    c.validate_id_token_claims(
        claims,
        issuer=ISS,
        client_id=CLIENT,
        nonce=nonce,
        now=NOW,
        leeway=leeway,
        max_age=max_age,
        max_claim_length=limit,
    )


def test_valid_token_passes():
    check(token())


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat"])
def test_required_claims(claim):
    with pytest.raises(c.MissingClaimError) as info:
        check(token(**{claim: None}))
    assert info.value.subject == claim


@pytest.mark.parametrize(
    ("overrides", "error", "subject"),
    [
        ({"iss": "https://evil.example"}, c.InvalidClaimError, "iss"),
        ({"aud": "someone-else"}, c.InvalidClaimError, "aud"),
        ({"aud": ["someone-else", "other"]}, c.InvalidClaimError, "aud"),
        ({"aud": [CLIENT, "other"]}, c.MissingClaimError, "azp"),
        ({"azp": "other"}, c.InvalidClaimError, "azp"),
        ({"exp": NOW - 61}, c.ExpiredTokenError, "exp"),
        ({"nbf": NOW + 120}, c.ExpiredTokenError, "nbf"),
        ({"iat": NOW + 120}, c.ExpiredTokenError, "iat"),
        ({"iat": NOW - 3600}, c.ExpiredTokenError, "iat"),
        ({"exp": "tomorrow"}, c.InvalidClaimError, "exp"),
        ({"exp": True}, c.InvalidClaimError, "exp"),
        ({"nonce": "other"}, c.InvalidClaimError, "nonce"),
        ({"nonce": None}, c.MissingClaimError, "nonce"),
        ({"sub": 42}, c.InvalidClaimError, "sub"),
        ({"sub": "x" * 256}, c.InvalidClaimError, "sub"),
        ({"name": "x" * 1025}, c.InvalidClaimError, "name"),
        ({"groups": ["ok", "x" * 2000]}, c.InvalidClaimError, "groups"),
    ],
)
def test_each_rule_names_its_claim(overrides, error, subject):
    with pytest.raises(error) as info:
        check(token(**overrides))
    assert info.value.subject == subject
    assert subject in info.value.user_message()


def test_multiple_audiences_with_our_azp_pass():
    check(token(aud=[CLIENT, "other"], azp=CLIENT))


def test_leeway_tolerates_moderate_skew():
    check(token(iat=NOW + 45, nbf=NOW + 45, exp=NOW - 30))
    with pytest.raises(c.ExpiredTokenError):
        check(token(iat=NOW + 45), leeway=1)


def test_nonce_without_a_login_in_progress_is_an_authorization_response_error():
    with pytest.raises(c.AuthorizationResponseError):
        check(token(), nonce=None)


def test_userinfo_sub_required_and_equal():
    c.validate_userinfo_sub({"sub": "abc"}, "abc")
    with pytest.raises(c.MissingClaimError):
        c.validate_userinfo_sub({"email": "x@y"}, "abc")
    with pytest.raises(c.InvalidClaimError):
        c.validate_userinfo_sub({"sub": "other"}, "abc")


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "ES256", None])
def test_alg_pinned(alg):
    with pytest.raises(c.InvalidSignatureError):
        c.validate_alg({"alg": alg}, ["RS256"])


def test_hmac_refused_even_when_configured():
    with pytest.raises(c.InvalidSignatureError):
        c.validate_alg({"alg": "HS256"}, ["RS256", "HS256"])
    assert c.validate_alg({"alg": "RS256"}, ["RS256", "HS256"]) == "RS256"


def discovery(**overrides):
    doc = {
        "issuer": ISS,
        "authorization_endpoint": f"{ISS}/auth",
        "token_endpoint": f"{ISS}/token",
        "jwks_uri": f"{ISS}/jwks",
        "userinfo_endpoint": f"{ISS}/userinfo",
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def test_discovery_accepted():
    assert c.validate_discovery(discovery(), ISS)["issuer"] == ISS


@pytest.mark.parametrize(
    ("overrides", "error", "subject"),
    [
        ({"issuer": "https://evil.example"}, c.InvalidDiscoveryError, "issuer"),
        ({"issuer": ISS + "/"}, c.InvalidDiscoveryError, "issuer"),
        ({"issuer": None}, c.InvalidDiscoveryError, "issuer"),
        ({"jwks_uri": None}, c.InvalidDiscoveryError, "jwks_uri"),
        ({"token_endpoint": "http://idp.example/token"}, c.InsecureEndpointError, "token_endpoint"),
        ({"userinfo_endpoint": 5}, c.InvalidDiscoveryError, "userinfo_endpoint"),
    ],
)
def test_discovery_rejected(overrides, error, subject):
    with pytest.raises(error) as info:
        c.validate_discovery(discovery(**overrides), ISS)
    assert info.value.subject == subject


def test_discovery_not_an_object():
    with pytest.raises(c.InvalidDiscoveryError):
        c.validate_discovery(["issuer"], ISS)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/x", "http://localhost/x", "http://[::1]:8/x", "https://idp.example/x"]
)
def test_https_or_loopback(url):
    c.validate_https(url, "endpoint")


@pytest.mark.parametrize(
    "url", ["http://idp.example/x", "ftp://idp.example/x", "https:///nohost", "http://127.0.0.1.evil.example/"]
)
def test_plain_http_off_loopback_refused(url):
    with pytest.raises(c.InsecureEndpointError):
        c.validate_https(url, "endpoint")


def test_plain_http_opt_in():
    c.validate_https("http://idp.example/x", "endpoint", allow_http=True)


def test_jwks_shapes():
    key = {"kty": "RSA", "kid": "1", "n": "x", "e": "AQAB"}
    assert c.validate_jwks({"keys": [key, {"kty": "RSA", "use": "enc"}, "junk"]}) == [key]
    for bad in ({}, {"keys": []}, {"keys": "x"}, [], {"keys": [{"use": "sig"}]}):
        with pytest.raises(c.InvalidJWKSError):
            c.validate_jwks(bad)


def test_json_object_only():
    assert c.parse_json_object(b'{"a": 1}', "token") == {"a": 1}
    for bad in (b'{"a": ', b"[1]", b"\xff", b""):
        with pytest.raises(c.MalformedResponseError):
            c.parse_json_object(bad, "token")


def test_response_size_cap():
    c.validate_response_size(10, 10, "jwks")
    with pytest.raises(c.ResponseTooLargeError):
        c.validate_response_size(11, 10, "jwks")


def test_rfc9207_iss_parameter():
    c.validate_iss_parameter({}, ISS)
    c.validate_iss_parameter({"iss": ISS}, ISS)
    c.validate_iss_parameter({"iss": [ISS]}, ISS)
    with pytest.raises(c.AuthorizationResponseError):
        c.validate_iss_parameter({"iss": "https://other.example"}, ISS)
    with pytest.raises(c.AuthorizationResponseError):
        c.validate_iss_parameter({}, ISS, required=True)


def test_email_verified_by_provider():
    assert c.email_is_verified({"email_verified": True})
    assert c.email_is_verified({"email_verified": "true"})
    assert not c.email_is_verified({"email_verified": False})
    assert not c.email_is_verified({})
    assert not c.email_is_verified({"email_verified": True}, provider="entra")
    assert c.email_is_verified({"xms_edov": True}, provider="entra")


def test_tenant_allow_list():
    assert c.validate_tenant({"tid": "AAA"}, ["aaa"]) == "AAA"
    with pytest.raises(c.ForeignTenantError):
        c.validate_tenant({"tid": "bbb"}, ["aaa"])
    with pytest.raises(c.MissingClaimError):
        c.validate_tenant({}, ["aaa"])


def test_every_error_has_a_stable_code_and_a_message_without_the_reason():
    error = c.InvalidClaimError("aud", "secret detail")
    assert error.code == "invalid_claim"
    assert "secret detail" not in error.user_message()
