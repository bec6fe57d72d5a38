"""Okta (reference block verbatim, only API_URL pointed at devidp) and Keycloak on real NetBox, with mapping."""

from __future__ import annotations

import pytest

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

OKTA = "okta-openidconnect"

OKTA_MAPPING = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'okta-openidconnect': {
    'group_map': {'NetBox Admins': 'Admins', 'NetBox Operators': 'Operators'},
    'superuser_groups': ['NetBox Admins'],
    'create_groups': True,
}}}}
"""

KEYCLOAK_MAPPING = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'groups_claim': 'realm_access.roles',
    'group_map': {'netbox-admin': 'Admins', 'netbox-viewer': 'Viewers'},
    'superuser_groups': ['netbox-admin'],
    'required_groups': ['netbox-admin', 'netbox-viewer'],
    'create_groups': True,
}}}}
"""


def okta_block(idp, server: str | None = None) -> str:
    # <okta-domain> is host:port/okta; a custom authorization server adds its ID to the API URL.
    domain = idp.profile("okta").api_url().split("://", 1)[1].removesuffix("/oauth2/")
    block = reference_block("okta", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, okta_domain=domain)
    if server:
        block = block.replace("/oauth2/'", f"/oauth2/{server}/'")
    return block


def okta_user(idp, name: str, groups: list[str]) -> None:
    idp.upsert_user(
        name,
        {
            "preferred_username": f"{name}@example.com",
            "email": f"{name}@example.com",
            "email_verified": True,
            "given_name": name.title(),
            "family_name": "Okta",
            "groups": groups,
        },
        replace_claims=True,
    )


@pytest.fixture(scope="module")
def okta_netbox(netbox_factory, idp):
    return netbox_factory(okta_block(idp) + OKTA_MAPPING)


def test_okta_reference_block_verbatim_org_server(okta_netbox, idp, login):
    okta_user(idp, "okta-ann", ["NetBox Admins", "Everyone"])
    result = login(okta_netbox, "okta-ann", backend=OKTA)
    assert result.logged_in, (result.messages, okta_netbox.tail_logs())
    user = db.user(okta_netbox, "okta-ann@example.com") or db.user(okta_netbox, "okta-ann")
    assert user is not None, db.usernames(okta_netbox)
    [(provider, uid)] = db.social_links(okta_netbox, user["id"])
    assert provider == OKTA and uid.startswith("00u")  # keyed on Okta's immutable sub


def test_okta_groups_scope_is_requested_and_mapped(okta_netbox, idp, login):
    okta_user(idp, "okta-ben", ["NetBox Operators"])
    result = login(okta_netbox, "okta-ben", backend=OKTA)
    assert result.logged_in, result.messages
    authorize = next(url for url in result.history if "/authorize" in url)
    assert "groups" in authorize.split("scope=", 1)[1].split("&", 1)[0]
    username = next(name for name in db.usernames(okta_netbox) if name.startswith("okta-ben"))
    assert db.user_groups(okta_netbox, username) == {"Operators"}


def test_okta_custom_authorization_server(netbox_factory, idp, login):
    netbox = netbox_factory(okta_block(idp, server="default"))
    okta_user(idp, "okta-cid", [])
    result = login(netbox, "okta-cid", backend=OKTA)
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_keycloak_realm_roles_mapping(netbox_factory, idp, login):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "keycloak")
    )
    netbox = netbox_factory(block + KEYCLOAK_MAPPING)
    idp.upsert_user(
        "kc-ada",
        {
            "preferred_username": "kc-ada",
            "email": "kc-ada@example.com",
            "email_verified": True,
            "realm_access": {"roles": ["netbox-admin", "offline"]},
        },
        replace_claims=True,
    )
    idp.upsert_user(
        "kc-bea",
        {
            "preferred_username": "kc-bea",
            "email": "kc-bea@example.com",
            "email_verified": True,
            "realm_access": {"roles": ["offline"]},
        },
        replace_claims=True,
    )
    assert login(netbox, "kc-ada").logged_in
    assert db.user_groups(netbox, "kc-ada") == {"Admins"}
    assert db.user(netbox, "kc-ada")["is_superuser"] is True
    refused = login(netbox, "kc-bea")
    assert not refused.logged_in
    assert "netbox-admin" in refused.message_text, refused.messages
    assert db.user(netbox, "kc-bea") is None
