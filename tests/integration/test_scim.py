"""SCIM 2.0 provisioning on real NetBox: RFC compliance (scim2-tester), Entra ID's and Okta's provisioning
sequences replayed by devidp's SCIM client, identity continuity with SSO sign-in, and deprovisioning that
ends API tokens and browser sessions on two NetBox instances sharing one database.
"""

from __future__ import annotations

import re

import pytest
import requests

from netbox_sso.devidp.model import stable_id
from netbox_sso.devidp.scim_client import SCIMClient, users_from_devidp
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET
from tests.integration.reference import reference_block
from tests.integration.test_okta_keycloak import okta_block

pytestmark = pytest.mark.integration

ENTRA = "azuread-oauth2"
OKTA = "okta-openidconnect"
SCIM_PATH = "/api/plugins/sso/scim/v2"


def scim_connection(netbox, name: str, *args: str) -> str:
    """Create a connection with the management command; return the token it prints once."""
    out = netbox.manage("sso_scim", "create", name, *args)
    match = re.search(r"(nbscim_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43})", out)
    assert match, out
    return match[1]


def api_token(netbox, username: str) -> str:
    out = netbox.shell(
        "from users.models import Token, User\n"
        f"t = Token(user=User.objects.get(username={username!r}), token=Token.generate())\n"
        "t.save()\nprint('TOKEN=' + t.get_auth_header_prefix() + t.token)"
    )
    return out.split("TOKEN=", 1)[1].strip()


def api_status(netbox, token: str) -> int:
    return requests.get(
        f"{netbox.url}/api/users/config/", headers={"Authorization": token, "Accept": "application/json"}, timeout=30
    ).status_code


def browser_signed_in(netbox, session: requests.Session) -> bool:
    response = session.get(f"{netbox.url}/user/profile/", allow_redirects=False, timeout=30)
    return response.status_code == 200


def entra_config(idp) -> str:
    block = reference_block(
        "entra_id_group_mapping",
        application_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        tenant_id=idp.profile("entra").home_tenant_id,
        azure_group_id_for_superusers=stable_id("group", "netbox-admins"),
        azure_group_id_for_staff=stable_id("group", "staff"),
        azure_group_id=stable_id("group", "netbox-users"),
        netbox_group_name="Users",
        another_azure_group_id=stable_id("group", "ops"),
        another_netbox_group_name="Operators",
    )
    return (
        block + f"SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = {idp.profile('entra').authority_host!r}\n"
        "PLUGINS_CONFIG = {'netbox_sso': {'break_glass_users': ['admin']}}\n"
    )


@pytest.fixture(scope="module")
def entra_pair(netbox_factory, idp):
    """Two NetBox instances on one database (as behind a load balancer), configured for Entra ID."""
    first = netbox_factory(entra_config(idp))
    with first.db() as conn:
        conn.execute("INSERT INTO users_group (name, description) VALUES ('Users', ''), ('Operators', '')")
    second = netbox_factory(entra_config(idp), share_with=first)
    return first, second


@pytest.fixture(scope="module")
def entra_token(entra_pair, idp):
    return scim_connection(
        entra_pair[0], "entra", "--backend", ENTRA, "--tenant-id", idp.profile("entra").home_tenant_id
    )


def scim(netbox, token: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return requests.request(method, f"{netbox.url}{SCIM_PATH}{path}", headers=headers, timeout=30, **kwargs)


def test_requests_without_a_valid_token_get_401_in_scims_error_schema(entra_pair, entra_token):
    netbox = entra_pair[0]
    for headers in ({}, {"Authorization": "Bearer nbscim_aaaaaaaaaaaa_" + "b" * 43}, {"Authorization": "Basic x"}):
        response = requests.get(f"{netbox.url}{SCIM_PATH}/Users", headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.headers["Content-Type"].startswith("application/scim+json")
        assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert entra_token not in netbox.log_file.read_text()


def test_entras_random_username_probe_gets_an_empty_list(entra_pair, entra_token):
    client = SCIMClient(f"{entra_pair[0].url}{SCIM_PATH}", entra_token, "entra")
    answer = client.probe()
    assert answer["totalResults"] == 0 and answer["Resources"] == []
    assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_bad_requests_are_answered_in_scims_error_schema_never_500(entra_pair, entra_token):
    netbox = entra_pair[0]
    cases = [
        ("GET", "/Users", {"params": {"filter": "userName eq"}}, 400),
        ("GET", "/Users", {"params": {"filter": 'nickName eq "x"'}}, 400),
        ("GET", "/Users/not-an-id", {}, 404),
        ("GET", "/Groups/00000000-0000-0000-0000-000000000000", {}, 404),
        ("POST", "/Users", {"data": b"{not json"}, 400),
        ("POST", "/Users", {"json": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}}, 400),
        (
            "POST",
            "/Users",
            {
                "json": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "x@contoso.example",
                    "externalId": "mailnickname",
                }
            },
            400,
        ),
        ("GET", "/Nothing", {}, 404),
    ]
    for method, path, kwargs, status in cases:
        response = scim(netbox, entra_token, method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["detail"]
    object_id_hint = scim(netbox, entra_token, "POST", "/Users", json=cases[6][2]["json"]).json()["detail"]
    assert "objectId" in object_id_hint and "externalId" in object_id_hint


def test_scim2_tester_finds_no_failures(entra_pair):
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    netbox = entra_pair[0]
    token = scim_connection(netbox, "compliance", "--backend", "oidc")
    http = Client(base_url=f"{netbox.url}{SCIM_PATH}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client)
    failures = [f"{r.title}: {r.reason}" for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert results and not failures, "\n".join(failures)
    assert sum(r.status == Status.SUCCESS for r in results) >= 20


def test_entra_sequence_provisions_maps_groups_and_sso_lands_on_the_same_account(entra_pair, entra_token, idp, login):
    first, second = entra_pair
    idp.upsert_user(
        "scim-amy",
        {
            "preferred_username": "scim-amy",
            "email": "scim-amy@contoso.example",
            "email_verified": True,
            "given_name": "Amy",
            "family_name": "Scim",
            "groups": ["netbox-users"],
        },
        replace_claims=True,
    )
    [amy] = users_from_devidp(idp, "entra", ["scim-amy"])
    client = SCIMClient(f"{first.url}{SCIM_PATH}", entra_token, "entra")
    client.push([amy])
    account = db.user(first, amy.user_name)
    assert account is not None and account["is_active"], db.usernames(first)
    assert account["first_name"] == "Amy" and account["email"] == "scim-amy@contoso.example"
    assert db.user_groups(first, amy.user_name) == {"Users"}
    [(provider, uid)] = db.social_links(first, account["id"])
    assert provider == ENTRA and uid == f"{idp.profile('entra').home_tenant_id}:{amy.external_id}".lower()

    client.apply_changes(
        [
            {"op": "update", "user": amy.user_name, "given_name": "Amelia"},
            {
                "op": "add_to_group",
                "user": amy.user_name,
                "group": "ops",
                "group_external_id": stable_id("group", "ops"),
            },
            {
                "op": "add_to_group",
                "user": amy.user_name,
                "group": "netbox-admins",
                "group_external_id": stable_id("group", "netbox-admins"),
            },
        ],
        {amy.user_name: amy},
    )
    assert db.user(first, amy.user_name)["first_name"] == "Amelia"
    assert db.user_groups(first, amy.user_name) == {"Users", "Operators"}
    assert db.user(first, amy.user_name)["is_superuser"] is True
    client.apply_changes(
        [
            {"op": "remove_from_group", "user": amy.user_name, "group": "ops"},
            {"op": "remove_from_group", "user": amy.user_name, "group": "netbox-admins"},
        ],
        {amy.user_name: amy},
    )
    assert db.user_groups(first, amy.user_name) == {"Users"}
    assert db.user(first, amy.user_name)["is_superuser"] is False

    users_before = db.user_count(first)
    result = login(first, "scim-amy", backend=ENTRA)
    assert result.logged_in, (result.messages, first.tail_logs())
    assert db.user_count(first) == users_before
    assert db.social_links(first, account["id"]) == [(provider, uid)]

    # Deprovisioning: the API token stops working, the browser session ends on both instances.
    token = api_token(first, amy.user_name)
    assert api_status(first, token) == 200
    assert browser_signed_in(first, result.session) and browser_signed_in(second, result.session)
    client.apply_changes([{"op": "disable", "user": amy.user_name}], {amy.user_name: amy})
    assert db.user(first, amy.user_name)["is_active"] is False
    assert api_status(first, token) == 403
    assert api_status(second, token) == 403
    assert not browser_signed_in(second, result.session)
    assert not browser_signed_in(first, result.session)

    # Reactivation restores the account and the tokens it disabled; DELETE deprovisions for good.
    client.apply_changes([{"op": "enable", "user": amy.user_name}], {amy.user_name: amy})
    assert db.user(first, amy.user_name)["is_active"] is True
    assert api_status(second, token) == 200
    amy_id = client.user_ids[amy.user_name]
    client.apply_changes([{"op": "delete", "user": amy.user_name}], {amy.user_name: amy})
    assert db.user(first, amy.user_name)["is_active"] is False
    assert api_status(first, token) == 403
    assert scim(first, entra_token, "GET", f"/Users/{amy_id}").status_code == 404


@pytest.fixture(scope="module")
def okta_netbox(netbox_factory, idp):
    mapping = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'okta-openidconnect': {
    'group_map': {'NetBox Admins': 'Admins', 'NetBox Operators': 'Operators'},
    'superuser_groups': ['NetBox Admins'],
    'create_groups': True,
}}}}
"""
    return netbox_factory(okta_block(idp) + mapping)


def test_okta_sequence_with_put_groups_and_deactivation_lands_on_the_same_account(okta_netbox, idp, login):
    token = scim_connection(okta_netbox, "okta", "--backend", OKTA, "--token-action", "expire")
    idp.upsert_user(
        "scim-bob",
        {
            "preferred_username": "scim-bob@example.com",
            "email": "scim-bob@example.com",
            "email_verified": True,
            "given_name": "Bob",
            "family_name": "Scim",
            "groups": ["NetBox Operators"],
        },
        replace_claims=True,
    )
    [bob] = users_from_devidp(idp, "okta", ["scim-bob"])
    client = SCIMClient(f"{okta_netbox.url}{SCIM_PATH}", token, "okta")
    client.push([bob])
    assert db.user_groups(okta_netbox, bob.user_name) == {"Operators"}
    client.apply_changes(
        [
            {"op": "add_to_group", "user": bob.user_name, "group": "NetBox Admins"},
            {"op": "remove_from_group", "user": bob.user_name, "group": "NetBox Operators"},
        ],
        {bob.user_name: bob},
    )
    assert db.user_groups(okta_netbox, bob.user_name) == {"Admins"}
    assert db.user(okta_netbox, bob.user_name)["is_superuser"] is True

    account = db.user(okta_netbox, bob.user_name)
    result = login(okta_netbox, "scim-bob", backend=OKTA)
    assert result.logged_in, (result.messages, okta_netbox.tail_logs())
    [(provider, uid)] = db.social_links(okta_netbox, account["id"])
    assert provider == OKTA and uid == bob.external_id and uid.startswith("00u")
    assert db.usernames(okta_netbox).count(bob.user_name) == 1

    api = api_token(okta_netbox, bob.user_name)
    assert api_status(okta_netbox, api) == 200
    client.apply_changes([{"op": "disable", "user": bob.user_name}], {bob.user_name: bob})
    assert db.user(okta_netbox, bob.user_name)["is_active"] is False
    assert api_status(okta_netbox, api) == 403
    assert not browser_signed_in(okta_netbox, result.session)
    client.apply_changes([{"op": "enable", "user": bob.user_name}], {bob.user_name: bob})
    assert db.user(okta_netbox, bob.user_name)["is_active"] is True
    assert api_status(okta_netbox, api) == 403  # token_action expire: not restored


def test_dry_run_reports_deprovisioning_without_changing_and_break_glass_is_never_provisioned(entra_pair, idp):
    netbox = entra_pair[0]
    token = scim_connection(
        netbox, "entra-dry", "--backend", ENTRA, "--tenant-id", idp.profile("entra").home_tenant_id, "--dry-run", "on"
    )
    idp.upsert_user(
        "scim-dana",
        {
            "preferred_username": "scim-dana",
            "email": "scim-dana@contoso.example",
            "given_name": "Dana",
            "family_name": "Dry",
        },
        replace_claims=True,
    )
    [dana] = users_from_devidp(idp, "entra", ["scim-dana"])
    client = SCIMClient(f"{netbox.url}{SCIM_PATH}", token, "entra")
    client.push([dana])
    client.apply_changes([{"op": "disable", "user": dana.user_name}], {dana.user_name: dana})
    assert db.user(netbox, dana.user_name)["is_active"] is True
    with netbox.db() as conn:
        reasons = [
            row[0]
            for row in conn.execute(
                "SELECT reason FROM netbox_sso_ssoevent WHERE event = 'scim_deprovisioned' AND username = %s",
                (dana.user_name,),
            )
        ]
    assert reasons == ["dry_run"]

    refused = scim(
        netbox,
        token,
        "POST",
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "admin",
            "externalId": "0d4a8c1e-5b7f-4e2a-9c3d-1f2e3a4b5c6d",
        },
    )
    assert refused.status_code == 409 and "break-glass" in refused.json()["detail"]
