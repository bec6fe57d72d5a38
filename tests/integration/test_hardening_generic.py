"""Hardened generic OIDC on real NetBox: every hostile case ends on the login page with a specific message.

One NetBox runs the reference's generic block pasted verbatim; devidp's faults play the hostile or broken
provider. Each refusal is checked from the outside: not logged in, back on /login/, the message names the
problem, no user row was written, and one audit line was logged.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from netbox_sso.devstack.login import LoginResult, find_sso_form, is_logged_in, parse_login_page
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    config = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "generic")
    )
    return netbox_factory(config)


@pytest.fixture(autouse=True)
def _no_faults(idp):
    idp.clear_faults()
    yield
    idp.clear_faults()


def flush_metadata_cache(netbox) -> None:
    """Forget cached discovery/JWKS (NetBox's caching Redis DB) so the next login fetches them."""
    netbox.redis.flush(netbox.redis_dbs[1])


def audit_lines(netbox) -> list[str]:
    return [line for line in netbox.log_file.read_text().splitlines() if "sso.login.failed" in line]


def assert_refused(netbox, result: LoginResult, *fragments: str) -> None:
    assert not result.logged_in, result.final_url
    assert urlsplit(result.final_url).path == "/login/", (result.final_url, result.status_code)
    assert result.status_code == 200
    text = result.message_text
    for fragment in fragments:
        assert fragment in text, (fragment, text, netbox.tail_logs(15))


def refused_login(netbox, login, username: str, *fragments: str) -> LoginResult:
    users_before = db.user_count(netbox)
    audits_before = len(audit_lines(netbox))
    result = login(netbox, username)
    assert_refused(netbox, result, *fragments)
    assert db.user_count(netbox) == users_before, "a refused login must not leave a user behind"
    assert len(audit_lines(netbox)) == audits_before + 1
    return result


def begin(netbox, idp, session: requests.Session | None = None) -> tuple[requests.Session, dict]:
    """POST the SSO button as NetBox's JavaScript does; return the session and the JSON answer."""
    session = session or requests.Session()
    session.verify = str(idp.ca_bundle)
    page = session.get(f"{netbox.url}/login/", timeout=30)
    form = find_sso_form(page.text, "oidc")
    answer = session.post(
        f"{netbox.url}{form.action}",
        data=form.fields,
        timeout=30,
        allow_redirects=False,
        headers={"Accept": "application/json", "Referer": page.url},
    )
    assert answer.status_code == 200, answer.text[:500]
    return session, answer.json()


def now() -> int:
    return int(time.time())


# ---- positive controls -----------------------------------------------------------------------------------
def test_login_uses_pkce_s256_nonce_and_a_fresh_state(netbox, idp, login):
    _session, first = begin(netbox, idp)
    query = parse_qs(urlsplit(first["url"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["nonce"][0]) >= 32
    _session, second = begin(netbox, idp, _session)
    assert parse_qs(urlsplit(second["url"]).query)["state"] != query["state"]
    result = login(netbox, "alice")
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_tokens_are_not_stored_at_rest(netbox, login):
    assert login(netbox, "bob").logged_in
    with netbox.db() as conn:
        extra = conn.execute(
            "SELECT extra_data FROM social_auth_usersocialauth WHERE uid = %s", ("7b2d4c1f-bob",)
        ).fetchone()[0]
    assert not {"access_token", "refresh_token", "id_token"} & set(extra), extra
    assert "auth_time" in extra


def test_signing_key_rotation_is_followed(netbox, idp, login):
    assert login(netbox, "alice").logged_in  # JWKS cached
    idp.rotate_keys("generic", drop_previous=True)
    result = login(netbox, "alice")
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_rotation_to_a_key_without_kid_is_followed(netbox, idp, login):
    assert login(netbox, "alice").logged_in  # JWKS cached
    idp.rotate_keys("generic", drop_previous=True)
    idp.set_fault("sign", mode="no_kid")
    result = login(netbox, "alice")
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_moderate_clock_skew_is_tolerated(netbox, idp, login):
    idp.set_fault("clock_offset", seconds=45)
    result = login(netbox, "alice")
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_next_is_followed_on_the_same_site(netbox, login):
    result = login(netbox, "alice", next_url="/dcim/sites/")
    assert result.logged_in
    assert urlsplit(result.final_url).path == "/dcim/sites/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_open_redirect_through_next_is_refused(netbox, login, target):
    result = login(netbox, "alice", next_url=target)
    assert result.logged_in
    assert urlsplit(result.final_url).hostname == "127.0.0.1", result.final_url


# ---- the provider is down, slow or broken ------------------------------------------------------------------
def test_idp_500_at_token_endpoint(netbox, idp, login):
    idp.set_fault("status", code=500, endpoint="token")
    refused_login(netbox, login, "carol", "unavailable", "HTTP 500")


def test_idp_stall_is_bounded(netbox, idp, login):
    idp.set_fault("delay", seconds=15, endpoint="token")
    started = time.monotonic()
    refused_login(netbox, login, "carol", "did not answer in time")
    assert time.monotonic() - started < 14


def test_malformed_json_from_token_endpoint(netbox, idp, login):
    idp.set_fault("malformed_json", endpoint="token")
    refused_login(netbox, login, "carol", "malformed response")


def test_malformed_jwks(netbox, idp, login):
    for mode, fragment in (("malformed", "malformed response"), ("no_keys_field", "(keys)"), ("empty", "signing keys")):
        flush_metadata_cache(netbox)
        idp.set_fault("jwks", mode=mode)
        refused_login(netbox, login, "carol", fragment)
    idp.clear_faults()


def test_discovery_failure_at_begin_lands_on_the_login_page(netbox, idp):
    flush_metadata_cache(netbox)
    idp.set_fault("status", code=500, endpoint="discovery")
    session, answer = begin(netbox, idp)
    assert urlsplit(answer["url"]).path == "/login/"
    page = session.get(answer["url"], timeout=30)
    assert "unavailable" in " ".join(parse_login_page(page.text).messages)


def test_discovery_issuer_mismatch(netbox, idp):
    flush_metadata_cache(netbox)
    idp.set_fault("discovery_overrides", values={"issuer": "https://evil.example/"})
    session, answer = begin(netbox, idp)
    assert urlsplit(answer["url"]).path == "/login/"
    messages = " ".join(parse_login_page(session.get(answer["url"], timeout=30).text).messages)
    assert "discovery document" in messages and "issuer" in messages


def test_discovered_endpoint_over_plain_http(netbox, idp):
    flush_metadata_cache(netbox)
    idp.set_fault("discovery_overrides", values={"token_endpoint": "http://idp.example/token"})
    session, answer = begin(netbox, idp)
    messages = " ".join(parse_login_page(session.get(answer["url"], timeout=30).text).messages)
    assert "https" in messages and "token_endpoint" in messages


# ---- hostile tokens ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("wrong_key", "signature"),
        ("none", "(alg)"),
        ("hs256_with_public_key", "(alg)"),
    ],
)
def test_bad_signatures(netbox, idp, login, mode, fragment):
    idp.set_fault("sign", mode=mode)
    refused_login(netbox, login, "carol", fragment)


@pytest.mark.parametrize(
    ("claims", "fragment"),
    [
        ({"iss": "https://evil.example/"}, "(iss)"),
        ({"aud": "another-client"}, "(aud)"),
        ({"aud": [CLIENT_ID, "another-client"], "azp": "another-client"}, "(azp)"),
        ({"sub": None}, "(sub)"),
        ({"nonce": "a-nonce-from-another-session"}, "(nonce)"),
    ],
)
def test_wrong_claims(netbox, idp, login, claims, fragment):
    idp.set_fault("id_token_claims", claims=claims)
    refused_login(netbox, login, "carol", fragment)


@pytest.mark.parametrize(
    ("claim", "offset", "fragment"),
    [
        ("exp", -3600, "(exp)"),
        ("iat", -3600, "(iat)"),
        ("nbf", 3600, "(nbf)"),
    ],
)
def test_times_out_of_range(netbox, idp, login, claim, offset, fragment):
    idp.set_fault("id_token_claims", claims={claim: now() + offset})
    refused_login(netbox, login, "carol", fragment, "clocks")


@pytest.mark.parametrize(
    ("claims", "fragment"),
    [
        ({"sub": "somebody-else"}, "(userinfo.sub)"),
        ({"sub": None}, "(userinfo.sub)"),
    ],
)
def test_userinfo_sub(netbox, idp, login, claims, fragment):
    idp.set_fault("userinfo_claims", claims=claims)
    refused_login(netbox, login, "carol", fragment)


def test_oversized_claims(netbox, idp, login):
    idp.set_fault("oversized_claim", name="given_name", length=5000, target="id_token")
    refused_login(netbox, login, "carol", "(given_name)")
    idp.set_fault("oversized_claim", name="email", length=100_000, target="userinfo")
    refused_login(netbox, login, "carol", "userinfo.email")
    idp.set_fault("oversized_claim", name="email", length=300, target="both")  # under the cap, over the column
    refused_login(netbox, login, "carol", "(email)")


# ---- replays ---------------------------------------------------------------------------------------------------
def test_state_and_code_replay(netbox, idp, login):
    result = login(netbox, "alice")
    assert result.logged_in
    callback = next(url for url in result.history if "/oauth/complete/oidc/" in url and "code=" in url)
    audits_before = len(audit_lines(netbox))
    # Same browser session: the state was consumed by the first use. (The refusal redirects to /login/,
    # which sends the still signed-in user on to the home page, where the message shows.)
    again = result.session.get(callback, timeout=30)
    assert [urlsplit(r.headers["Location"]).path for r in again.history][-2:] == ["/login/", "/"]
    assert "already used" in " ".join(parse_login_page(again.text).messages)
    # Another browser (login CSRF / stolen callback URL): no login of its own is in progress.
    stranger = requests.Session()
    stranger.verify = str(idp.ca_bundle)
    replay = stranger.get(callback, timeout=30)
    assert urlsplit(replay.url).path == "/login/"
    assert not is_logged_in(stranger, netbox.url)
    assert len(audit_lines(netbox)) == audits_before + 2


def test_callback_from_another_login_is_refused(netbox, idp, login):
    """A code+state minted for browser A cannot complete a login started in browser B."""
    victim, _answer = begin(netbox, idp)  # B started a login (has a pending state of its own)
    result = login(netbox, "bob")
    callback = next(url for url in result.history if "/oauth/complete/oidc/" in url and "code=" in url)
    replay = victim.get(callback, timeout=30)
    assert urlsplit(replay.url).path == "/login/"
    assert not is_logged_in(victim, netbox.url)


def test_wrong_rfc9207_iss_parameter(netbox, idp, login):
    result = login(netbox, "alice")
    callback = next(url for url in result.history if "/oauth/complete/oidc/" in url and "code=" in url)
    session, answer = begin(netbox, idp)
    state = parse_qs(urlsplit(answer["url"]).query)["state"][0]
    forged = f"{netbox.url}/oauth/complete/oidc/?code=x&state={state}&iss=https%3A%2F%2Fevil.example%2F"
    response = session.get(forged, timeout=30)
    assert urlsplit(response.url).path == "/login/"
    assert "(iss)" in " ".join(parse_login_page(response.text).messages)
    assert callback


def test_failures_are_audited_and_never_500(netbox):
    lines = audit_lines(netbox)
    assert lines
    assert all('"event": "sso.login.failed"' in line for line in lines)
    assert not any("eyJ" in line for line in lines), "tokens must never be logged"
    gunicorn = netbox.gunicorn_log.read_text()
    assert '" 500 ' not in gunicorn
