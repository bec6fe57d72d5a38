"""A person signs in through SSO and can see what their mapped group's ObjectPermission allows, nothing more."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sso_sign_in
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = [pytest.mark.integration, pytest.mark.browser]

MAPPING = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'group_map': {'site-viewers': 'Site viewers'},
    'create_groups': True,
    'permissions': {'Site viewers': [{'name': 'site-viewers-view-sites', 'actions': ['view'],
                                      'object_types': ['dcim.site']}]},
}}}}
"""


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    instance = netbox_factory(block + MAPPING)
    instance.shell("from dcim.models import Site\nSite.objects.create(name='Alpha DC', slug='alpha-dc')")
    return instance


def test_mapped_group_grants_exactly_its_permission(netbox, idp, page, artifacts_dir):
    idp.upsert_user(
        "viewer-vic",
        {
            "preferred_username": "viewer-vic",
            "email": "vic@example.com",
            "email_verified": True,
            "groups": ["site-viewers"],
        },
        replace_claims=True,
    )
    sso_sign_in(page, netbox.url, "viewer-vic")

    sites = page.goto(f"{netbox.url}/dcim/sites/")
    assert sites.status == 200
    assert page.get_by_role("link", name="Alpha DC").count() == 1
    page.screenshot(path=str(artifacts_dir / "mapped-user-sites-allowed.png"), full_page=True)

    devices = page.goto(f"{netbox.url}/dcim/devices/")
    assert devices.status == 403
    page.screenshot(path=str(artifacts_dir / "mapped-user-devices-denied.png"), full_page=True)


def test_unmapped_user_sees_nothing(netbox, idp, page):
    idp.upsert_user(
        "nobody-ned",
        {
            "preferred_username": "nobody-ned",
            "email": "ned@example.com",
            "email_verified": True,
            "groups": ["unrelated"],
        },
        replace_claims=True,
    )
    sso_sign_in(page, netbox.url, "nobody-ned")
    assert page.goto(f"{netbox.url}/dcim/sites/").status == 403
