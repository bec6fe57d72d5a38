"""devidp's directories: Keycloak's Admin REST API user list and Authentik's users API, with their paging,
their authentication, disabled users and removed users (netbox_sso.devidp.directory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from netbox_sso.devidp import DevIdP
from netbox_sso.devidp.model import stable_id


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    users = [{"username": f"user{i:02d}", "claims": {"email": f"user{i:02d}@example.com"}} for i in range(7)]
    server = DevIdP(users=users, profiles=("keycloak", "authentik"), state_dir=tmp_path_factory.mktemp("devidp"))
    server.start()
    server.register_client("reconciler", "s3cret", roles=["view-users"])
    server.register_client("plain", "s3cret")
    server.register_api_token("ak-admin-token")
    server.register_api_token("ak-own-token", owner="user03")
    yield server
    server.stop()


def service_token(idp: DevIdP, client: str) -> str:
    token_url = idp.profile("keycloak").url("token")
    response = requests.post(token_url, data={"grant_type": "client_credentials"}, auth=(client, "s3cret"), timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def keycloak(idp: DevIdP, path: str, token: str | None, **params: object) -> requests.Response:
    url = f"{idp.profile('keycloak').root}/admin/realms/netbox/{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, params=params, timeout=5)


def authentik(idp: DevIdP, path: str, token: str | None, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{idp.profile('authentik').url('api_users')}{path}", headers=headers, params=params, timeout=5)


def test_keycloak_lists_users_in_pages_with_the_sub_as_id_and_the_enabled_flag(idp):
    token = service_token(idp, "reconciler")
    first = keycloak(idp, "users", token, first=0, max=5, briefRepresentation="true").json()
    rest = keycloak(idp, "users", token, first=5, max=5, briefRepresentation="true").json()
    assert [u["username"] for u in first + rest] == [f"user{i:02d}" for i in range(7)]
    assert len(first) == 5 and all(u["enabled"] is True for u in first + rest)
    assert first[0]["id"] == stable_id("user", "user00")  # the sub devidp signs for this user
    assert keycloak(idp, "users/count", token).json() == 7
    assert keycloak(idp, f"users/{first[1]['id']}", token).json()["username"] == "user01"


def test_keycloak_shows_a_disabled_user_and_forgets_a_removed_one(idp):
    token = service_token(idp, "reconciler")
    idp.upsert_user("gone", {}, disabled=False)
    idp.upsert_user("off", {}, disabled=True)
    listed = {u["username"]: u for u in keycloak(idp, "users", token, max=100).json()}
    assert listed["off"]["enabled"] is False and "gone" in listed
    idp.remove_user("gone")
    idp.remove_user("off")
    listed = {u["username"] for u in keycloak(idp, "users", token, max=100).json()}
    assert "gone" not in listed and "off" not in listed
    missing = keycloak(idp, f"users/{stable_id('user', 'gone')}", token)
    assert missing.status_code == 404 and missing.json() == {"error": "User not found"}


def test_keycloak_refuses_no_token_401_and_a_client_without_view_users_403(idp):
    assert keycloak(idp, "users", None).status_code == 401
    assert keycloak(idp, "users", "not-a-token").status_code == 401
    assert keycloak(idp, "users", service_token(idp, "plain")).status_code == 403


def test_authentik_pages_users_with_uid_as_the_sub_and_is_active(idp):
    idp.upsert_user("zz-off", {}, disabled=True)
    try:
        page1 = authentik(idp, "", "ak-admin-token", page=1, page_size=5).json()
        page2 = authentik(idp, "", "ak-admin-token", page=2, page_size=5).json()
        assert page1["pagination"]["count"] == 8 and page1["pagination"]["next"] == 2
        assert page2["pagination"]["next"] == 0 and len(page2["results"]) == 3
        results = page1["results"] + page2["results"]
        assert results[0]["uid"] == stable_id("user", "user00") and results[0]["is_active"] is True
        assert results[-1]["username"] == "zz-off" and results[-1]["is_active"] is False
        one = authentik(idp, f"{results[2]['pk']}/", "ak-admin-token").json()
        assert one["username"] == "user02"
        assert authentik(idp, "", "ak-admin-token", page=3, page_size=5).status_code == 404
    finally:
        idp.remove_user("zz-off")


def test_authentik_refuses_unknown_tokens_and_a_token_without_view_permission_sees_only_its_owner(idp):
    assert authentik(idp, "", None).status_code == 403
    assert authentik(idp, "", "wrong").json() == {"detail": "Token invalid/expired"}
    own = authentik(idp, "", "ak-own-token").json()
    assert [u["username"] for u in own["results"]] == ["user03"] and own["pagination"]["count"] == 1


def test_a_status_fault_on_the_directory_answers_every_directory_call(idp):
    idp.set_fault("status", code=503, endpoint="directory", times=2)
    try:
        assert keycloak(idp, "users", service_token(idp, "reconciler")).status_code == 503
        assert authentik(idp, "", "ak-admin-token").status_code == 503
        assert authentik(idp, "", "ak-admin-token").status_code == 200
    finally:
        idp.clear_faults()
