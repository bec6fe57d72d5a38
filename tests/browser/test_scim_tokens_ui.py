"""SCIM connection tokens in NetBox's UI: an administrator creates a connection, sees its token once, uses
it, rotates it (the old one stops at once), revokes it; a user who is not a superuser cannot reach the page.
"""

from __future__ import annotations

import re

import pytest
import requests

from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.browser.conftest import local_sign_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCIM_PATH = "/api/plugins/sso/scim/v2"
PAGE = "/plugins/sso/scim/"
TOKEN = re.compile(r"nbscim_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}")
VIEWER, VIEWER_PASSWORD = "scim-viewer", "Viewer-pass-123"


@pytest.fixture(scope="module")
def netbox(netbox_factory):
    instance = netbox_factory("")
    instance.shell(
        "from users.models import User\n"
        f"User.objects.create_user({VIEWER!r}, password={VIEWER_PASSWORD!r}, is_superuser=False)\n"
    )
    return instance


def scim_status(netbox, token: str) -> int:
    return requests.get(
        f"{netbox.url}{SCIM_PATH}/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def row(page, name: str):
    return page.locator(f"#scim-connections tr[data-connection='{name}']")


def resend(page, netbox, form: dict[str, str]) -> requests.Response:
    """POST a form again from the signed-in browser, as a reload or the back button re-sends it."""
    csrf = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    return page.request.post(f"{netbox.url}{PAGE}", form={"csrfmiddlewaretoken": csrf, **form})


def test_admin_creates_uses_rotates_and_revokes_a_token_shown_once(netbox, page, artifacts_dir):
    local_sign_in(page, netbox.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{netbox.url}{PAGE}")
    page.fill("#scim-name", "entra-ui")
    page.fill("#scim-backend", "oidc")
    page.click("#scim-create button[type=submit]")
    first = page.locator("#scim-token-value").inner_text().strip()
    assert TOKEN.fullmatch(first)
    assert row(page, "entra-ui").locator(".scim-created-by").inner_text().startswith(ADMIN_USERNAME)
    assert row(page, "entra-ui").locator(".scim-last-used").inner_text().strip() == "never"
    page.screenshot(path=str(artifacts_dir / "scim-01-created-token-shown-once.png"), full_page=True)

    # Shown once: not on the page afterwards, and a re-sent create form neither creates nor shows a token.
    page.goto(f"{netbox.url}{PAGE}")
    assert first not in page.content() and page.locator("#scim-token-value").count() == 0
    again = resend(page, netbox, {"action": "create", "name": "entra-ui", "backend": "oidc"})
    assert again.status == 400 and not TOKEN.search(again.text())

    assert scim_status(netbox, first) == 200
    page.reload()
    last_used = row(page, "entra-ui").locator(".scim-last-used").inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", last_used), last_used

    old_prefix = row(page, "entra-ui").locator("input[name=prefix]").get_attribute("value")
    row(page, "entra-ui").locator("button[value=rotate]").click()
    second = page.locator("#scim-token-value").inner_text().strip()
    assert TOKEN.fullmatch(second) and second != first
    assert scim_status(netbox, first) == 401
    assert scim_status(netbox, second) == 200
    page.screenshot(path=str(artifacts_dir / "scim-02-rotated.png"), full_page=True)

    # The rotate form re-sent (reload after rotating): refused, no third token, the second one still works.
    connection = row(page, "entra-ui").locator("input[name=connection]").get_attribute("value")
    replay = resend(page, netbox, {"action": "rotate", "connection": connection, "prefix": old_prefix})
    assert replay.status == 409 and not TOKEN.search(replay.text())
    assert scim_status(netbox, second) == 200

    page.once("dialog", lambda dialog: dialog.accept())
    row(page, "entra-ui").locator("button[value=revoke]").click()
    page.locator("#scim-message").wait_for()
    assert row(page, "entra-ui").locator(".scim-token").inner_text().strip() == "revoked"
    assert scim_status(netbox, second) == 401
    page.screenshot(path=str(artifacts_dir / "scim-03-revoked.png"), full_page=True)

    log = netbox.log_file.read_text()
    assert first not in log and second not in log


def test_a_user_who_is_not_a_superuser_cannot_reach_the_scim_page(netbox, page):
    local_sign_in(page, netbox.url, VIEWER, VIEWER_PASSWORD)
    response = page.goto(f"{netbox.url}{PAGE}")
    assert response is not None and response.status == 403
    assert page.locator("#scim-create").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    form = {"csrfmiddlewaretoken": csrf, "action": "create", "name": "x", "backend": "oidc"}
    refused = page.request.post(f"{netbox.url}{PAGE}", form=form)
    assert refused.status == 403 and "CSRF verification failed" not in refused.text()
