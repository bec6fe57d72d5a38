"""The resource-server rules for provider access tokens (pure core) and their settings."""

from __future__ import annotations

import pytest

from netbox_sso.core import access_tokens as rules
from netbox_sso.core.access_tokens import BearerRefusal, InsufficientScope, Subject
from netbox_sso.core.errors import ConfigError

NOW = 1_800_000_000.0


def refusal_reason(call, *args, **kwargs) -> str:
    with pytest.raises(BearerRefusal) as caught:
        call(*args, **kwargs)
    return caught.value.reason


# ---- settings ---------------------------------------------------------------------------------------------
def test_settings_parse_into_policies_with_read_and_write_levels():
    policies = rules.parse_api_tokens(
        {
            "oidc": {
                "audiences": ["netbox"],
                "read_scopes": ["netbox.read"],
                "write_scopes": ["netbox.write"],
                "create_users": True,
                "service_accounts": {"ci": "svc-ci"},
                "service_mapping": {"groups_claim": "roles", "group_map": {"Sites.Read": "Readers"}},
            }
        }
    )
    policy = policies["oidc"]
    assert policy.audiences == ("netbox",) and policy.create_users is True
    assert policy.service_accounts == {"ci": "svc-ci"} and policy.service_rules is not None
    assert policy.level({"openid", "netbox.read"}) == "read"
    assert policy.level({"netbox.read", "netbox.write"}) == "write"
    assert policy.level({"openid"}) is None


def test_absent_settings_accept_no_tokens():
    assert rules.parse_api_tokens(None) == {}


def test_every_settings_problem_is_named_in_one_pass():
    with pytest.raises(ConfigError) as caught:
        rules.parse_api_tokens(
            {
                "oidc": {
                    "audience": ["x"],
                    "create_users": "yes",
                    "service_accounts": ["svc"],
                    "service_mapping": {"group_mapp": {}},
                }
            }
        )
    text = str(caught.value)
    assert "['api_tokens']['oidc']['audience']: unknown setting. Fix: did you mean 'audiences'?" in text
    assert "no read_scopes or write_scopes" in text
    assert "['create_users']: expected True or False" in text
    assert "['service_accounts']: expected a dict" in text
    assert "['api_tokens']['oidc']['service_mapping']['group_mapp']" in text


# ---- shape and type ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "ours"),
    [
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", True),
        ("nbt_abcdefghij.0123456789abcdef", False),  # NetBox v2 token
        ("0123456789abcdef0123456789abcdef01234567", False),  # NetBox v1 token
        ("eyJ.a.b.c", False),
        ("eyJh bG.a.b", False),
    ],
)
def test_only_jwt_shaped_values_are_ours(value, ours):
    assert rules.looks_like_jwt(value) is ours


@pytest.mark.parametrize("typ", [None, "at+jwt", "application/at+jwt", "JWT"])
def test_access_token_types_are_accepted(typ):
    rules.validate_type({} if typ is None else {"typ": typ})


@pytest.mark.parametrize("typ", ["logout+jwt", "id_token+jwt", 5])
def test_other_token_types_are_refused(typ):
    assert refusal_reason(rules.validate_type, {"typ": typ}) == "wrong_token_type"


# ---- ID token presented as an access token ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "claims", "kind"),
    [
        ({"typ": "at+jwt"}, {"nonce": "n", "scope": "x", "client_id": "c"}, "generic"),
        ({"typ": "JWT"}, {"at_hash": "h", "azp": "c", "scope": "x"}, "generic"),
        ({"typ": "JWT"}, {"typ": "ID", "azp": "c", "scope": "x"}, "generic"),  # Keycloak
        ({"typ": "JWT"}, {"aud": "c", "sub": "s"}, "generic"),  # no at+jwt, no scope
        ({"typ": "JWT"}, {"aud": "c", "tid": "t", "oid": "o", "roles": ["r"]}, "entra"),  # no azp/appid
        ({"typ": "JWT"}, {"aud": "c", "tid": "t", "oid": "o", "azp": "c"}, "entra"),  # no scp/roles
        ({}, {"aud": "api://default", "sub": "00u1", "amr": ["pwd"], "idp": "00o"}, "okta"),
    ],
)
def test_id_tokens_are_told_apart_from_access_tokens(header, claims, kind):
    assert refusal_reason(rules.validate_not_id_token, header, claims, kind) == "id_token"


@pytest.mark.parametrize(
    ("header", "claims", "kind"),
    [
        ({"typ": "at+jwt"}, {"sub": "s", "client_id": "c"}, "generic"),
        ({"typ": "JWT"}, {"azp": "c", "scope": "openid netbox.read", "typ": "Bearer"}, "generic"),  # Keycloak
        ({"typ": "JWT"}, {"azp": "c", "scp": "NetBox.Read", "tid": "t", "oid": "o"}, "entra"),
        ({"typ": "JWT"}, {"appid": "c", "roles": ["NetBox.Read"], "tid": "t", "oid": "o"}, "entra"),
        ({}, {"cid": "c", "scp": ["netbox.read"], "uid": "00u1", "sub": "alice@example.com"}, "okta"),
    ],
)
def test_real_access_token_shapes_pass(header, claims, kind):
    rules.validate_not_id_token(header, claims, kind)


# ---- audience and lifetime ---------------------------------------------------------------------------------
def test_audience_must_name_this_netbox():
    rules.validate_audience({"aud": ["other", "api://netbox"]}, ("api://netbox",))
    assert refusal_reason(rules.validate_audience, {"aud": "other"}, ("api://netbox",)) == "wrong_audience"
    assert refusal_reason(rules.validate_audience, {}, ("api://netbox",)) == "wrong_audience"
    assert refusal_reason(rules.validate_audience, {"aud": {"x": 1}}, ("x",)) == "wrong_audience"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iat": NOW - 10, "exp": NOW - 61}, "expired"),
        ({"iat": NOW - 10, "exp": NOW + 300, "nbf": NOW + 61}, "not_yet_valid"),
        ({"iat": NOW + 61, "exp": NOW + 300}, "not_yet_valid"),
        ({"iat": NOW}, "malformed"),
        ({"iat": NOW, "exp": "tomorrow"}, "malformed"),
        ({"iat": True, "exp": NOW + 300}, "malformed"),
        ({"iat": NOW, "exp": float("nan")}, "malformed"),
        ({"iat": NOW, "exp": float("inf")}, "malformed"),
        ({"iat": NOW, "exp": NOW + 300, "nbf": float("nan")}, "malformed"),
    ],
)
def test_lifetime_rules(claims, reason):
    assert refusal_reason(rules.validate_lifetime, claims, NOW, 60) == reason


def test_lifetime_within_leeway_passes():
    rules.validate_lifetime({"iat": NOW + 30, "exp": NOW - 30, "nbf": NOW + 30}, NOW, 60)


# ---- scopes and subjects ------------------------------------------------------------------------------------
def test_granted_reads_scope_scp_string_or_list_and_roles():
    assert rules.granted({"scope": "a b", "scp": ["c", 5], "roles": ["d"]}) == {"a", "b", "c", "d"}
    assert rules.granted({"scp": "e f"}) == {"e", "f"}


def test_insufficient_scope_is_a_403():
    assert InsufficientScope("insufficient_scope", "x").status == 403
    assert BearerRefusal("expired", "x").status == 401


@pytest.mark.parametrize(
    ("claims", "kind", "expected"),
    [
        ({"sub": "alice-sub", "client_id": "cli"}, "generic", Subject("person", "cli", "alice-sub")),
        ({"sub": "bot", "client_id": "bot"}, "generic", Subject("service", "bot")),
        (
            {"sub": "f00", "azp": "bot", "preferred_username": "service-account-bot"},
            "generic",
            Subject("service", "bot"),
        ),
        ({"sub": "x", "azp": "cli", "tid": "T1", "oid": "O1", "scp": "r"}, "entra", Subject("person", "cli", "t1:o1")),
        ({"sub": "sp", "oid": "sp", "azp": "bot", "roles": ["r"], "tid": "t"}, "entra", Subject("service", "bot")),
        ({"sub": "x", "oid": "y", "appid": "bot", "idtyp": "app", "roles": ["r"]}, "entra", Subject("service", "bot")),
        ({"sub": "alice@example.com", "uid": "00u1", "cid": "cli"}, "okta", Subject("person", "cli", "00u1")),
        ({"sub": "bot", "cid": "bot"}, "okta", Subject("service", "bot")),
    ],
)
def test_subject_is_the_person_by_their_sign_in_key_or_the_client(claims, kind, expected):
    assert rules.subject(claims, kind) == expected


def test_a_person_token_without_its_key_claims_is_malformed():
    assert refusal_reason(rules.subject, {"sub": "x", "azp": "c", "scp": "r"}, "entra") == "malformed"
    assert refusal_reason(rules.subject, {"client_id": "c"}, "generic") == "malformed"
