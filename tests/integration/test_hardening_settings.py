"""The hardening settings of PLUGINS_CONFIG['netbox_sso'] on real NetBox.

One NetBox with: Entra ID on the multi-tenant `common` endpoints admitted only through
`entra_allowed_tenants`, generic OIDC with `store_tokens` (encrypted at rest), a tight `clock_leeway` and
`idp_timeout`, and the `allow_insecure_http` opt-in and two weakening social-core settings (which must be
announced at WARNING on start-up).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from netbox_sso.devidp import DevIdP, load_users_file
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, DATA, STATE, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

DECRYPT = """
from social_django.models import UserSocialAuth
from netbox_sso.backends.tokens import reveal
extra = UserSocialAuth.objects.get(provider='oidc', uid={uid!r}).extra_data
print(sorted(reveal(extra)), 'access_token' in extra, 'refresh_token' in extra)
"""


@pytest.fixture(scope="module")
def pidp(idp) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(DATA / "users.yaml"),
        profiles=("entra",),
        host="127.0.0.1",
        port=0,
        tls=True,
        state_dir=STATE / "devidp",
    )
    server.start()
    server.upsert_user("frida", {"name": "Frida F", "email": "frida@fabrikam.example"}, tenant="fabrikam")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp, pidp):
    profile = pidp.profile("entra")
    plugin = {
        "entra_allowed_tenants": [profile.foreign_tenant_id],
        "store_tokens": True,
        "clock_leeway": 5,
        "idp_timeout": 3,
        "allow_insecure_http": True,
    }
    config = "\n".join(
        (
            reference_block("entra_id", application_id=CLIENT_ID, client_secret=CLIENT_SECRET, tenant_id="common"),
            f"SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = {profile.authority_host!r}",
            reference_block(
                "generic_oidc",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                provider_domain=idp_domain(idp, "generic"),
            ),
            "REMOTE_AUTH_BACKEND = ['social_core.backends.azuread.AzureADOAuth2', "
            "'social_core.backends.open_id_connect.OpenIdConnectAuth']",
            f"PLUGINS_CONFIG = {{'netbox_sso': {plugin!r}}}",
            # social-core settings that weaken sign-in, as old guides paste them: reported, never silent.
            "SOCIAL_AUTH_SANITIZE_REDIRECTS = False",
            "SOCIAL_AUTH_AZUREAD_OAUTH2_ID_KEY = 'upn'",
        )
    )
    instance = netbox_factory(config)
    pidp.register_client(CLIENT_ID, CLIENT_SECRET, redirect_uris=[f"{instance.url}/oauth/complete/azuread-oauth2/"])
    return instance


@pytest.fixture(autouse=True)
def _no_faults(idp, pidp):
    idp.clear_faults()
    pidp.clear_faults()
    yield
    idp.clear_faults()
    pidp.clear_faults()


def test_weakening_is_announced_at_warning(netbox):
    log = netbox.log_file.read_text()
    assert "WARNING netbox_sso netbox-sso: allow_insecure_http is on" in log


def test_weakening_social_core_settings_are_announced_at_warning(netbox):
    log = netbox.log_file.read_text()
    assert "WARNING netbox_sso netbox-sso: SOCIAL_AUTH_SANITIZE_REDIRECTS = False" in log
    assert "WARNING netbox_sso netbox-sso: SOCIAL_AUTH_AZUREAD_OAUTH2_ID_KEY = 'upn'" in log


def test_multi_tenant_admits_only_allow_listed_tenants(netbox, login):
    home = login(netbox, "alice", backend="azuread-oauth2")  # contoso: not on the allow-list
    assert not home.logged_in
    assert "(tid)" in home.message_text and "tenant" in home.message_text, home.messages
    allowed = login(netbox, "frida", backend="azuread-oauth2")  # fabrikam: allow-listed
    assert allowed.logged_in, (allowed.messages, netbox.tail_logs())
    assert db.user(netbox, "frida@fabrikam.onmicrosoft.com") is not None


def test_tokens_stored_only_encrypted(netbox, login):
    assert login(netbox, "bob").logged_in
    with netbox.db() as conn:
        raw = conn.execute(
            "SELECT extra_data::text FROM social_auth_usersocialauth WHERE uid = %s", ("7b2d4c1f-bob",)
        ).fetchone()[0]
    assert "encrypted_tokens" in raw
    assert "eyJ" not in raw, "no JWT (access or ID token) in clear text"
    out = netbox.shell(DECRYPT.format(uid="7b2d4c1f-bob"))
    assert "['access_token'" in out and "False False" in out, out


def test_clock_leeway_is_configurable(netbox, idp, login):
    idp.set_fault("clock_offset", seconds=30)
    result = login(netbox, "carol")
    assert not result.logged_in
    assert "clocks" in result.message_text, result.messages


def test_idp_timeout_is_configurable(netbox, idp, login):
    idp.set_fault("delay", seconds=6, endpoint="token")
    started = time.monotonic()
    result = login(netbox, "carol")
    assert not result.logged_in
    assert "did not answer in time" in result.message_text, result.messages
    assert time.monotonic() - started < 5.5
