"""Sessions that follow the identity provider, on real NetBox: lifetime, refresh, RP-initiated and
back-channel logout, and the login page's redirect to SSO with its break-glass escape.

Two NetBox instances: `netbox` (generic OIDC + Okta, refresh every second, back-channel registered) and
`redirect_netbox` (login page goes straight to SSO, LOGIN_FORM_HIDDEN on).
"""

from __future__ import annotations

import functools
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from netbox_sso.devstack.login import is_logged_in, parse_login_page
from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.integration import conftest as harness
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block
from tests.integration.test_okta_keycloak import OKTA, okta_block, okta_user

pytestmark = pytest.mark.integration

BACKENDS = """
REMOTE_AUTH_BACKEND = ['social_core.backends.open_id_connect.OpenIdConnectAuth',
                       'social_core.backends.okta_openidconnect.OktaOpenIdConnect']
SESSION_COOKIE_AGE = 7200
"""
SESSIONS = """
PLUGINS_CONFIG = {'netbox_sso': {
    'backends': {'oidc': {
        'groups_claim': 'groups',
        'group_map': {'netbox-users': 'Users', 'ops': ['Operators', 'Viewers']},
        'required_groups': ['netbox-users'],
        'create_groups': True,
    }},
    'session_max_age_from_token': True,
    'refresh_tokens': True,
    # Tests: every request is "near expiry", so a refresh is due at most once per second.
    'refresh_margin': 10 ** 6,
    'refresh_interval': 1,
}}
"""
REDIRECT = """
LOGIN_FORM_HIDDEN = True
PLUGINS_CONFIG = {'netbox_sso': {'break_glass_users': ['admin'], 'login_redirect_backend': 'oidc'}}
"""
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def claims(username: str, groups: list[str]) -> dict:
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username.title(),
        "family_name": "Session",
        "groups": groups,
    }


def register_backchannel(idp, uri: str) -> None:
    """Back-channel logout URI on the one devidp client, keeping every instance's redirect URIs."""
    idp.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        redirect_uris=sorted(harness._REDIRECT_URIS),
        post_logout_redirect_uris=sorted(harness._LOGOUT_URIS),
        backchannel_logout_uri=uri,
    )


def generic_block(idp) -> str:
    return reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    instance = netbox_factory(generic_block(idp) + okta_block(idp) + BACKENDS + SESSIONS)
    register_backchannel(idp, f"{instance.url}/oauth/backchannel-logout/oidc/")
    return instance


@pytest.fixture(scope="module")
def redirect_netbox(netbox_factory, idp):
    return netbox_factory(generic_block(idp) + REDIRECT)


def browser_session(idp) -> requests.Session:
    session = requests.Session()
    session.request = functools.partial(session.request, verify=str(idp.ca_bundle))  # type: ignore[method-assign]
    return session


def session_expiry(netbox, session: requests.Session) -> float:
    with netbox.db() as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM expire_date) FROM django_session WHERE session_key = %s",
            (session.cookies["sessionid"],),
        ).fetchone()
    assert row is not None, "the session is not in the database"
    return float(row[0])


def session_exists(netbox, session_key: str) -> bool:
    with netbox.db() as conn:
        row = conn.execute("SELECT 1 FROM django_session WHERE session_key = %s", (session_key,)).fetchone()
    return row is not None


def idp_sid(idp, session: requests.Session, profile: str = "generic") -> str:
    """The devidp session id (the sid claim) behind a browser session's devidp cookie."""
    cookie = session.cookies.get(f"devidp_{profile}")
    return idp._sessions[cookie].sid


def login_page_messages(response: requests.Response) -> str:
    return " | ".join(parse_login_page(response.text).messages)


def logout_token(idp, *, profile: str = "generic", **overrides) -> str:
    now = int(time.time())
    token = {
        "iss": idp.issuer(profile),
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.time_ns()}",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    token.update(overrides)
    return idp.keys[idp.profile(profile).prefix].sign(
        {k: v for k, v in token.items() if v is not None}, typ="logout+jwt"
    )


# ---- 1. session lifetime ----------------------------------------------------------------------------
def test_session_is_capped_at_the_id_token_expiry(netbox, idp, login):
    idp.upsert_user("ses-ann", claims("ses-ann", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-ann")
    assert result.logged_in, result.messages
    # devidp's generic ID tokens live 600 s; SESSION_COOKIE_AGE (7200, applied from configuration.py) is later.
    remaining = session_expiry(netbox, result.session) - time.time()
    assert 500 < remaining <= 610, remaining
    log = netbox.log_file.read_text()
    assert "SESSION_COOKIE_AGE = 7200 from configuration.py applied" in log


# ---- 2. refresh ----------------------------------------------------------------------------------------
def test_refresh_remaps_groups_after_a_change_at_the_provider(netbox, idp, login):
    idp.upsert_user("ses-ben", claims("ses-ben", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-ben")
    assert result.logged_in, result.messages
    assert db.user_groups(netbox, "ses-ben") == {"Users"}
    idp.upsert_user("ses-ben", claims("ses-ben", ["netbox-users", "ops"]), replace_claims=True)
    time.sleep(1.2)
    page = result.session.get(f"{netbox.url}/user/profile/", allow_redirects=False)
    assert page.status_code == 200
    assert db.user_groups(netbox, "ses-ben") == {"Users", "Operators", "Viewers"}
    assert '"event": "sso.session.refreshed"' in netbox.log_file.read_text()
    # The refresh renewed the session's cap with the new ID token.
    assert session_expiry(netbox, result.session) - time.time() > 590


def test_refused_refresh_ends_the_session(netbox, idp, login):
    idp.upsert_user("ses-cat", claims("ses-cat", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-cat")
    assert result.logged_in, result.messages
    key = result.session.cookies["sessionid"]
    idp.upsert_user("ses-cat", disabled=True)
    try:
        time.sleep(1.2)
        page = result.session.get(f"{netbox.url}/dcim/sites/")
    finally:
        idp.upsert_user("ses-cat", disabled=False)
    assert urlsplit(page.url).path == "/login/"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/dcim/sites/"]
    assert "no longer accepts" in login_page_messages(page)
    assert not session_exists(netbox, key)
    assert not is_logged_in(result.session, netbox.url)


def test_refresh_that_loses_a_required_group_ends_the_session(netbox, idp, login):
    idp.upsert_user("ses-dan", claims("ses-dan", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-dan")
    assert result.logged_in, result.messages
    idp.upsert_user("ses-dan", claims("ses-dan", ["contractors"]), replace_claims=True)
    time.sleep(1.2)
    page = result.session.get(f"{netbox.url}/user/profile/")
    assert urlsplit(page.url).path == "/login/"
    assert "netbox-users" in login_page_messages(page)
    assert not is_logged_in(result.session, netbox.url)


def test_provider_down_keeps_the_session_until_the_token_expires(netbox, idp, login, fresh_idp_state):
    idp.upsert_user("ses-eve", claims("ses-eve", ["netbox-users"]), replace_claims=True)
    idp.set_fault("token_response", values={"expires_in": 4}, profile="generic")
    result = login(netbox, "ses-eve")
    idp.clear_faults()
    assert result.logged_in, result.messages
    idp.set_fault("status", code=503, endpoint="token", profile="generic")
    time.sleep(1.2)
    kept = result.session.get(f"{netbox.url}/user/profile/", allow_redirects=False)
    assert kept.status_code == 200  # refresh failed, the access token is still valid: session kept
    time.sleep(3.5)
    ended = result.session.get(f"{netbox.url}/user/profile/")
    assert urlsplit(ended.url).path == "/login/"
    assert "could not be renewed" in login_page_messages(ended)


# ---- 3. RP-initiated logout ----------------------------------------------------------------------------
def _logout(netbox, session: requests.Session) -> requests.Response:
    response = session.get(f"{netbox.url}/logout/")
    assert response.ok, response.text[:500]
    return response


def _end_session_request(response: requests.Response, idp) -> tuple[str, dict[str, list[str]]]:
    """The hop to the provider during a logout: its path and its query."""
    hops = [r.url for r in response.history if r.url.startswith(idp.base_url)]
    assert hops, [r.url for r in response.history]
    parts = urlsplit(hops[0])
    return parts.path, parse_qs(parts.query)


def test_rp_logout_reaches_end_session_and_lands_back_on_netbox(netbox, idp, login):
    idp.upsert_user("ses-fay", claims("ses-fay", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-fay")
    assert result.logged_in, result.messages
    response = _logout(netbox, result.session)
    path, query = _end_session_request(response, idp)
    assert path == "/generic/logout"
    assert query["post_logout_redirect_uri"] == [f"{netbox.url}/"]
    assert query["client_id"] == [CLIENT_ID]
    hint = query["id_token_hint"][0]
    assert idp.keys["generic"].verify(hint)["sub"] == "sub-ses-fay"
    assert response.url.startswith(f"{netbox.url}/login/")
    assert "You have logged out." in login_page_messages(response)
    assert idp.end_user_sessions("ses-fay") == 0  # the provider's session is over too
    assert not is_logged_in(result.session, netbox.url)


def test_rp_logout_okta_with_the_reference_sign_out_redirect_uri(netbox, idp, login):
    okta_user(idp, "ses-okta", ["Everyone"])
    result = login(netbox, "ses-okta", backend=OKTA)
    assert result.logged_in, (result.messages, netbox.tail_logs())
    response = _logout(netbox, result.session)
    path, query = _end_session_request(response, idp)
    assert path.endswith("/v1/logout")
    # The reference's Okta "Sign-out redirect URI: https://<your-netbox-domain>/".
    assert query["post_logout_redirect_uri"] == [f"{netbox.url}/"]
    assert idp.keys["okta"].verify(query["id_token_hint"][0]) is not None
    assert response.url.startswith(f"{netbox.url}/login/")
    assert idp.end_user_sessions("ses-okta") == 0


def test_cross_site_logout_link_stays_local(netbox, idp, login):
    idp.upsert_user("ses-gus", claims("ses-gus", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-gus")
    assert result.logged_in
    response = result.session.get(
        f"{netbox.url}/logout/", headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert not response.headers["Location"].startswith(idp.base_url)
    assert not is_logged_in(result.session, netbox.url)
    assert idp.end_user_sessions("ses-gus") == 1  # a link from another site must not end the SSO session


def test_same_site_logout_link_stays_local(netbox, idp, login):
    """A sibling subdomain is same-site but another application: only a same-origin logout goes on."""
    idp.upsert_user("ses-sib", claims("ses-sib", ["netbox-users"]), replace_claims=True)
    for headers in ({"Sec-Fetch-Site": "same-site"}, {"Referer": "https://wiki.example.net/page"}):
        result = login(netbox, "ses-sib")
        assert result.logged_in
        response = result.session.get(f"{netbox.url}/logout/", headers=headers, allow_redirects=False)
        assert response.status_code == 302
        assert not response.headers["Location"].startswith(idp.base_url), headers
        assert not is_logged_in(result.session, netbox.url)
    assert idp.end_user_sessions("ses-sib") == 2  # both provider sessions are still open
    with netbox.db() as conn:
        details = [
            row[0]
            for row in conn.execute(
                "SELECT details FROM netbox_sso_ssoevent WHERE event = 'logout' AND username = 'ses-sib' ORDER BY id"
            )
        ]
    assert details == [{"provider_logout": False, "cross_origin": True}] * 2


# ---- 4. back-channel logout ------------------------------------------------------------------------------
@pytest.fixture()
def backchannel(netbox, idp):
    """The client's back-channel logout URI points at this module's NetBox (other instances re-register)."""
    register_backchannel(idp, f"{netbox.url}/oauth/backchannel-logout/oidc/")
    return netbox


def test_provider_ending_the_user_ends_the_netbox_session(backchannel, netbox, idp, login):
    idp.upsert_user("ses-hal", claims("ses-hal", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "ses-hal")
    assert result.logged_in
    key = result.session.cookies["sessionid"]
    idp.clear_log()
    assert idp.end_user_sessions("ses-hal") == 1
    assert [entry.get("status") for entry in idp.backchannel_log] == [200], idp.backchannel_log
    assert not session_exists(netbox, key)  # deleted at once, not at the next request
    page = result.session.get(f"{netbox.url}/dcim/sites/")
    assert urlsplit(page.url).path == "/login/"


def test_sid_logout_ends_only_that_session(netbox, idp, login):
    idp.upsert_user("ses-ida", claims("ses-ida", ["netbox-users"]), replace_claims=True)
    first = login(netbox, "ses-ida")
    second = login(netbox, "ses-ida")  # another browser: another provider session, another sid
    assert first.logged_in and second.logged_in
    sid = idp_sid(idp, first.session)
    answer = requests.post(
        f"{netbox.url}/oauth/backchannel-logout/oidc/",
        data={"logout_token": logout_token(idp, sub="sub-ses-ida", sid=sid)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert not is_logged_in(first.session, netbox.url)
    assert is_logged_in(second.session, netbox.url)


def backchannel_events(netbox, sub: str) -> list[dict]:
    with netbox.db() as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT details FROM netbox_sso_ssoevent WHERE event = 'logout' AND reason = 'backchannel' "
                "AND details->>'sub' = %s ORDER BY id",
                (sub,),
            )
        ]


def test_logout_token_with_a_live_sid_but_another_sub_ends_nothing(netbox, idp, login):
    idp.upsert_user("ses-sue", claims("ses-sue", ["netbox-users"]), replace_claims=True)
    victim = login(netbox, "ses-sue")
    assert victim.logged_in
    sid = idp_sid(idp, victim.session)
    answer = requests.post(
        f"{netbox.url}/oauth/backchannel-logout/oidc/",
        data={"logout_token": logout_token(idp, sub="sub-someone-else", sid=sid)},
    )
    assert answer.status_code == 200, answer.text
    assert is_logged_in(victim.session, netbox.url)  # neither deleted now nor ended by a marker later
    [details] = backchannel_events(netbox, "sub-someone-else")
    assert (details["sessions_ended"], details["other_sub"]) == (0, 1)


def test_sid_and_sub_token_also_ends_the_users_sessions_recorded_without_sid(netbox, idp, login):
    idp.upsert_user("ses-tom", claims("ses-tom", ["netbox-users"]), replace_claims=True)
    idp.set_fault("id_token_claims", claims={"sid": None}, times=1)  # a provider that sent no sid this time
    without_sid = login(netbox, "ses-tom")
    idp.clear_faults()
    with_sid = login(netbox, "ses-tom")
    other_sid = login(netbox, "ses-tom")
    assert without_sid.logged_in and with_sid.logged_in and other_sid.logged_in
    answer = requests.post(
        f"{netbox.url}/oauth/backchannel-logout/oidc/",
        data={"logout_token": logout_token(idp, sub="sub-ses-tom", sid=idp_sid(idp, with_sid.session))},
    )
    assert answer.status_code == 200, answer.text
    assert not is_logged_in(with_sid.session, netbox.url)
    assert not is_logged_in(without_sid.session, netbox.url)
    assert is_logged_in(other_sid.session, netbox.url)  # another provider session of the same user
    assert backchannel_events(netbox, "sub-ses-tom")[-1]["sessions_ended"] == 2


def test_logout_token_sub_only_ends_every_session_of_the_user(netbox, idp, login):
    idp.upsert_user("ses-jon", claims("ses-jon", ["netbox-users"]), replace_claims=True)
    sessions = [login(netbox, "ses-jon").session for _ in range(2)]
    answer = requests.post(
        f"{netbox.url}/oauth/backchannel-logout/oidc/", data={"logout_token": logout_token(idp, sub="sub-ses-jon")}
    )
    assert answer.status_code == 200, answer.text
    assert not any(is_logged_in(s, netbox.url) for s in sessions)


def test_replayed_logout_token_is_rejected(netbox, idp):
    token = logout_token(idp, sub="sub-nobody")
    url = f"{netbox.url}/oauth/backchannel-logout/oidc/"
    assert requests.post(url, data={"logout_token": token}).status_code == 200
    replay = requests.post(url, data={"logout_token": token})
    assert replay.status_code == 400
    assert "already used" in replay.json()["error_description"]
    assert replay.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-client"}, "aud"),
        ({"iss": "https://evil.example/"}, "iss"),
        ({"events": None}, "events"),
        ({"events": {"http://schemas.openid.net/event/other": {}}}, "events"),
        ({"nonce": "n-1"}, "nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "exp"),
        ({"jti": None}, "jti"),
        ({}, "sub"),  # neither sub nor sid
    ],
)
def test_invalid_logout_tokens_are_rejected(netbox, idp, overrides, reason):
    token = logout_token(idp, **overrides)
    answer = requests.post(f"{netbox.url}/oauth/backchannel-logout/oidc/", data={"logout_token": token})
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error_description"]


def test_backchannel_endpoint_answers_per_spec(netbox, idp):
    url = f"{netbox.url}/oauth/backchannel-logout/oidc/"
    assert requests.get(url).status_code == 405
    assert requests.post(url, data={}).status_code == 400
    forged = logout_token(idp, sub="sub-x", profile="keycloak")  # another issuer's key and iss
    assert requests.post(url, data={"logout_token": forged}).status_code == 400
    assert requests.post(f"{netbox.url}/oauth/backchannel-logout/nope/", data={"logout_token": "x"}).status_code == 404


# ---- 5. straight to SSO from the login page, with the break-glass escape -------------------------------------
def test_login_page_sends_visitors_straight_to_sso(redirect_netbox, idp):
    idp.upsert_user("ses-kim", claims("ses-kim", ["netbox-users"]), replace_claims=True)
    session = browser_session(idp)
    first = session.get(f"{redirect_netbox.url}/dcim/sites/", allow_redirects=False)
    login_url = first.headers["Location"]
    to_idp = session.get(f"{redirect_netbox.url}{login_url}", allow_redirects=False)
    assert to_idp.status_code == 302
    authorize = to_idp.headers["Location"]
    assert authorize.startswith(idp.issuer("generic"))
    signed_in = session.post(authorize, data={"username": "ses-kim"}, allow_redirects=False)
    landed = session.get(signed_in.headers["Location"])
    assert urlsplit(landed.url).path == "/dcim/sites/"
    assert is_logged_in(session, redirect_netbox.url)
    # Logging out lands on the login page with its message, not straight back at the provider.
    out = session.get(f"{redirect_netbox.url}/logout/")
    assert urlsplit(out.url).path == "/login/"
    assert "You have logged out." in login_page_messages(out)


def test_local_login_escape_for_break_glass_accounts(redirect_netbox, idp):
    session = browser_session(idp)
    page = session.get(f"{redirect_netbox.url}/login/?local=1")
    assert page.status_code == 200 and urlsplit(page.url).path == "/login/"
    assert 'name="password"' in page.text  # shown although LOGIN_FORM_HIDDEN is True
    form = session.post(
        f"{redirect_netbox.url}/login/?local=1",
        data={
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": page.url},
    )
    assert is_logged_in(session, redirect_netbox.url), form.text[:300]
