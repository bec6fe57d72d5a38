"""Microsoft Entra ID on real NetBox: the reference's blocks verbatim (only AUTHORITY_HOST pointed at devidp).

Covers the plain login block, the group-mapping block (SOCIAL_AUTH_PIPELINE with the proprietary
`nbc_auth_extensions...azuread_map_groups` line and SOCIAL_AUTH_PIPELINE_CONFIG keyed by object IDs),
groups overage resolved through Microsoft Graph, and Graph refusing (fail closed).
"""

from __future__ import annotations

import pytest

from netbox_sso.devidp.model import stable_id
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

BACKEND = "azuread-oauth2"


def upn(idp, username: str) -> str:
    """Entra v1 ID tokens carry upn, not preferred_username: the NetBox username is the upn."""
    return idp.profile("entra").upn(idp.users[username])


def group_id(name: str) -> str:
    """devidp's Entra object ID for a directory group name."""
    return stable_id("group", name)


def authority(idp) -> str:
    return f"SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = {idp.profile('entra').authority_host!r}\n"


def graph(idp) -> str:
    return f"PLUGINS_CONFIG = {{'netbox_sso': {{'graph_url': {idp.profile('entra').graph_url!r}}}}}\n"


@pytest.fixture(scope="module")
def mapping_netbox(netbox_factory, idp):
    block = reference_block(
        "entra_id_group_mapping",
        application_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        tenant_id=idp.profile("entra").home_tenant_id,
        azure_group_id_for_superusers=group_id("netbox-admins"),
        azure_group_id_for_staff=group_id("staff"),
        azure_group_id=group_id("netbox-users"),
        netbox_group_name="Users",
        another_azure_group_id=group_id("ops"),
        another_netbox_group_name="Operators",
    )
    netbox = netbox_factory(block + authority(idp) + graph(idp))
    with netbox.db() as conn:  # the reference: "NetBox groups must already exist before mapping"
        conn.execute("INSERT INTO users_group (name, description) VALUES ('Users', ''), ('Operators', '')")
    return netbox


def test_reference_login_block_verbatim(netbox_factory, idp, login):
    block = reference_block(
        "entra_id", application_id=CLIENT_ID, client_secret=CLIENT_SECRET, tenant_id=idp.profile("entra").home_tenant_id
    )
    netbox = netbox_factory(block + authority(idp))
    idp.upsert_user(
        "entra-amy",
        {
            "email": "entra-amy@contoso.example",
            "email_verified": True,
            "given_name": "Amy",
            "family_name": "Adams",
            "name": "Amy Adams",
            "preferred_username": "entra-amy",
        },
        replace_claims=True,
    )
    result = login(netbox, "entra-amy", backend=BACKEND)
    assert result.logged_in, (result.messages, netbox.tail_logs())
    user = db.user(netbox, upn(idp, "entra-amy"))
    assert user is not None, db.usernames(netbox)
    assert user["email"] == "entra-amy@contoso.example"
    [(provider, uid)] = db.social_links(netbox, user["id"])
    assert provider == BACKEND
    oid = idp.profile("entra").oid(idp.users["entra-amy"])
    assert oid in uid  # keyed on the immutable object ID, never on the upn


def test_reference_mapping_block_verbatim_maps_groups_and_superuser(mapping_netbox, idp, login):
    idp.upsert_user(
        "entra-ben",
        {
            "preferred_username": "entra-ben",
            "email": "entra-ben@contoso.example",
            "email_verified": True,
            "groups": ["netbox-admins", "netbox-users", "ops"],
        },
        replace_claims=True,
    )
    result = login(mapping_netbox, "entra-ben", backend=BACKEND)
    assert result.logged_in, (result.messages, mapping_netbox.tail_logs())
    assert db.user_groups(mapping_netbox, upn(idp, "entra-ben")) == {"Users", "Operators"}
    assert db.user(mapping_netbox, upn(idp, "entra-ben"))["is_superuser"] is True
    log = mapping_netbox.log_file.read_text()
    assert "nbc_auth_extensions.azure_authentication.azuread_map_groups is provided by netbox-sso" in log
    assert "is_staff" in log  # accepted, ignored, and said so


def test_overage_is_resolved_through_graph(mapping_netbox, idp, login):
    idp.upsert_user(
        "entra-cal",
        {
            "preferred_username": "entra-cal",
            "email": "entra-cal@contoso.example",
            "email_verified": True,
            "groups": ["ops"],
        },
        replace_claims=True,
        extra_groups=250,
    )
    idp.clear_log()
    result = login(mapping_netbox, "entra-cal", backend=BACKEND)
    assert result.logged_in, (result.messages, mapping_netbox.tail_logs())
    assert db.user_groups(mapping_netbox, upn(idp, "entra-cal")) == {"Operators"}
    assert any("transitiveMemberOf" in path for _, path in idp.requests_log)


def test_graph_refusal_fails_closed_with_a_clear_message(mapping_netbox, idp, login):
    idp.upsert_user(
        "entra-dee",
        {
            "preferred_username": "entra-dee",
            "email": "entra-dee@contoso.example",
            "email_verified": True,
            "groups": ["netbox-users"],
        },
        replace_claims=True,
        extra_groups=250,
    )
    idp.set_fault("status", endpoint="graph", code=403)
    try:
        result = login(mapping_netbox, "entra-dee", backend=BACKEND)
    finally:
        idp.clear_faults()
    assert not result.logged_in
    assert "Graph" in result.message_text and "403" in result.message_text, result.messages
    assert db.user(mapping_netbox, upn(idp, "entra-dee")) is None


def test_a_mapped_group_that_does_not_exist_is_reported_by_name_not_created(mapping_netbox, idp, login):
    """The reference's mapping never creates groups: a missing one is named in the log and the audit trail."""
    with mapping_netbox.db() as conn:
        conn.execute(
            "DELETE FROM users_user_groups WHERE group_id IN (SELECT id FROM users_group WHERE name = 'Operators')"
        )
        conn.execute("DELETE FROM users_group WHERE name = 'Operators'")
    idp.upsert_user(
        "entra-eve",
        {
            "preferred_username": "entra-eve",
            "email": "entra-eve@contoso.example",
            "email_verified": True,
            "groups": ["netbox-users", "ops"],
        },
        replace_claims=True,
    )
    result = login(mapping_netbox, "entra-eve", backend=BACKEND)
    assert result.logged_in, result.messages
    username = upn(idp, "entra-eve")
    assert db.user_groups(mapping_netbox, username) == {"Users"}
    with mapping_netbox.db() as conn:
        assert conn.execute("SELECT count(*) FROM users_group WHERE name = 'Operators'").fetchone()[0] == 0
        [(reason, details)] = conn.execute(
            "SELECT reason, details FROM netbox_sso_ssoevent WHERE event = 'mapping_warning' AND username = %s",
            (username,),
        ).fetchall()
    assert reason == "missing_netbox_groups"
    assert any("Operators" in warning for warning in details["warnings"])
    assert "'Operators'" in mapping_netbox.log_file.read_text()
