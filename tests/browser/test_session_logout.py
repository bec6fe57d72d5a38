"""A real browser's NetBox session ends when the identity provider ends the user's session (back-channel
logout), and NetBox's logout ends the provider's session too (RP-initiated logout)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block
from tests.integration.test_sessions import claims, register_backchannel

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    return netbox_factory(
        reference_block(
            "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
        )
    )


def sign_in(page, netbox, username: str) -> None:
    page.goto(f"{netbox.url}/login/")
    page.locator("form.sso-login-form button").first.click()
    page.click(f"button[name=username][value={username}]")
    page.wait_for_url(f"{netbox.url}/**")
    page.goto(f"{netbox.url}/user/profile/")
    assert urlsplit(page.url).path == "/user/profile/"


def test_backchannel_logout_ends_the_browser_session(netbox, idp, page, artifacts_dir):
    register_backchannel(idp, f"{netbox.url}/oauth/backchannel-logout/oidc/")
    idp.upsert_user("bcl-browser", claims("bcl-browser", []), replace_claims=True)
    sign_in(page, netbox, "bcl-browser")
    idp.clear_log()
    assert idp.end_user_sessions("bcl-browser") == 1  # an administrator disables the user at the provider
    assert [entry.get("status") for entry in idp.backchannel_log] == [200], idp.backchannel_log
    page.goto(f"{netbox.url}/dcim/sites/")
    assert urlsplit(page.url).path == "/login/"
    page.screenshot(path=str(artifacts_dir / "sessions-01-backchannel-logout.png"), full_page=True)


def test_netbox_logout_signs_out_at_the_provider(netbox, idp, page, artifacts_dir):
    idp.upsert_user("rpl-browser", claims("rpl-browser", []), replace_claims=True)
    sign_in(page, netbox, "rpl-browser")
    page.goto(f"{netbox.url}/logout/")
    page.wait_for_url(f"{netbox.url}/login/**")
    assert "You have logged out." in page.content()
    assert idp.end_user_sessions("rpl-browser") == 0
    page.screenshot(path=str(artifacts_dir / "sessions-02-rp-logout.png"), full_page=True)
    # Signing in again needs the provider's sign-in page: its session is over.
    page.locator("form.sso-login-form button").first.click()
    page.wait_for_selector("button[name=username][value=rpl-browser]")
