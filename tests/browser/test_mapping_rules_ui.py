"""An administrator adds a mapping rule in NetBox's UI on one instance; the next SSO login on the other instance
(same PostgreSQL and Redis, never restarted) gets the group. The change log shows the edit, the REST API
round-trips the rule, and a bad regex is a message on the form, not an error page.
"""

from __future__ import annotations

import re

import pytest

from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.browser.conftest import local_sign_in, sso_sign_in
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'group_map': {'netbox-users': 'Users'},
    'create_groups': True,
}}}}
"""


@pytest.fixture(scope="module")
def pair(netbox_factory, idp):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    first = netbox_factory(block + CONFIG)
    return first, netbox_factory(block + CONFIG, share_with=first)


def groups_of(netbox, username: str) -> set[str]:
    with netbox.db() as conn:
        rows = conn.execute(
            "SELECT g.name FROM users_user u JOIN users_user_groups ug ON ug.user_id = u.id "
            "JOIN users_group g ON g.id = ug.group_id WHERE u.username = %s",
            (username,),
        )
        return {row[0] for row in rows.fetchall()}


def sign_in_as_person(browser, netbox_url: str, username: str) -> None:
    """An SSO login in a browser session of its own (the administrator's stays signed in)."""
    context = browser.new_context(ignore_https_errors=True)
    try:
        sso_sign_in(context.new_page(), netbox_url, username)
    finally:
        context.close()


def test_a_rule_added_in_the_ui_applies_on_the_other_instance_and_is_in_the_change_log_and_api(
    pair, idp, browser, page, artifacts_dir
):
    first, second = pair
    idp.upsert_user(
        "audit-ann",
        {
            "sub": "sub-audit-ann",
            "preferred_username": "audit-ann",
            "email": "ann@example.com",
            "email_verified": True,
            "groups": ["netbox-users", "auditors"],
        },
        replace_claims=True,
    )
    sign_in_as_person(browser, second.url, "audit-ann")
    assert groups_of(second, "audit-ann") == {"Users"}

    local_sign_in(page, first.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{first.url}/plugins/sso/rules/")
    assert page.get_by_text("Rules from configuration.py").count() == 1
    page.goto(f"{first.url}/plugins/sso/rules/add/")
    page.fill("input[name=value]", "auditors")
    page.fill("input[name=new_groups]", "Auditors")
    page.fill("input[name=description]", "read-only auditors")
    page.screenshot(path=str(artifacts_dir / "rules-01-add-form.png"), full_page=True)
    page.click("button[name=_create]")
    page.wait_for_url(re.compile(r".*/plugins/sso/rules/\d+/$"))
    rule_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert page.get_by_text("auditors", exact=True).count() >= 1
    page.screenshot(path=str(artifacts_dir / "rules-02-detail.png"), full_page=True)

    # The other instance, never restarted: the next login (a new browser session) gets the group.
    sign_in_as_person(browser, second.url, "audit-ann")
    assert groups_of(second, "audit-ann") == {"Users", "Auditors"}

    page.goto(f"{first.url}/plugins/sso/rules/{rule_id}/changelog/")
    changes = page.locator("table.object-list tbody tr")
    assert changes.count() >= 1
    assert changes.first.get_by_text(ADMIN_USERNAME).count() == 1
    assert page.locator("table.object-list").get_by_text("Created").count() >= 1
    page.screenshot(path=str(artifacts_dir / "rules-03-changelog.png"), full_page=True)

    api = page.request
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": csrf, "Referer": f"{first.url}/", "Accept": "application/json"}
    rule = api.get(f"{first.url}/api/plugins/sso/rules/{rule_id}/", headers=headers).json()
    assert (rule["backend"], rule["effect"]["value"], rule["match_type"]["value"], rule["value"]) == (
        "oidc",
        "groups",
        "exact",
        "auditors",
    )
    assert [group["name"] for group in rule["groups"]] == ["Auditors"]
    patched = api.patch(
        f"{first.url}/api/plugins/sso/rules/{rule_id}/",
        headers=headers,
        data={"description": "auditors, read-only (via API)"},
    )
    assert patched.status == 200, patched.text()
    page.goto(f"{first.url}/plugins/sso/rules/{rule_id}/")
    assert page.get_by_text("auditors, read-only (via API)").count() == 1


def test_a_bad_regex_is_shown_on_the_form(pair, page, artifacts_dir):
    first, _ = pair
    local_sign_in(page, first.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{first.url}/plugins/sso/rules/add/")
    page.locator("select[name=match_type]").select_option("regex", force=True)
    page.fill("input[name=value]", "^site-[")
    page.fill("input[name=new_groups]", "Site staff")
    response_status = []
    page.on(
        "response",
        lambda response: response_status.append(response.status) if response.request.method == "POST" else None,
    )
    page.click("button[name=_create]")
    page.wait_for_load_state()
    assert page.get_by_text("invalid regular expression").count() >= 1
    assert 500 not in response_status
    assert "/add/" in page.url
    page.screenshot(path=str(artifacts_dir / "rules-04-bad-regex.png"), full_page=True)
