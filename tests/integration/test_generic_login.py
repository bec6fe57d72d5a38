"""The first vertical slice: the reference's generic OIDC block, pasted verbatim, on real NetBox."""

from __future__ import annotations

import pytest
import requests

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def generic_config(idp) -> str:
    # The manual's own form: the discovery document URL, which stock social-core turns into a 404.
    return reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "generic")
    )


@pytest.fixture(scope="module")
def netbox(netbox_factory, generic_config):
    return netbox_factory(generic_config)


def test_reference_block_is_pasted_unchanged(generic_config, idp):
    assert "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = 'https://" in generic_config
    assert generic_config.rstrip().endswith("/.well-known/openid-configuration'")
    assert "social_core.backends.open_id_connect.OpenIdConnectAuth" in generic_config


def test_first_login_creates_user_from_claims(netbox, login):
    assert db.user(netbox, "alice") is None
    result = login(netbox, "alice")
    assert result.logged_in, (result.final_url, result.messages, netbox.tail_logs())
    row = db.user(netbox, "alice")
    assert row is not None
    assert (row["email"], row["first_name"], row["last_name"]) == ("alice@example.com", "Alice", "Archer")
    assert row["is_superuser"] is False
    assert db.social_links(netbox, row["id"]) == [("oidc", "3f1c2a9e-alice")]


def test_second_login_reuses_the_account(netbox, login):
    first = login(netbox, "bob")
    assert first.logged_in
    before = db.user(netbox, "bob")
    users_before = db.user_count(netbox)
    second = login(netbox, "bob")  # a new browser session, same identity
    assert second.logged_in
    assert second.session.cookies.get("sessionid") != first.session.cookies.get("sessionid")
    after = db.user(netbox, "bob")
    assert after["id"] == before["id"]
    assert db.user_count(netbox) == users_before
    assert db.social_links(netbox, after["id"]) == [("oidc", "7b2d4c1f-bob")]


def test_stock_netbox_fails_on_the_same_block(netbox_factory, generic_config):
    """Control: without netbox-sso the manual's endpoint form breaks the login button with HTTP 500."""
    stock = netbox_factory(generic_config, plugins=())
    session = requests.Session()
    page = session.get(f"{stock.url}/login/", timeout=30)
    token = session.cookies["csrftoken"]
    begin = session.post(
        f"{stock.url}/oauth/begin/oidc/",
        data={"csrfmiddlewaretoken": token},
        headers={"Accept": "application/json", "Referer": page.url},
        timeout=30,
        allow_redirects=False,
    )
    assert begin.status_code == 500
