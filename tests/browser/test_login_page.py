"""What a person sees: the SSO button on NetBox's login page, devidp's page, and the signed-in user."""

from __future__ import annotations

import pytest

from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    return netbox_factory(
        reference_block(
            "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
        )
    )


def test_sso_button_leads_to_signed_in_user(netbox, page, artifacts_dir):
    page.goto(f"{netbox.url}/login/")
    button = page.locator("form.sso-login-form button")
    assert button.count() == 1
    assert button.first.is_visible()
    page.screenshot(path=str(artifacts_dir / "01-login-page-sso-button.png"), full_page=True)

    button.first.click()
    page.wait_for_selector("button[name=username][value=alice]")
    page.screenshot(path=str(artifacts_dir / "02-devidp-sign-in.png"), full_page=True)

    page.click("button[name=username][value=alice]")
    page.wait_for_url(f"{netbox.url}/**")
    page.goto(f"{netbox.url}/user/profile/")
    assert page.url.startswith(f"{netbox.url}/user/profile/")
    assert "alice" in page.content()
    page.screenshot(path=str(artifacts_dir / "03-signed-in-profile.png"), full_page=True)
