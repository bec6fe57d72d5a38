"""Hardened Entra ID (`azuread-oauth2`) and Okta (`okta-openidconnect`) on real NetBox.

The reference's Entra and Okta blocks are pasted verbatim (AUTHORITY_HOST / API_URL pointed at devidp);
one REMOTE_AUTH_BACKEND list at the end offers both buttons on one NetBox. devidp serves the entra and okta
profiles from its own server here (the session fixture serves generic only), sharing the session's local CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from netbox_sso.devidp import DevIdP, load_users_file
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, DATA, STATE
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

BOTH_BACKENDS = (
    "\nREMOTE_AUTH_BACKEND = ['social_core.backends.azuread.AzureADOAuth2', "
    "'social_core.backends.okta_openidconnect.OktaOpenIdConnect', "
    "'social_core.backends.azuread.AzureADOAuth2V2', "
    "'social_core.backends.azuread_tenant.AzureADTenantOAuth2', "
    "'social_core.backends.azuread_tenant.AzureADV2TenantOAuth2']\n"
)
# social-core's v2 backend, configured as its documentation says (the reference has no v2 block).
V2_SETTINGS = """
SOCIAL_AUTH_AZUREAD_OAUTH2_V2_KEY = {key!r}
SOCIAL_AUTH_AZUREAD_OAUTH2_V2_SECRET = {secret!r}
SOCIAL_AUTH_AZUREAD_OAUTH2_V2_TENANT_ID = {tenant!r}
SOCIAL_AUTH_AZUREAD_OAUTH2_V2_AUTHORITY_HOST = {host!r}
"""
# social-core's tenant backends, configured as its documentation says (they keyed users on sub and on
# preferred_username).
TENANT_SETTINGS = "".join(
    f"""
SOCIAL_AUTH_{prefix}_KEY = {{key!r}}
SOCIAL_AUTH_{prefix}_SECRET = {{secret!r}}
SOCIAL_AUTH_{prefix}_TENANT_ID = {{tenant!r}}
SOCIAL_AUTH_{prefix}_AUTHORITY_HOST = {{host!r}}
"""
    for prefix in ("AZUREAD_TENANT_OAUTH2", "AZUREAD_V2_TENANT_OAUTH2")
)
ENTRA_BACKENDS = ("azuread-oauth2", "azuread-oauth2-v2", "azuread-tenant-oauth2", "azuread-v2-tenant-oauth2")
LEGACY_LINKS = """
from users.models import User
from social_django.models import UserSocialAuth
for username, provider, uid, extra_data in {links!r}:
    user = User.objects.create_user(username, username + '@legacy.example', 'x')
    UserSocialAuth.objects.create(user=user, provider=provider, uid=uid, extra_data=extra_data)
"""


@pytest.fixture(scope="module")
def pidp(idp) -> Iterator[DevIdP]:
    """devidp with the entra and okta profiles, over TLS with the session's CA (same state directory)."""
    server = DevIdP(
        users=load_users_file(DATA / "users.yaml"),
        profiles=("entra", "okta"),
        host="127.0.0.1",
        port=0,
        tls=True,
        state_dir=STATE / "devidp",
    )
    server.start()
    assert server.ca_bundle == idp.ca_bundle
    server.upsert_user("legacy-entra", {"name": "Legacy Entra", "email": "le@contoso.example"})
    server.upsert_user("legacy-okta", {"preferred_username": "legacy-okta", "email": "lo@example.com"})
    for name in ("legacy-tenant", "legacy-v2t", "recycled", "keeper"):
        server.upsert_user(name, {"name": name.title(), "email": f"{name}@contoso.example"})
    yield server
    server.stop()


def entra(pidp: DevIdP):
    return pidp.profile("entra")


@pytest.fixture(scope="module")
def netbox(netbox_factory, pidp):
    profile = entra(pidp)
    config = "\n".join(
        (
            reference_block(
                "entra_id", application_id=CLIENT_ID, client_secret=CLIENT_SECRET, tenant_id=profile.home_tenant_id
            ),
            f"SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = {profile.authority_host!r}",
            reference_block(
                "okta",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                okta_domain=pidp.profile("okta").api_url().split("://", 1)[1].removesuffix("/oauth2/"),
            ),
            V2_SETTINGS.format(
                key=CLIENT_ID, secret=CLIENT_SECRET, tenant=profile.home_tenant_id, host=profile.authority_host
            ),
            TENANT_SETTINGS.format(
                key=CLIENT_ID, secret=CLIENT_SECRET, tenant=profile.home_tenant_id, host=profile.authority_host
            ),
            BOTH_BACKENDS,
        )
    )
    instance = netbox_factory(config)
    pidp.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        redirect_uris=[
            f"{instance.url}/oauth/complete/{backend}/" for backend in (*ENTRA_BACKENDS, "okta-openidconnect")
        ],
    )
    recycled, keeper = pidp.users["recycled"], pidp.users["keeper"]
    legacy = [
        ("legacy-entra", "azuread-oauth2", profile.upn(pidp.users["legacy-entra"]), {}),
        ("legacy-okta", "okta-openidconnect", "legacy-okta", {}),
        ("legacy-tenant", "azuread-tenant-oauth2", profile.subject(pidp.users["legacy-tenant"], CLIENT_ID, {}), {}),
        ("legacy-v2t", "azuread-v2-tenant-oauth2", profile.upn(pidp.users["legacy-v2t"]), {}),
        # Stock links that stored the ID token: a former employee's, whose upn now names `recycled`, and
        # keeper's own.
        (
            "former",
            "azuread-oauth2",
            profile.upn(recycled),
            stock_entra_extra_data(profile.user_tid(recycled), "0b5e7d1c-former-employee-oid"),
        ),
        (
            "keeper",
            "azuread-oauth2",
            profile.upn(keeper),
            stock_entra_extra_data(profile.user_tid(keeper), profile.oid(keeper)),
        ),
    ]
    instance.shell(LEGACY_LINKS.format(links=legacy))
    return instance


def stock_entra_extra_data(tid: str, oid: str) -> dict:
    """What social-core's AzureADOAuth2 stored: the tokens, the ID token among them."""
    id_token = jwt.encode({"tid": tid, "oid": oid, "sub": "pairwise"}, "k" * 32, algorithm="HS256")
    return {"id_token": id_token, "access_token": "plain-access-token", "token_type": "Bearer"}


@pytest.fixture(autouse=True)
def _no_faults(pidp):
    pidp.clear_faults()
    yield
    pidp.clear_faults()


@pytest.fixture()
def plogin(pidp, login):
    def run(netbox, username, backend):
        return login(netbox, username, backend=backend)

    return run


def entra_uid(pidp: DevIdP, username: str) -> str:
    profile = entra(pidp)
    user = pidp.users[username]
    return f"{profile.user_tid(user)}:{profile.oid(user)}"


def begin_url(netbox, pidp, backend: str) -> str:
    import requests

    from netbox_sso.devstack.login import find_sso_form

    session = requests.Session()
    session.verify = str(pidp.ca_bundle)
    page = session.get(f"{netbox.url}/login/", timeout=30)
    form = find_sso_form(page.text, backend)
    answer = session.post(
        f"{netbox.url}{form.action}",
        data=form.fields,
        timeout=30,
        headers={"Accept": "application/json", "Referer": page.url},
    )
    return answer.json()["url"]


# ---- Entra ID -----------------------------------------------------------------------------------------------
def test_entra_uses_the_configured_tenant_with_nonce_and_pkce(netbox, pidp):
    url = begin_url(netbox, pidp, "azuread-oauth2")
    parts = urlsplit(url)
    assert parts.path.endswith(f"/{entra(pidp).home_tenant_id}/oauth2/authorize"), url
    query = parse_qs(parts.query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"]


def test_entra_login_keys_on_tid_and_oid(netbox, pidp, plogin):
    result = plogin(netbox, "alice", "azuread-oauth2")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    user = db.user(netbox, "alice@contoso.onmicrosoft.com")
    assert user is not None, "username from upn (v1 tokens carry no preferred_username), never the display name"
    assert db.social_links(netbox, user["id"]) == [("azuread-oauth2", entra_uid(pidp, "alice"))]


def test_entra_upn_change_keeps_the_account(netbox, pidp, plogin):
    assert plogin(netbox, "bob", "azuread-oauth2").logged_in
    before = db.user(netbox, "bob@contoso.onmicrosoft.com")
    users = db.user_count(netbox)
    pidp.upsert_user("bob", {"upn": "robert@contoso.onmicrosoft.com"})
    try:
        result = plogin(netbox, "bob", "azuread-oauth2")
        assert result.logged_in, result.messages
        assert db.user_count(netbox) == users
        assert db.social_links(netbox, before["id"]) == [("azuread-oauth2", entra_uid(pidp, "bob"))]
    finally:
        pidp.upsert_user("bob", {"upn": None})


def test_entra_legacy_upn_link_moves_to_tid_oid(netbox, pidp, plogin):
    legacy = db.user(netbox, "legacy-entra")
    users = db.user_count(netbox)
    result = plogin(netbox, "legacy-entra", "azuread-oauth2")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    assert db.user_count(netbox) == users, "no duplicate account"
    assert db.social_links(netbox, legacy["id"]) == [("azuread-oauth2", entra_uid(pidp, "legacy-entra"))]


@pytest.mark.parametrize(
    "username,backend", [("legacy-tenant", "azuread-tenant-oauth2"), ("legacy-v2t", "azuread-v2-tenant-oauth2")]
)
def test_entra_tenant_backends_legacy_links_move_to_tid_oid(netbox, pidp, plogin, username, backend):
    """social-core's azuread-tenant-oauth2 keyed users on sub, azuread-v2-tenant-oauth2 on preferred_username."""
    legacy = db.user(netbox, username)
    result = plogin(netbox, username, backend)
    assert result.logged_in, (result.messages, netbox.tail_logs())
    assert db.social_links(netbox, legacy["id"]) == [(backend, entra_uid(pidp, username))]


def test_legacy_upn_now_naming_another_identity_never_inherits_the_account(netbox, pidp, plogin):
    former = db.user(netbox, "former")
    result = plogin(netbox, "recycled", "azuread-oauth2")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    # The former employee's link is untouched; the new person has an account of their own.
    assert db.social_links(netbox, former["id"]) == [("azuread-oauth2", entra(pidp).upn(pidp.users["recycled"]))]
    new = db.user(netbox, entra(pidp).upn(pidp.users["recycled"]))
    assert new is not None and db.social_links(netbox, new["id"]) == [("azuread-oauth2", entra_uid(pidp, "recycled"))]
    assert "legacy key that now belongs to another identity" in netbox.log_file.read_text()


def test_legacy_upn_link_with_the_same_recorded_identifier_moves(netbox, pidp, plogin):
    keeper = db.user(netbox, "keeper")
    result = plogin(netbox, "keeper", "azuread-oauth2")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    assert db.social_links(netbox, keeper["id"]) == [("azuread-oauth2", entra_uid(pidp, "keeper"))]


def test_entra_token_from_a_foreign_tenant_is_refused(netbox, pidp, plogin):
    foreign = entra(pidp).foreign_tenant_id
    pidp.set_fault("id_token_claims", claims={"tid": foreign, "iss": f"https://sts.windows.net/{foreign}/"})
    users = db.user_count(netbox)
    result = plogin(netbox, "carol", "azuread-oauth2")
    assert not result.logged_in
    assert "(tid)" in result.message_text and "tenant" in result.message_text, result.messages
    assert db.user_count(netbox) == users
    with netbox.db() as conn:  # the audit trail has the refusal, with its category
        event = conn.execute(
            "SELECT event, outcome, reason FROM netbox_sso_ssoevent WHERE backend = "
            "'azuread-oauth2' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert tuple(event) == ("refused", "refused", "foreign_tenant")


def test_entra_issuer_of_another_tenant_is_refused(netbox, pidp, plogin):
    foreign = entra(pidp).foreign_tenant_id
    pidp.set_fault("id_token_claims", claims={"iss": f"https://sts.windows.net/{foreign}/"})
    result = plogin(netbox, "carol", "azuread-oauth2")
    assert not result.logged_in
    assert "(iss)" in result.message_text, result.messages


def test_entra_token_without_nonce_is_refused(netbox, pidp, plogin):
    pidp.set_fault("id_token_claims", claims={"nonce": None})
    result = plogin(netbox, "carol", "azuread-oauth2")
    assert not result.logged_in
    assert "(nonce)" in result.message_text, result.messages


def test_entra_v2_endpoints(netbox, pidp, plogin):
    tid = entra(pidp).home_tenant_id
    assert urlsplit(begin_url(netbox, pidp, "azuread-oauth2-v2")).path.endswith(f"/{tid}/oauth2/v2.0/authorize")
    result = plogin(netbox, "carol", "azuread-oauth2-v2")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    user = db.user(netbox, "carol@contoso.onmicrosoft.com")  # v2: preferred_username
    assert db.social_links(netbox, user["id"]) == [("azuread-oauth2-v2", entra_uid(pidp, "carol"))]


# ---- Okta ---------------------------------------------------------------------------------------------------
def test_okta_keys_on_sub_with_pkce(netbox, pidp, plogin):
    query = parse_qs(urlsplit(begin_url(netbox, pidp, "okta-openidconnect")).query)
    assert query["code_challenge_method"] == ["S256"]
    result = plogin(netbox, "bob", "okta-openidconnect")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    user = db.user(netbox, "bob")
    sub = pidp.profile("okta").subject(pidp.users["bob"], CLIENT_ID, {})
    assert ("okta-openidconnect", sub) in db.social_links(netbox, user["id"])


def test_okta_legacy_preferred_username_link_moves_to_sub(netbox, pidp, plogin):
    legacy = db.user(netbox, "legacy-okta")
    users = db.user_count(netbox)
    result = plogin(netbox, "legacy-okta", "okta-openidconnect")
    assert result.logged_in, (result.messages, netbox.tail_logs())
    assert db.user_count(netbox) == users
    sub = pidp.profile("okta").subject(pidp.users["legacy-okta"], CLIENT_ID, {})
    assert db.social_links(netbox, legacy["id"]) == [("okta-openidconnect", sub)]


def test_okta_discovery_is_cached(netbox, pidp, plogin):
    assert plogin(netbox, "alice", "okta-openidconnect").logged_in
    pidp.clear_log()
    assert plogin(netbox, "alice", "okta-openidconnect").logged_in
    fetched = [path for _method, path in pidp.requests_log if "openid-configuration" in path or "/keys" in path]
    assert fetched == [], fetched


def test_okta_wrong_audience_is_refused(netbox, pidp, plogin):
    pidp.set_fault("id_token_claims", claims={"aud": "another-app"})
    result = plogin(netbox, "carol", "okta-openidconnect")
    assert not result.logged_in
    assert "(aud)" in result.message_text, result.messages
