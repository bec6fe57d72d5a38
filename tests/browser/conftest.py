"""A real headless Chromium (Debian's), driven by Playwright; screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.integration.conftest import idp, netbox_factory, stack  # noqa: F401 - shared fixtures

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("NBSSO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Chromium not found: install Debian's `chromium` package (the test command does)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser) -> Iterator:
    # devidp serves TLS with its own CA; the browser is told to accept it for the loopback IdP only.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def sso_sign_in(page, netbox_url: str, username: str, backend: str = "oidc") -> None:
    """Sign in as a person does: NetBox's SSO button, then the user's button on devidp's page."""
    page.goto(f"{netbox_url}/login/")
    page.locator(f"form.sso-login-form[action$='/oauth/begin/{backend}/'] button").first.click()
    page.click(f"button[name=username][value='{username}']")
    page.wait_for_url(f"{netbox_url}/**")


def local_sign_in(page, netbox_url: str, username: str, password: str) -> None:
    """Sign in with NetBox's own username/password form (break-glass accounts)."""
    page.goto(f"{netbox_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form:not(.sso-login-form) button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/login/" not in url)
