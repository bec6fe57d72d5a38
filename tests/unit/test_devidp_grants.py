"""devidp's access tokens for APIs: RFC 9068 / Entra / Okta shapes, client credentials, device authorization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file
from netbox_sso.devidp.model import stable_id
from netbox_sso.devidp.rp import RelyingParty

REDIRECT = "http://127.0.0.1:9/cb"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE),
        profiles=("generic", "okta", "entra", "keycloak"),
        tls=True,
        state_dir=tmp_path_factory.mktemp("devidp"),
    )
    server.start()
    server.register_client("rp", "secret", redirect_uris=[REDIRECT])
    server.register_client("svc", "svc-secret", roles=["NetBox.Read", "NetBox.Write"])
    server.register_client("cli", None)  # a public client (a terminal tool)
    server.device_interval = 0
    yield server
    server.stop()


def verified(idp: DevIdP, profile: str, token: str, **ctx: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token, its signature checked against the profile's published keys."""
    doc = requests.get(idp.discovery_url(profile, **ctx), timeout=5, verify=idp.ca_bundle).json()
    keys = jwt.PyJWKSet.from_dict(requests.get(doc["jwks_uri"], timeout=5, verify=idp.ca_bundle).json())
    header = jwt.get_unverified_header(token)
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})
    return header, claims


def discovery(idp: DevIdP, profile: str, **ctx: str) -> dict[str, Any]:
    return requests.get(idp.discovery_url(profile, **ctx), timeout=5, verify=idp.ca_bundle).json()


def token_request(
    idp: DevIdP, endpoint: str, data: dict[str, str], auth: tuple[str, str] | None = None
) -> requests.Response:
    return requests.post(endpoint, data=data, auth=auth, timeout=5, verify=idp.ca_bundle)


# ---- code flow: the access token's shape ------------------------------------------------------------------
def test_generic_access_token_follows_rfc9068_with_the_requested_resource_as_audience(idp: DevIdP) -> None:
    rp = RelyingParty(idp.discovery_url("generic"), "rp", "secret", REDIRECT, verify=idp.ca_bundle)
    result = rp.code_flow("alice", scope="openid profile netbox.read", resource="https://netbox.example/api")
    header, claims = verified(idp, "generic", result.tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == "https://netbox.example/api" and claims["client_id"] == "rp"
    assert claims["scope"] == "openid profile netbox.read" and claims["sub"] == result.id_claims["sub"]
    assert claims["groups"] == ["netbox-admins"] and "nonce" not in claims
    id_header = jwt.get_unverified_header(result.tokens["id_token"])
    assert id_header.get("typ") != "at+jwt"


def test_entra_v2_access_token_for_the_apps_own_api(idp: DevIdP) -> None:
    entra = idp.profile("entra")
    tenant = entra.home_tenant_id
    rp = RelyingParty(
        idp.discovery_url("entra", layout="v2", tenant=tenant), "rp", "secret", REDIRECT, verify=idp.ca_bundle
    )
    result = rp.code_flow("alice", scope="openid profile api://rp/NetBox.Read", verify=False)
    header, claims = verified(idp, "entra", result.tokens["access_token"], layout="v2", tenant=tenant)
    assert header["typ"] == "JWT"
    assert claims["aud"] == "api://rp" and claims["scp"] == "NetBox.Read" and claims["ver"] == "2.0"
    assert claims["iss"] == f"https://login.microsoftonline.com/{tenant}/v2.0" and claims["tid"] == tenant
    assert claims["azp"] == "rp" and "appid" not in claims and claims["oid"] == stable_id("oid", "alice")
    by_client_id = rp.code_flow("alice", scope="openid rp/NetBox.Read", verify=False)
    assert verified(idp, "entra", by_client_id.tokens["access_token"], layout="v2", tenant=tenant)[1]["aud"] == "rp"


def test_okta_custom_server_access_token_has_scp_cid_uid_and_login_as_sub(idp: DevIdP) -> None:
    rp = RelyingParty(idp.discovery_url("okta", server="default"), "rp", "secret", REDIRECT, verify=idp.ca_bundle)
    result = rp.code_flow("alice", scope="openid profile groups netbox.read")
    _, claims = verified(idp, "okta", result.tokens["access_token"], server="default")
    assert claims["aud"] == "api://default" and claims["cid"] == "rp"
    assert claims["scp"] == ["openid", "profile", "groups", "netbox.read"]
    assert claims["uid"] == result.id_claims["sub"] and claims["sub"] == "alice"
    assert claims["groups"] == ["netbox-admins"]


# ---- client credentials -------------------------------------------------------------------------------------
def test_client_credentials_gives_a_generic_service_token_without_a_user(idp: DevIdP) -> None:
    doc = discovery(idp, "generic")
    assert "client_credentials" in doc["grant_types_supported"]
    response = token_request(
        idp,
        doc["token_endpoint"],
        {"grant_type": "client_credentials", "scope": "netbox.read", "resource": "netbox"},
        ("svc", "svc-secret"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "id_token" not in body and "refresh_token" not in body
    header, claims = verified(idp, "generic", body["access_token"])
    assert header["typ"] == "at+jwt" and claims["sub"] == "svc" == claims["client_id"]
    assert claims["aud"] == "netbox" and claims["scope"] == "netbox.read"
    assert claims["roles"] == ["NetBox.Read", "NetBox.Write"]


def test_client_credentials_needs_a_confidential_client(idp: DevIdP) -> None:
    doc = discovery(idp, "generic")
    response = token_request(idp, doc["token_endpoint"], {"grant_type": "client_credentials", "client_id": "cli"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_entra_app_only_token_carries_roles_and_the_service_principal(idp: DevIdP) -> None:
    entra = idp.profile("entra")
    tenant = entra.home_tenant_id
    doc = discovery(idp, "entra", layout="v2", tenant=tenant)
    refused = token_request(
        idp,
        doc["token_endpoint"],
        {"grant_type": "client_credentials", "scope": "api://rp/NetBox.Read"},
        ("svc", "svc-secret"),
    )
    assert refused.status_code == 400 and "AADSTS1002012" in refused.json()["error_description"]
    response = token_request(
        idp,
        doc["token_endpoint"],
        {"grant_type": "client_credentials", "scope": "api://rp/.default"},
        ("svc", "svc-secret"),
    )
    _, claims = verified(idp, "entra", response.json()["access_token"], layout="v2", tenant=tenant)
    assert claims["aud"] == "api://rp" and claims["roles"] == ["NetBox.Read", "NetBox.Write"]
    assert "scp" not in claims and claims["idtyp"] == "app" and claims["azp"] == "svc"
    assert claims["oid"] == claims["sub"] == stable_id("service-principal", "svc") and claims["tid"] == tenant


def test_okta_client_credentials_needs_a_custom_server_and_custom_scopes(idp: DevIdP) -> None:
    org = discovery(idp, "okta")
    refused = token_request(
        idp, org["token_endpoint"], {"grant_type": "client_credentials", "scope": "netbox.read"}, ("svc", "svc-secret")
    )
    assert refused.status_code == 400
    custom = discovery(idp, "okta", server="default")
    response = token_request(
        idp,
        custom["token_endpoint"],
        {"grant_type": "client_credentials", "scope": "netbox.read"},
        ("svc", "svc-secret"),
    )
    _, claims = verified(idp, "okta", response.json()["access_token"], server="default")
    assert claims["sub"] == "svc" == claims["cid"] and claims["scp"] == ["netbox.read"] and "uid" not in claims


# ---- device authorization (RFC 8628) -------------------------------------------------------------------------
def start_device_flow(
    idp: DevIdP, profile: str = "generic", scope: str = "openid profile netbox.read", **ctx: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = discovery(idp, profile, **ctx)
    assert DEVICE_GRANT in doc.get("grant_types_supported", [DEVICE_GRANT])
    response = requests.post(
        doc["device_authorization_endpoint"], data={"client_id": "cli", "scope": scope}, timeout=5, verify=idp.ca_bundle
    )
    assert response.status_code == 200, response.text
    return doc, response.json()


def poll(idp: DevIdP, doc: dict[str, Any], device_code: str) -> requests.Response:
    return token_request(
        idp, doc["token_endpoint"], {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "cli"}
    )


def test_device_flow_is_pending_until_approved_on_the_login_page(idp: DevIdP) -> None:
    doc, started = start_device_flow(idp)
    assert started["verification_uri"].endswith("/generic/device") and len(started["user_code"]) == 9
    assert poll(idp, doc, started["device_code"]).json()["error"] == "authorization_pending"
    page = requests.get(started["verification_uri_complete"], timeout=5, verify=idp.ca_bundle)
    assert page.status_code == 200 and 'value="alice"' in page.text
    approved = requests.post(
        started["verification_uri"],
        timeout=5,
        verify=idp.ca_bundle,
        data={"user_code": started["user_code"].lower(), "username": "alice"},
    )
    assert approved.status_code == 200 and "approved" in approved.text
    tokens = poll(idp, doc, started["device_code"]).json()
    header, claims = verified(idp, "generic", tokens["access_token"])
    assert header["typ"] == "at+jwt" and claims["client_id"] == "cli" and claims["groups"] == ["netbox-admins"]
    assert "id_token" in tokens  # openid was requested
    again = poll(idp, doc, started["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_device_flow_polled_too_fast_answers_slow_down(idp: DevIdP) -> None:
    idp.device_interval = 30
    try:
        doc, started = start_device_flow(idp)
        assert started["interval"] == 30
        assert poll(idp, doc, started["device_code"]).json()["error"] == "authorization_pending"
        assert poll(idp, doc, started["device_code"]).json()["error"] == "slow_down"
    finally:
        idp.device_interval = 0


def test_device_flow_denied_and_unknown_codes(idp: DevIdP) -> None:
    doc, started = start_device_flow(idp)
    requests.post(
        started["verification_uri"],
        data={"user_code": started["user_code"], "deny": "1"},
        timeout=5,
        verify=idp.ca_bundle,
    )
    assert poll(idp, doc, started["device_code"]).json()["error"] == "access_denied"
    assert poll(idp, doc, "no-such-code").json()["error"] == "invalid_grant"
    unknown = requests.get(f"{started['verification_uri']}?user_code=BBBB-BBBB", timeout=5, verify=idp.ca_bundle)
    assert unknown.status_code == 400


def test_device_flow_scripted_approval_through_the_control_api(idp: DevIdP) -> None:
    entra = idp.profile("entra")
    doc, started = start_device_flow(
        idp, "entra", scope="openid api://rp/NetBox.Read", layout="v2", tenant=entra.home_tenant_id
    )
    assert "enter the code" in started["message"]
    answer = requests.post(
        f"{idp.base_url}/_devidp/device/approve",
        json={"user_code": started["user_code"], "username": "bob"},
        timeout=5,
        verify=idp.ca_bundle,
    )
    assert answer.json() == {"approved": True, "problem": None}
    _, claims = verified(
        idp,
        "entra",
        poll(idp, doc, started["device_code"]).json()["access_token"],
        layout="v2",
        tenant=entra.home_tenant_id,
    )
    assert claims["aud"] == "api://rp" and claims["scp"] == "NetBox.Read" and claims["azp"] == "cli"
