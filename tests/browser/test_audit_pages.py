"""What an administrator sees: the SSO events list, an event's detail and the SSO status page."""

from __future__ import annotations

import pytest

from netbox_sso.devstack.login import sso_login
from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.browser.conftest import local_sign_in
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {'debug_claims': True, 'backends': {'oidc': {
    'group_map': {'netbox-users': 'Users', 'netbox-admins': 'Admins'},
    'superuser_groups': ['netbox-admins'],
    'required_groups': ['netbox-users', 'netbox-admins'],
    'create_groups': True,
}}}}
"""


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    instance = netbox_factory(block + CONFIG)
    for name, groups in (("pages-amy", ["netbox-users", "netbox-admins"]), ("pages-bo", ["contractors"])):
        idp.upsert_user(
            name,
            {
                "sub": f"sub-{name}",
                "preferred_username": name,
                "email": f"{name}@example.com",
                "email_verified": True,
                "groups": groups,
            },
            replace_claims=True,
        )
        sso_login(instance.url, "oidc", name, verify=str(idp.ca_bundle))
    return instance


def test_events_list_detail_and_status_page(netbox, page, artifacts_dir):
    local_sign_in(page, netbox.url, ADMIN_USERNAME, ADMIN_PASSWORD)

    page.goto(f"{netbox.url}/plugins/sso/events/")
    table = page.locator("table.object-list")
    assert table.get_by_text("Login succeeded").count() >= 1
    assert table.get_by_text("Login refused").count() == 1
    assert table.get_by_text("pages-bo").count() >= 1
    assert page.get_by_text("Single sign-on").count() >= 1  # the plugin's menu
    page.screenshot(path=str(artifacts_dir / "audit-01-events-list.png"), full_page=True)

    page.goto(f"{netbox.url}/plugins/sso/events/?event=refused")
    page.locator("table.object-list tbody a").first.click()
    page.wait_for_url(f"{netbox.url}/plugins/sso/events/*/")
    assert page.get_by_text("required_groups").count() >= 1
    assert page.get_by_text("contractors").count() >= 1
    page.screenshot(path=str(artifacts_dir / "audit-02-event-refused-detail.png"), full_page=True)

    page.goto(f"{netbox.url}/plugins/sso/events/?event=claims_captured&username=pages-amy")
    page.locator("table.object-list tbody a").first.click()
    page.wait_for_url(f"{netbox.url}/plugins/sso/events/*/")
    assert page.get_by_text("netbox-sso explain --claims").count() == 1
    page.screenshot(path=str(artifacts_dir / "audit-03-claims-captured-detail.png"), full_page=True)

    page.goto(f"{netbox.url}/plugins/sso/status/")
    assert page.locator("#sso-providers").get_by_text(f"{netbox.url}/oauth/complete/oidc/").count() == 1
    assert page.locator("#sso-providers").get_by_text("netbox_sso.backends.oidc.OpenIdConnect").count() == 1
    assert page.locator("#sso-mapping").get_by_text("netbox-admins").count() >= 1
    assert page.locator("#sso-doctor").get_by_text("netbox-sso doctor").count() == 1
    assert page.locator("#sso-events").get_by_text("pages-amy").count() >= 1
    page.screenshot(path=str(artifacts_dir / "audit-04-status-page.png"), full_page=True)

    # Run doctor from the page: live probes against devidp with NetBox's own settings, result cached.
    page.click("#run-doctor")
    page.wait_for_url(f"{netbox.url}/plugins/sso/status/")
    doctor = page.locator("#sso-doctor")
    assert doctor.get_by_text("Generated").count() == 1
    assert doctor.get_by_text("redirect.uris").count() == 1
    assert doctor.locator("td", has_text="error").count() == 0
    # The client ID and secret were proven against the provider, not just the token endpoint's presence.
    assert doctor.locator(".doctor-probes").get_by_text("credentials ok").count() == 1
    assert doctor.locator("td", has_text="credentials ok: the provider accepted client ID").count() == 1
    page.screenshot(path=str(artifacts_dir / "audit-05-status-doctor.png"), full_page=True)
