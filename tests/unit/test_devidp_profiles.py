"""devidp provider profiles served at once: Keycloak-like, Okta, Entra ID (v1, v2, Graph), Authentik."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file
from netbox_sso.devidp.profiles.entra import EntraProfile
from netbox_sso.devidp.profiles.okta import OktaProfile
from netbox_sso.devidp.rp import RelyingParty

REDIRECT = "http://127.0.0.1:9/cb"
ALL = ("generic", "keycloak", "okta", "entra", "authentik")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE), profiles=ALL, tls=True, state_dir=tmp_path_factory.mktemp("devidp")
    )
    server.start()
    server.register_client("rp", "secret", redirect_uris=[REDIRECT], post_logout_redirect_uris=[REDIRECT])
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_faults(idp: DevIdP) -> Iterator[None]:
    idp.clear_faults()
    yield
    idp.clear_faults()


def rp_for(idp: DevIdP, discovery_url: str) -> RelyingParty:
    return RelyingParty(discovery_url, "rp", "secret", REDIRECT, verify=idp.ca_bundle or True)


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_profiles_have_own_prefix_issuer_and_keys(idp: DevIdP) -> None:
    issuers = {name: idp.issuer(name) for name in ALL}
    assert len(set(issuers.values())) == len(ALL)
    kids = {idp.keys[name].kid for name in ALL}
    assert len(kids) == len(ALL)
    for name in ALL:
        doc = requests.get(idp.discovery_url(name), timeout=5, verify=idp.ca_bundle).json()
        assert doc["issuer"] == idp.issuer(name)


# ---- Keycloak-like ----------------------------------------------------------------------------------------
def test_keycloak_layout_and_claims(idp: DevIdP) -> None:
    rp = rp_for(idp, idp.discovery_url("keycloak"))
    root = f"{idp.base_url}/keycloak/realms/netbox"
    assert rp.config["issuer"] == root
    assert rp.config["authorization_endpoint"] == f"{root}/protocol/openid-connect/auth"
    assert rp.config["jwks_uri"] == f"{root}/protocol/openid-connect/certs"
    result = rp.code_flow("alice", scope="openid profile email")
    claims = result.id_claims
    assert claims["groups"] == ["/netbox/admins"]
    assert claims["realm_access"] == {"roles": ["netbox-admin"]}
    assert claims["resource_access"] == {"netbox": {"roles": ["admin"]}}
    access = unverified(result.tokens["access_token"])
    assert access["azp"] == "rp" and access["realm_access"]["roles"] == ["netbox-admin"]
    carol = rp.code_flow("carol").id_claims
    assert carol["groups"] == ["/netbox/readers"]
    missing = requests.get(idp.discovery_url("keycloak", realm="nope"), timeout=5, verify=idp.ca_bundle)
    assert missing.status_code == 404


# ---- Okta -------------------------------------------------------------------------------------------------
def test_okta_org_and_custom_servers(idp: DevIdP) -> None:
    okta = idp.profile("okta")
    assert isinstance(okta, OktaProfile)
    org = requests.get(
        f"{okta.root}/.well-known/openid-configuration?client_id=rp", timeout=5, verify=idp.ca_bundle
    ).json()
    alias = requests.get(
        f"{okta.api_url()}.well-known/openid-configuration?client_id=rp", timeout=5, verify=idp.ca_bundle
    ).json()
    assert org == alias and org["issuer"] == okta.root
    assert org["authorization_endpoint"] == f"{okta.root}/oauth2/v1/authorize"
    custom = requests.get(
        f"{okta.api_url('default')}.well-known/openid-configuration?client_id=rp", timeout=5, verify=idp.ca_bundle
    ).json()
    assert custom["issuer"] == f"{okta.root}/oauth2/default" == idp.issuer("okta", server="default")
    assert custom["token_endpoint"] == f"{okta.root}/oauth2/default/v1/token"
    bad = requests.get(f"{okta.root}/.well-known/openid-configuration?client_id=ghost", timeout=5, verify=idp.ca_bundle)
    assert bad.status_code == 400
    unknown = requests.get(f"{okta.root}/oauth2/nope/.well-known/openid-configuration", timeout=5, verify=idp.ca_bundle)
    assert unknown.status_code == 404


def test_okta_groups_only_with_groups_scope(idp: DevIdP) -> None:
    rp = rp_for(idp, idp.discovery_url("okta", server="default"))
    plain = rp.code_flow("alice", scope="openid profile email")
    assert "groups" not in plain.id_claims and plain.id_claims["sub"].startswith("00u")
    assert plain.id_claims["preferred_username"] == "alice"
    assert "refresh_token" not in plain.tokens  # only with offline_access
    access = unverified(plain.tokens["access_token"])
    assert access["aud"] == "api://default" and access["cid"] == "rp" and "openid" in access["scp"]
    with_groups = rp.code_flow("alice", scope="openid profile email groups offline_access")
    assert with_groups.id_claims["groups"] == ["netbox-admins"] and with_groups.tokens["refresh_token"]
    info = requests.get(
        rp.config["userinfo_endpoint"],
        timeout=5,
        verify=idp.ca_bundle,
        headers={"Authorization": f"Bearer {with_groups.tokens['access_token']}"},
    ).json()
    assert info["groups"] == ["netbox-admins"] and info["sub"] == with_groups.id_claims["sub"]


def test_okta_logout_needs_id_token_hint(idp: DevIdP) -> None:
    rp = rp_for(idp, idp.discovery_url("okta"))
    result = rp.code_flow("bob")
    ep = rp.config["end_session_endpoint"]
    assert rp.http.get(ep, verify=idp.ca_bundle, allow_redirects=False).status_code == 400
    ok = rp.http.get(
        ep,
        verify=idp.ca_bundle,
        allow_redirects=False,
        params={"id_token_hint": result.tokens["id_token"], "post_logout_redirect_uri": REDIRECT, "state": "s"},
    )
    assert ok.status_code == 302 and ok.headers["Location"] == f"{REDIRECT}?state=s"


# ---- Entra ID ---------------------------------------------------------------------------------------------
@pytest.fixture
def entra(idp: DevIdP) -> EntraProfile:
    profile = idp.profile("entra")
    assert isinstance(profile, EntraProfile)
    return profile


def entra_flow(
    idp: DevIdP, entra: EntraProfile, username: str, *, layout: str = "v1", tenant: str = "common", **extra: str
) -> tuple[RelyingParty, Any]:
    rp = rp_for(idp, entra.url("discovery", {"layout": layout, "tenant": tenant}))
    scope = extra.pop("scope", "openid profile email" if layout == "v1" else "openid profile email User.Read")
    return rp, rp.code_flow(username, scope=scope, pkce=None, verify=False, **extra)


def test_entra_v1_discovery_matches_social_core_urls(idp: DevIdP, entra: EntraProfile) -> None:
    base = f"https://{entra.authority_host}/common"  # what azuread-oauth2 builds from AUTHORITY_HOST
    doc = requests.get(f"{base}/.well-known/openid-configuration", timeout=5, verify=idp.ca_bundle).json()
    assert doc["issuer"] == "https://sts.windows.net/{tenantid}/"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/token"
    keys = requests.get(doc["jwks_uri"], timeout=5, verify=idp.ca_bundle).json()["keys"]
    assert keys and all("issuer" not in k for k in keys)
    tenant_doc = requests.get(
        entra.url("discovery", {"layout": "v1", "tenant": entra.home_tenant_id}), timeout=5, verify=idp.ca_bundle
    ).json()
    assert tenant_doc["issuer"] == f"https://sts.windows.net/{entra.home_tenant_id}/"
    assert (
        requests.get(
            f"{entra.root}/no-such-tenant/.well-known/openid-configuration", timeout=5, verify=idp.ca_bundle
        ).status_code
        == 404
    )


def test_entra_v1_tokens(idp: DevIdP, entra: EntraProfile) -> None:
    rp, result = entra_flow(idp, entra, "alice", resource="https://graph.microsoft.com/")
    assert "iss" not in result.callback  # Entra does not send RFC 9207 iss
    tokens = result.tokens
    assert tokens["expires_in"] == "3599" and tokens["expires_on"].isdigit()  # v1 strings
    assert tokens["resource"] == "https://graph.microsoft.com/" and tokens["refresh_token"]
    claims = rp.verify_id_token(tokens["id_token"], issuer=f"https://sts.windows.net/{entra.home_tenant_id}/", leeway=0)
    assert claims["ver"] == "1.0" and claims["tid"] == entra.home_tenant_id
    assert claims["upn"] == claims["unique_name"] == "alice@contoso.onmicrosoft.com"
    assert claims["email"] == "alice@example.com" and claims["xms_edov"] is True
    admins = entra.direct_groups(idp.users["alice"])[0].id
    assert admins in claims["groups"] and len(claims["groups"]) == 2  # transitive: + all-staff
    assert "azp" not in claims and "nbf" in claims and len(claims["sub"]) == 43
    access = unverified(tokens["access_token"])
    assert access["aud"] == "https://graph.microsoft.com/" and access["scp"] == "User.Read"


def test_entra_foreign_tenant_and_tenant_paths(idp: DevIdP, entra: EntraProfile) -> None:
    _, foreign = entra_flow(idp, entra, "mallory")
    claims = unverified(foreign.tokens["id_token"])
    assert claims["tid"] == entra.foreign_tenant_id
    assert claims["iss"] == f"https://sts.windows.net/{entra.foreign_tenant_id}/"
    assert claims["xms_edov"] is False and claims["email"] == "alice@example.com"  # nOAuth bait
    rp = rp_for(idp, entra.url("discovery", {"layout": "v1", "tenant": entra.home_tenant_id}))
    url, _ = rp.authorize_url(scope="openid", pkce=None)
    page = rp.sign_in(url, "mallory")
    assert page.status_code == 401 and "AADSTS50020" in page.text
    assert rp.callback_params(rp.sign_in(url, "alice"))["code"]


def test_entra_v2(idp: DevIdP, entra: EntraProfile) -> None:
    doc_url = entra.url("discovery", {"layout": "v2", "tenant": "organizations"})
    doc = requests.get(doc_url, timeout=5, verify=idp.ca_bundle).json()
    assert doc["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert doc["authorization_endpoint"] == f"{entra.root}/organizations/oauth2/v2.0/authorize"
    keys = requests.get(doc["jwks_uri"], timeout=5, verify=idp.ca_bundle).json()["keys"]
    assert {k["issuer"] for k in keys} == {"https://login.microsoftonline.com/{tenantid}/v2.0"}
    _, result = entra_flow(
        idp, entra, "bob", layout="v2", tenant="organizations", scope="openid profile email User.Read offline_access"
    )
    claims = unverified(result.tokens["id_token"])
    assert claims["iss"] == f"https://login.microsoftonline.com/{entra.home_tenant_id}/v2.0"
    assert claims["ver"] == "2.0" and claims["preferred_username"] == "bob@contoso.onmicrosoft.com"
    assert result.tokens["expires_in"] == 3599 and result.tokens["refresh_token"]
    access = unverified(result.tokens["access_token"])
    assert access["aud"] == "00000003-0000-0000-c000-000000000000" and "User.Read" in access["scp"].split()
    _, refused = entra_flow(idp, entra, "bob", layout="v2", resource="https://graph.microsoft.com")
    assert refused.callback["error"] == "invalid_request" and "AADSTS901002" in refused.callback["error_description"]


def graph(
    idp: DevIdP, entra: EntraProfile, token: str, path: str, method: str = "GET", **kwargs: Any
) -> requests.Response:
    url = path if path.startswith("https://") else f"{entra.graph_url}/v1.0{path}"
    return requests.request(
        method, url, headers={"Authorization": f"Bearer {token}"}, timeout=5, verify=idp.ca_bundle, **kwargs
    )


def test_entra_overage_and_graph(idp: DevIdP, entra: EntraProfile) -> None:
    _, result = entra_flow(idp, entra, "dave", resource="https://graph.microsoft.com")
    claims = unverified(result.tokens["id_token"])
    assert "groups" not in claims and claims["_claim_names"] == {"groups": "src1"}
    endpoint = claims["_claim_sources"]["src1"]["endpoint"]
    assert endpoint == f"{entra.graph_url}/v1.0/users/{claims['oid']}/getMemberObjects"
    token = result.tokens["access_token"]
    seen: list[dict[str, Any]] = []
    url = "/me/transitiveMemberOf?$select=id,displayName&$top=100"
    pages = 0
    while url:
        page = graph(idp, entra, token, url).json()
        seen += page["value"]
        url = page.get("@odata.nextLink")
        pages += 1
    assert pages == 3 and len(seen) == 252  # 251 direct + all-staff via nesting
    assert set(seen[0]) == {"@odata.type", "id", "displayName"}
    direct = graph(idp, entra, token, "/me/memberOf").json()
    assert len(direct["value"]) == 100 and "@odata.nextLink" in direct
    objects = graph(idp, entra, token, endpoint, "POST", json={"securityEnabledOnly": True}).json()["value"]
    assert len(objects) == 252
    check = graph(
        idp,
        entra,
        token,
        "/me/checkMemberGroups",
        "POST",
        json={"groupIds": [objects[0], "00000000-0000-0000-0000-000000000000"]},
    ).json()
    assert check["value"] == [objects[0]]
    too_many = graph(idp, entra, token, "/me/checkMemberGroups", "POST", json={"groupIds": objects[:21]})
    assert too_many.status_code == 400
    me = graph(idp, entra, token, "/me").json()
    assert me["id"] == claims["oid"] and me["userPrincipalName"] == "dave@contoso.onmicrosoft.com"
    other = entra.oid(idp.users["alice"])
    assert graph(idp, entra, token, f"/users/{other}/memberOf").status_code == 403


def test_entra_hasgroups_variant_and_graph_audience(idp: DevIdP, entra: EntraProfile) -> None:
    idp.upsert_user("hal", {"name": "Hal", "groups": [f"g{i}" for i in range(201)]}, overage="hasgroups")
    _, result = entra_flow(idp, entra, "hal")  # no resource: AAD Graph audience, not Microsoft Graph
    claims = unverified(result.tokens["id_token"])
    assert claims["hasgroups"] is True and "_claim_names" not in claims and "groups" not in claims
    denied = graph(idp, entra, result.tokens["access_token"], "/me/transitiveMemberOf")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert graph(idp, entra, "garbage", "/me").status_code == 401
    idp.set_fault("access_token_claims", claims={"scp": "openid"})
    _, weak = entra_flow(idp, entra, "hal", resource="https://graph.microsoft.com")
    assert graph(idp, entra, weak.tokens["access_token"], "/me/memberOf").status_code == 403


def test_entra_graph_faults(idp: DevIdP, entra: EntraProfile) -> None:
    _, result = entra_flow(idp, entra, "alice", resource="https://graph.microsoft.com")
    idp.set_fault("status", code=503, endpoint="graph", times=1)
    assert graph(idp, entra, result.tokens["access_token"], "/me/memberOf").status_code == 503
    assert graph(idp, entra, result.tokens["access_token"], "/me/memberOf").status_code == 200


# ---- Authentik-like ---------------------------------------------------------------------------------------
def test_authentik_issuer_has_trailing_slash_and_group_names(idp: DevIdP) -> None:
    rp = rp_for(idp, idp.discovery_url("authentik", slug="rp"))
    assert rp.config["issuer"] == f"{idp.base_url}/authentik/application/o/rp/"
    assert rp.config["authorization_endpoint"] == f"{idp.base_url}/authentik/application/o/authorize/"
    claims = rp.code_flow("bob").id_claims
    assert claims["groups"] == ["netbox-editors"] and "realm_access" not in claims


def test_entra_v2_userinfo_has_no_groups(idp: DevIdP, entra: EntraProfile) -> None:
    rp, result = entra_flow(idp, entra, "alice", layout="v2", tenant="common")
    assert rp.config["userinfo_endpoint"] == f"{entra.graph_url}/oidc/userinfo"
    info = requests.get(
        rp.config["userinfo_endpoint"],
        timeout=5,
        verify=idp.ca_bundle,
        headers={"Authorization": f"Bearer {result.tokens['access_token']}"},
    ).json()
    assert info["sub"] == unverified(result.tokens["id_token"])["sub"] and "groups" not in info
    assert info["email"] == "alice@example.com"
