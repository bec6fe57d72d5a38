"""Which account a sign-in lands on, on real NetBox over HTTP: password sign-ins (audited, limited to
break-glass accounts), SSO identities never attached to a signed-in privileged account, usernames and
email links that unverified emails cannot steer, tokens left in clear by stock social-core, and the same
person's first sign-in completing in two browsers at once.

One NetBox with the reference's pipeline (associate_by_email included) on generic OIDC,
`break_glass_users: ['admin']` and `local_login: 'break_glass_only'`.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from urllib.parse import urljoin, urlsplit

import jwt
import pytest
import requests

from netbox_sso.devstack.login import is_logged_in, parse_login_page
from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block, reference_pipeline

pytestmark = pytest.mark.integration

CONFIG = (
    reference_pipeline(without=("nbc_auth_extensions.azure_authentication.azuread_map_groups",))
    + """
PLUGINS_CONFIG = {'netbox_sso': {'break_glass_users': ['admin'], 'local_login': 'break_glass_only'}}
"""
)

LOCAL_USERS = """
from users.models import User
User.objects.create_user('nora', 'nora@corp.example', 'nora-password')
User.objects.create_user('ivy', 'ivy@corp.example', 'x', is_active=False)
"""

IDP_USERS = {
    "uma": {"email": "uma@corp.example", "email_verified": False, "name": "Uma"},
    "ivy-sso": {"preferred_username": "ivy.sso", "email": "ivy@corp.example", "email_verified": True},
    "zed-squat": {"preferred_username": "zsquat", "email": "zed@corp.example", "email_verified": False},
    "zed-owner": {"preferred_username": "zed", "email": "zed@corp.example", "email_verified": True},
    "linker": {"preferred_username": "linker", "email": "linker@corp.example", "email_verified": True},
    "pending": {"preferred_username": "pending", "email": "pending@corp.example", "email_verified": True},
    "tom": {"preferred_username": "tom", "email": "tom@corp.example", "email_verified": True},
    "cora": {"preferred_username": "cora", "email": "cora@corp.example", "email_verified": True},
}
#: A stock social-core link's extra_data, tokens in clear ({sub} filled in).
STOCK_LINK = """
from users.models import User
from social_django.models import UserSocialAuth
user = User.objects.create_user({username!r}, {username!r} + '@corp.example', 'x')
UserSocialAuth.objects.create(user=user, provider='oidc', uid={sub!r}, extra_data={extra!r})
"""


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    config = (
        reference_block(
            "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "generic")
        )
        + CONFIG
    )
    for username, claims in IDP_USERS.items():
        idp.upsert_user(username, claims, replace_claims=True)
    instance = netbox_factory(config)
    instance.shell(LOCAL_USERS)
    return instance


@pytest.fixture(autouse=True)
def _no_faults(idp):
    idp.clear_faults()


def browser(idp) -> requests.Session:
    session = requests.Session()
    session.request = functools.partial(session.request, verify=str(idp.ca_bundle), timeout=60)  # type: ignore[method-assign]
    return session


def password_login(netbox, session: requests.Session, username: str, password: str) -> requests.Response:
    page = session.get(f"{netbox.url}/login/?local=1")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{netbox.url}/login/?local=1",
        headers={"Referer": page.url},
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
    )


def begin_sso(netbox, session: requests.Session) -> str:
    """POST /oauth/begin/oidc/ as NetBox's login page does; the provider's authorization URL."""
    if "csrftoken" not in session.cookies:
        session.get(f"{netbox.url}/login/")
    answer = session.post(
        f"{netbox.url}/oauth/begin/oidc/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Accept": "application/json", "Referer": f"{netbox.url}/login/"},
        allow_redirects=False,
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()["url"]


def sign_in_at_idp(session: requests.Session, authorize_url: str, username: str) -> str:
    """devidp's scripted sign-in; the callback URL it redirects to."""
    answer = session.post(authorize_url, data={"username": username}, allow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:300]
    return urljoin(authorize_url, answer.headers["Location"])


def messages_of(response: requests.Response) -> str:
    return " | ".join(parse_login_page(response.text).messages)


def events(netbox, username: str) -> list[dict]:
    with netbox.db() as conn:
        cursor = conn.execute(
            "SELECT event, outcome, reason, backend, details FROM netbox_sso_ssoevent WHERE username = %s ORDER BY id",
            (username,),
        )
        return [dict(zip([c.name for c in cursor.description], row, strict=True)) for row in cursor.fetchall()]


def wait_for_events(netbox, username: str, count: int) -> list[dict]:
    """Events are written when the request's transaction commits, after the response: poll, bounded."""
    deadline = time.monotonic() + 20
    found = events(netbox, username)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        found = events(netbox, username)
    return found


def extra_data(netbox, username: str) -> dict:
    with netbox.db() as conn:
        [(data,)] = conn.execute(
            "SELECT s.extra_data FROM social_auth_usersocialauth s JOIN users_user u "
            "ON u.id = s.user_id WHERE u.username = %s",
            (username,),
        ).fetchall()
    return data if isinstance(data, dict) else json.loads(data)


# ---- item 5: password sign-ins -------------------------------------------------------------------------------
def test_break_glass_password_sign_in_is_audited_at_warning(netbox, idp):
    session = browser(idp)
    password_login(netbox, session, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert is_logged_in(session, netbox.url)
    found = [e for e in wait_for_events(netbox, ADMIN_USERNAME, 1) if e["event"] == "login_success"]
    assert found and found[-1]["backend"] == "local" and found[-1]["reason"] == "break_glass", found
    log = netbox.log_file.read_text()
    assert re.search(r"WARNING netbox_sso\.audit .*\"reason\": \"break_glass\"", log), netbox.tail_logs(20)


def test_wrong_password_is_audited_as_a_failure(netbox, idp):
    session = browser(idp)
    password_login(netbox, session, ADMIN_USERNAME, "not-the-password")
    assert not is_logged_in(session, netbox.url)
    found = wait_for_events(netbox, ADMIN_USERNAME, 1)
    assert any(
        e["event"] == "login_failure" and e["backend"] == "local" and e["reason"] == "invalid_credentials"
        for e in found
    ), found


def test_password_sign_in_of_other_accounts_is_refused_with_a_clear_message(netbox, idp):
    session = browser(idp)
    answer = password_login(netbox, session, "nora", "nora-password")
    assert not is_logged_in(session, netbox.url)
    assert urlsplit(answer.url).path == "/login/"
    assert "Password sign-in is limited to break-glass accounts" in messages_of(answer), answer.text[-2000:]
    [event] = wait_for_events(netbox, "nora", 1)
    assert (event["event"], event["outcome"], event["reason"], event["backend"]) == (
        "refused",
        "refused",
        "local_login_restricted",
        "local",
    )


def test_api_token_provisioning_with_a_password_is_refused_too(netbox, idp):
    answer = browser(idp).post(
        f"{netbox.url}/api/users/tokens/provision/",
        json={"username": "nora", "password": "nora-password"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code in (401, 403), answer.text[:300]


# ---- item 7: never attach an identity to a signed-in privileged account ----------------------------------------
def test_sso_completing_while_a_superuser_is_signed_in_is_never_linked_to_it(netbox, idp):
    session = browser(idp)
    password_login(netbox, session, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert is_logged_in(session, netbox.url)
    landed = session.get(sign_in_at_idp(session, begin_sso(netbox, session), "linker"))
    assert "never linked to a single sign-on identity" in messages_of(landed), messages_of(landed)
    assert db.social_links(netbox, db.user(netbox, ADMIN_USERNAME)["id"]) == []
    assert db.user(netbox, "linker") is None


def test_sso_begun_before_a_password_sign_in_cannot_complete_after_it(netbox, idp):
    session = browser(idp)
    authorize = begin_sso(netbox, session)  # anonymous, pending in this browser's session
    password_login(netbox, session, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert is_logged_in(session, netbox.url)
    landed = session.get(sign_in_at_idp(session, authorize, "pending"))
    assert "unknown, expired or was already used" in messages_of(landed), messages_of(landed)
    assert db.social_links(netbox, db.user(netbox, ADMIN_USERNAME)["id"]) == []


# ---- item 9: usernames and email links -----------------------------------------------------------------------
def test_unverified_email_gives_the_whole_address_as_username(netbox, login):
    result = login(netbox, "uma")
    assert result.logged_in, result.messages
    assert db.user(netbox, "uma@corp.example") is not None
    assert db.user(netbox, "uma") is None


def test_email_link_skips_inactive_accounts(netbox, login):
    result = login(netbox, "ivy-sso")
    assert result.logged_in, result.messages
    assert db.social_links(netbox, db.user(netbox, "ivy")["id"]) == []
    assert db.user(netbox, "ivy.sso") is not None


def test_unverified_email_never_blocks_the_verified_owners_first_login(netbox, login):
    assert login(netbox, "zed-squat").logged_in
    result = login(netbox, "zed-owner")
    assert result.logged_in, result.messages
    zed = db.user(netbox, "zed")
    assert zed is not None and [p for p, _ in db.social_links(netbox, zed["id"])] == ["oidc"]
    assert len(db.social_links(netbox, db.user(netbox, "zsquat")["id"])) == 1


# ---- item 6: plaintext tokens left by stock social-core -------------------------------------------------------
def stock_extra_data(idp, username: str) -> dict:
    sub = idp.profile("generic").subject(idp.users[username], CLIENT_ID, {})
    id_token = jwt.encode({"iss": "x", "sub": sub, "aud": CLIENT_ID}, "k" * 32, algorithm="HS256")
    return {
        "access_token": "plain-access-token",
        "refresh_token": "plain-refresh-token",
        "id_token": id_token,
        "token_type": "Bearer",
        "id": sub,
        "auth_time": 1,
    }


def add_stock_link(netbox, idp, username: str, idp_username: str) -> None:
    sub = idp.profile("generic").subject(idp.users[idp_username], CLIENT_ID, {})
    netbox.shell(STOCK_LINK.format(username=username, sub=sub, extra=stock_extra_data(idp, idp_username)))


def assert_scrubbed(data: dict, sub: str) -> None:
    assert not {"access_token", "refresh_token", "id_token"} & data.keys(), data
    assert "plain-" not in json.dumps(data)
    assert data["netbox_sso_subject"]["sub"] == sub


def test_tokens_left_in_clear_are_removed_at_the_users_next_login(netbox, idp, login):
    add_stock_link(netbox, idp, "tom", "tom")
    assert "access_token" in extra_data(netbox, "tom")
    result = login(netbox, "tom")
    assert result.logged_in, result.messages
    assert_scrubbed(extra_data(netbox, "tom"), idp.profile("generic").subject(idp.users["tom"], CLIENT_ID, {}))


def test_housekeeping_removes_tokens_left_in_clear(netbox, idp):
    idp.upsert_user("hank", {"preferred_username": "hank"}, replace_claims=True)
    add_stock_link(netbox, idp, "hank", "hank")
    output = netbox.manage("sso_housekeeping")
    assert "Removed plaintext tokens from 1 social-auth link(s)." in output, output
    assert_scrubbed(extra_data(netbox, "hank"), idp.profile("generic").subject(idp.users["hank"], CLIENT_ID, {}))


def test_upgrade_migration_removes_tokens_left_in_clear(netbox, idp):
    netbox.manage("migrate", "netbox_sso", "0001", "--no-input")
    idp.upsert_user("mig", {"preferred_username": "mig"}, replace_claims=True)
    add_stock_link(netbox, idp, "mig", "mig")
    netbox.manage("migrate", "netbox_sso", "--no-input")
    assert_scrubbed(extra_data(netbox, "mig"), idp.profile("generic").subject(idp.users["mig"], CLIENT_ID, {}))


# ---- item 12: one person's first sign-in completing in two browsers at once -----------------------------------------
def test_first_sign_in_completing_in_two_browsers_at_once_lands_both_on_one_account(netbox, idp):
    """Both callbacks are held at their INSERT into users_user (a table lock taken here) until both wait, so
    they pass every check before either commits: the race, made certain instead of likely."""
    browsers = [browser(idp), browser(idp)]
    callbacks = [sign_in_at_idp(session, begin_sso(netbox, session), "cora") for session in browsers]
    results: list[requests.Response | BaseException] = [None, None]  # type: ignore[list-item]

    def complete(index: int) -> None:
        try:
            results[index] = browsers[index].get(callbacks[index])
        except BaseException as error:  # reported by the assertions below
            results[index] = error

    with netbox.db() as lock:
        lock.execute("BEGIN")
        lock.execute("LOCK TABLE users_user IN SHARE MODE")
        threads = [threading.Thread(target=complete, args=(i,), daemon=True) for i in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            waiting = lock.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = "
                "'Lock' AND query ILIKE 'INSERT INTO \"users_user\"%%'"
            ).fetchone()[0]
        lock.execute("COMMIT")
        assert waiting == 2, "both callbacks should have reached the user insert"
    for thread in threads:
        thread.join(60)
    for session, result in zip(browsers, results, strict=True):
        assert isinstance(result, requests.Response), result
        assert is_logged_in(session, netbox.url), messages_of(result)
    cora = db.user(netbox, "cora")
    assert [p for p, _ in db.social_links(netbox, cora["id"])] == ["oidc"]
    assert db.usernames(netbox).count("cora") == 1
