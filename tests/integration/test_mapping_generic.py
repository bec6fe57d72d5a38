"""Group, role and flag mapping for generic OIDC (plain `groups`, Keycloak-style nested roles) on real NetBox."""

from __future__ import annotations

import pytest

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

MAPPING = """
REMOTE_AUTH_DEFAULT_GROUPS = ['Everyone']
PLUGINS_CONFIG = {'netbox_sso': {
    'break_glass_users': ['admin'],
    'backends': {'oidc': {
        'groups_claim': 'groups',
        'group_map': {'netbox-admins': 'Admins', 'netbox-users': ['Users'], 'ops': ['Operators', 'Viewers']},
        'group_patterns': [{'match': 'team-*', 'groups': ['Teams']}],
        'superuser_groups': ['netbox-admins'],
        'required_groups': ['netbox-users', 'netbox-admins'],
        'create_groups': True,
        'permissions': {'Operators': [{'name': 'operators-view-sites', 'actions': ['view'],
                                       'object_types': ['dcim.site']}]},
    }},
}}
"""

KEYCLOAK_MAPPING = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'groups_claim': ['resource_access', 'netbox.app', 'roles'],
    'normalize': {'case': 'lower', 'strip_prefixes': ['/']},
    'group_map': {'editor': 'Editors', 'netbox/auditors': 'Auditors'},
    'create_groups': True,
}}}}
"""


def claims(username: str, groups: list[str] | None, **extra) -> dict:
    base = {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username.title(),
        "family_name": "Mapped",
    }
    if groups is not None:
        base["groups"] = groups
    return {**base, **extra}


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    generic = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    return netbox_factory(generic + MAPPING)


@pytest.fixture(scope="module")
def keycloak_netbox(netbox_factory, idp):
    generic = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    return netbox_factory(generic + KEYCLOAK_MAPPING)


def test_first_login_maps_groups_flags_and_default_groups(netbox, idp, login):
    groups = ["netbox-admins", "netbox-users", "ops", "team-blue", "other"]
    idp.upsert_user("map-ann", claims("map-ann", groups), replace_claims=True)
    result = login(netbox, "map-ann")
    assert result.logged_in, result.messages
    assert db.user_groups(netbox, "map-ann") == {"Admins", "Users", "Operators", "Viewers", "Teams", "Everyone"}
    assert db.user(netbox, "map-ann")["is_superuser"] is True


def test_permissions_as_code_are_created_with_the_group(netbox):
    with netbox.db() as conn:
        rows = conn.execute(
            "SELECT p.name, p.actions, ot.app_label, ot.model FROM users_objectpermission p "
            "JOIN users_group_object_permissions gp ON gp.objectpermission_id = p.id "
            "JOIN users_group g ON g.id = gp.group_id "
            "JOIN users_objectpermission_object_types pt ON pt.objectpermission_id = p.id "
            "JOIN django_content_type ot ON ot.id = pt.contenttype_id WHERE g.name = 'Operators'"
        ).fetchall()
    assert rows == [("operators-view-sites", ["view"], "dcim", "site")]


def test_mirror_adds_and_removes_managed_groups_and_keeps_manual_ones(netbox, idp, login):
    idp.upsert_user("map-ben", claims("map-ben", ["netbox-users", "ops"]), replace_claims=True)
    assert login(netbox, "map-ben").logged_in
    with netbox.db() as conn:  # an administrator adds a group no rule names, and removes a default one
        conn.execute("INSERT INTO users_group (name, description) VALUES ('Manual', '') ON CONFLICT DO NOTHING")
        conn.execute(
            "INSERT INTO users_user_groups (user_id, group_id) SELECT u.id, g.id FROM users_user u, "
            "users_group g WHERE u.username = 'map-ben' AND g.name = 'Manual'"
        )
        conn.execute(
            "DELETE FROM users_user_groups WHERE user_id = (SELECT id FROM users_user WHERE "
            "username = 'map-ben') AND group_id = (SELECT id FROM users_group WHERE name = 'Everyone')"
        )
    idp.upsert_user("map-ben", claims("map-ben", ["netbox-users", "team-red"]), replace_claims=True)
    assert login(netbox, "map-ben").logged_in
    assert db.user_groups(netbox, "map-ben") == {"Users", "Teams", "Manual"}


def test_superuser_is_revoked_when_the_user_leaves_every_superuser_group(netbox, idp, login):
    idp.upsert_user("map-cat", claims("map-cat", ["netbox-admins"]), replace_claims=True)
    assert login(netbox, "map-cat").logged_in
    assert db.user(netbox, "map-cat")["is_superuser"] is True
    idp.upsert_user("map-cat", claims("map-cat", ["netbox-users"]), replace_claims=True)
    assert login(netbox, "map-cat").logged_in
    assert db.user(netbox, "map-cat")["is_superuser"] is False
    assert "Admins" not in db.user_groups(netbox, "map-cat")


def test_required_groups_refuse_before_any_row_is_written(netbox, idp, login):
    idp.upsert_user("map-dan", claims("map-dan", ["contractors"]), replace_claims=True)
    result = login(netbox, "map-dan")
    assert not result.logged_in
    assert "netbox-users" in result.message_text, result.messages
    assert db.user(netbox, "map-dan") is None


def test_missing_claim_with_required_groups_refuses_with_a_specific_message(netbox, idp, login):
    idp.upsert_user("map-eve", claims("map-eve", None), replace_claims=True)
    result = login(netbox, "map-eve")
    assert not result.logged_in
    assert "groups" in result.message_text, result.messages
    assert db.user(netbox, "map-eve") is None


def test_break_glass_accounts_are_never_changed(netbox, idp, login):
    """An IdP identity claiming a break-glass name is refused; the local account keeps its state."""
    before = (db.user(netbox, "admin"), db.user_groups(netbox, "admin"))
    idp.upsert_user("impostor", claims("admin", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "impostor")
    assert not result.logged_in
    assert "admin" in result.message_text, result.messages
    assert (db.user(netbox, "admin"), db.user_groups(netbox, "admin")) == before
    assert before[0]["is_superuser"] is True


def test_keycloak_client_roles_with_a_dotted_client_id(keycloak_netbox, idp, login):
    idp.upsert_user(
        "kc-fay",
        {**claims("kc-fay", None), "resource_access": {"netbox.app": {"roles": ["Editor", "/netbox/auditors"]}}},
    )
    assert login(keycloak_netbox, "kc-fay").logged_in
    assert db.user_groups(keycloak_netbox, "kc-fay") == {"Editors", "Auditors"}


def test_missing_claim_without_required_groups_changes_nothing_and_warns(keycloak_netbox, idp, login):
    roles = {"resource_access": {"netbox.app": {"roles": ["editor"]}}}
    idp.upsert_user("kc-gus", {**claims("kc-gus", None), **roles}, replace_claims=True)
    assert login(keycloak_netbox, "kc-gus").logged_in
    assert db.user_groups(keycloak_netbox, "kc-gus") == {"Editors"}
    idp.upsert_user("kc-gus", claims("kc-gus", None), replace_claims=True)  # the roles claim disappears
    assert login(keycloak_netbox, "kc-gus").logged_in
    assert db.user_groups(keycloak_netbox, "kc-gus") == {"Editors"}
    log = keycloak_netbox.log_file.read_text()
    assert "mapping (oidc, kc-gus)" in log and "not found in id_token or userinfo" in log
    with keycloak_netbox.db() as conn:  # audited too, with the specific reason
        rows = conn.execute(
            "SELECT reason, details FROM netbox_sso_ssoevent WHERE event = 'mapping_warning' AND username = 'kc-gus'"
        ).fetchall()
    assert [reason for reason, _ in rows] == ["missing_groups_claim"]
    assert "resource_access" in rows[0][1]["groups_claim"]


BROKEN_PERMISSIONS = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'group_map': {'netbox-users': 'Users', 'ops': 'Broken'},
    'create_groups': True,
    'permissions': {'Broken': [{'name': 'broken', 'actions': ['view'], 'object_types': ['dcim.nosuchmodel']}]},
}}}}
"""


def test_a_failure_while_applying_leaves_no_half_provisioned_user(netbox_factory, idp, login):
    """Mapping fails after create_user (an object type that does not exist): the whole login rolls back."""
    generic = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    netbox = netbox_factory(generic + BROKEN_PERMISSIONS)
    idp.upsert_user("map-hal", claims("map-hal", ["netbox-users", "ops"]), replace_claims=True)
    result = login(netbox, "map-hal")
    assert not result.logged_in
    assert result.status_code == 200 and result.messages  # the login page with a message, not a 500
    assert db.user(netbox, "map-hal") is None
    with netbox.db() as conn:
        groups = {row[0] for row in conn.execute("SELECT name FROM users_group")}
        links = conn.execute("SELECT count(*) FROM social_auth_usersocialauth").fetchone()[0]
    assert "Broken" not in groups and "Users" not in groups
    assert links == 0
