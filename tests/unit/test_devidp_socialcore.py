"""devidp against social-core's real backends (the ones NetBox uses): complete logins without Django.

Drives oidc, okta-openidconnect and azuread-oauth2 with social-core's own test strategy and storage, so
the URLs they build from OIDC_ENDPOINT / API_URL / AUTHORITY_HOST and their token validation are proven
against devidp, over TLS with the local CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from social_core.backends.utils import load_backends
from social_core.tests.models import TestStorage, TestUserSocialAuth, User
from social_core.tests.strategy import TestStrategy

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file

COMPLETE = "http://myapp.com/complete/{}/"
BACKENDS = {
    "oidc": "social_core.backends.open_id_connect.OpenIdConnectAuth",
    "okta-openidconnect": "social_core.backends.okta_openidconnect.OktaOpenIdConnect",
    "azuread-oauth2": "social_core.backends.azuread.AzureADOAuth2",
}


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE),
        profiles=("generic", "okta", "entra", "keycloak"),
        tls=True,
        state_dir=tmp_path_factory.mktemp("devidp"),
    )
    server.start()
    server.register_client("nb", "nb-secret", redirect_uris=[COMPLETE.format(n) for n in BACKENDS])
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _trust_local_ca(idp: DevIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    # social-core calls requests with verify=True, which honours REQUESTS_CA_BUNDLE (as NetBox would).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(idp.ca_bundle))
    User.reset_cache()
    TestUserSocialAuth.reset_cache()


def social_login(idp: DevIdP, name: str, settings: dict[str, Any], username: str) -> tuple[Any, Any]:
    """Begin with social-core, sign in at devidp (scripted POST), complete with social-core."""
    prefix = "SOCIAL_AUTH_" + name.upper().replace("-", "_")
    strategy = TestStrategy(TestStorage)
    strategy.set_settings(
        {
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": (BACKENDS[name],),
            f"{prefix}_KEY": "nb",
            f"{prefix}_SECRET": "nb-secret",
            **{f"{prefix}_{k}": v for k, v in settings.items()},
        }
    )
    backend_cls = load_backends((BACKENDS[name],), force_load=True)[name]
    backend = backend_cls(strategy, redirect_uri=COMPLETE.format(name))
    start = backend.start().url
    login = requests.post(start, data={"username": username}, allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text[:300]
    callback = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
    strategy.set_request_data(callback, backend)
    user = backend.complete()
    return user, backend


def test_social_core_oidc_with_reference_endpoint_form(idp: DevIdP) -> None:
    endpoint = idp.issuer("keycloak")
    user, backend = social_login(idp, "oidc", {"OIDC_ENDPOINT": endpoint}, "alice")
    social = user.social[0]
    assert social.uid == backend.id_token["sub"]
    assert backend.id_token["groups"] == ["/netbox/admins"]
    assert user.email == "alice@example.com"


def test_social_core_okta_openidconnect(idp: DevIdP) -> None:
    okta = idp.profile("okta")
    for api_url in (okta.api_url(), okta.api_url("default")):  # type: ignore[attr-defined]
        user, backend = social_login(idp, "okta-openidconnect", {"API_URL": api_url}, "bob")
        assert user.social[-1].uid == "bob"  # okta keys on preferred_username
        assert backend.id_token["iss"] == api_url.rstrip("/").removesuffix("/oauth2")


def test_social_core_azuread_oauth2(idp: DevIdP) -> None:
    entra = idp.profile("entra")
    user, _ = social_login(
        idp,
        "azuread-oauth2",
        {
            "AUTHORITY_HOST": entra.authority_host,  # type: ignore[attr-defined]
            "RESOURCE": "https://graph.microsoft.com/",
        },
        "carol",
    )
    social = user.social[0]
    assert social.uid == "carol@contoso.onmicrosoft.com"  # azuread keys on upn
    assert social.extra_data["resource"] == "https://graph.microsoft.com/"
    # The foreign tenant's user passes too: the stock backend accepts any tenant (security review #36).
    foreign, _ = social_login(idp, "azuread-oauth2", {"AUTHORITY_HOST": entra.authority_host}, "mallory")  # type: ignore[attr-defined]
    assert foreign.social[0].uid.endswith("@fabrikam.onmicrosoft.com")
