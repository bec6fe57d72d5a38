"""devidp generic profile: discovery, code flow with PKCE and nonce, client auth, sessions, logout."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file
from netbox_sso.devidp.rp import RelyingParty

REDIRECT = "http://127.0.0.1:9/cb"
LOGOUT_TARGET = "http://127.0.0.1:9/bye"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE),
        profiles=("generic",),
        state_dir=tmp_path_factory.mktemp("devidp"),
    )
    server.start()
    server.register_client("rp", "s3cret/+&", redirect_uris=[REDIRECT], post_logout_redirect_uris=[LOGOUT_TARGET])
    server.register_client("public", None, redirect_uris=[REDIRECT], require_pkce=True)
    yield server
    server.stop()


@pytest.fixture
def rp(idp: DevIdP) -> Iterator[RelyingParty]:
    idp.clear_faults()
    yield RelyingParty(idp.discovery_url("generic"), "rp", "s3cret/+&", REDIRECT)
    idp.clear_faults()


def test_discovery_document(idp: DevIdP, rp: RelyingParty) -> None:
    doc = rp.config
    assert doc["issuer"] == idp.issuer("generic") == f"{idp.base_url}/generic"
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert doc[key].startswith(doc["issuer"] + "/")
    assert doc["response_types_supported"] == ["code"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert doc["code_challenge_methods_supported"] == ["S256", "plain"]
    assert {"openid", "profile", "email", "groups"} <= set(doc["scopes_supported"])
    assert doc["authorization_response_iss_parameter_supported"] is True
    jwks = requests.get(doc["jwks_uri"], timeout=5).json()
    assert all(k["kid"] and k["kty"] == "RSA" and "d" not in k for k in jwks["keys"])


@pytest.mark.parametrize("auth", ["basic", "post"])
@pytest.mark.parametrize("pkce", ["S256", "plain"])
def test_code_flow_verifies_like_a_relying_party(idp: DevIdP, rp: RelyingParty, auth: str, pkce: str) -> None:
    result = rp.code_flow("alice", auth=auth, pkce=pkce)  # type: ignore[arg-type]
    assert result.callback["iss"] == idp.issuer("generic")  # RFC 9207
    claims = result.id_claims
    assert claims["aud"] == "rp" and claims["azp"] == "rp"
    assert claims["email"] == "alice@example.com" and claims["preferred_username"] == "alice"
    assert claims["groups"] == ["netbox-admins"]
    assert claims["realm_access"] == {"roles": ["netbox-admin"]}
    assert {"auth_time", "at_hash", "sid", "nonce"} <= set(claims)
    assert result.tokens["token_type"] == "Bearer" and result.tokens["refresh_token"]
    access = jwt.decode(result.tokens["access_token"], options={"verify_signature": False})
    assert access["aud"] == "rp" and "openid" in access["scope"].split()


def test_state_echoed_and_scope_filters_claims(rp: RelyingParty) -> None:
    url, verifier = rp.authorize_url(scope="openid", state="st-123", nonce="n")
    callback = rp.callback_params(rp.sign_in(url, "bob"))
    assert callback["state"] == "st-123"
    claims = rp.verify_id_token(rp.exchange(callback["code"], verifier)["id_token"], nonce="n")
    assert "email" not in claims and "name" not in claims
    assert claims["groups"] == ["netbox-editors"]  # generic releases groups without the groups scope


def test_raw_basic_credentials_accepted(rp: RelyingParty) -> None:
    url, verifier = rp.authorize_url()
    code = rp.callback_params(rp.sign_in(url, "alice"))["code"]
    resp = rp.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier or "",
        },
        auth="basic",
        raw_basic=True,
    )
    assert resp.status_code == 200, resp.text


def test_wrong_secret_and_two_auth_methods_rejected(rp: RelyingParty) -> None:
    url, _ = rp.authorize_url()
    code = rp.callback_params(rp.sign_in(url, "alice"))["code"]
    bad = RelyingParty(rp.discovery_url, "rp", "nope", REDIRECT)
    resp = bad.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    resp = rp.token({"grant_type": "authorization_code", "code": code, "client_secret": "s3cret/+&"}, auth="basic")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_code_is_single_use_and_replay_revokes(rp: RelyingParty) -> None:
    url, verifier = rp.authorize_url()
    code = rp.callback_params(rp.sign_in(url, "alice"))["code"]
    tokens = rp.exchange(code, verifier)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier or "",
    }
    replay = rp.token(data)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = rp.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"  # RFC 6749 4.1.2: tokens from a replayed code revoked
    userinfo = rp.http.get(
        rp.config["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401


def test_wrong_pkce_verifier_rejected(rp: RelyingParty) -> None:
    url, _ = rp.authorize_url()
    code = rp.callback_params(rp.sign_in(url, "alice"))["code"]
    resp = rp.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "x" * 50,
        }
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_public_client_requires_pkce(idp: DevIdP) -> None:
    pub = RelyingParty(idp.discovery_url("generic"), "public", None, REDIRECT)
    url, _ = pub.authorize_url(pkce=None)
    assert pub.callback_params(pub.sign_in(url, "alice"))["error"] == "invalid_request"
    assert pub.code_flow("alice", auth="none").id_claims["aud"] == "public"


def test_redirect_uri_mismatch_shows_page_without_redirect(rp: RelyingParty) -> None:
    url, _ = rp.authorize_url(redirect_uri="http://evil.example/cb")
    resp = rp.http.get(url, allow_redirects=False)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "redirect_uri_mismatch" in resp.text


def test_unknown_client_shows_error_page(idp: DevIdP) -> None:
    other = RelyingParty(idp.discovery_url("generic"), "ghost", "x", REDIRECT)
    resp = other.http.get(other.authorize_url()[0], allow_redirects=False)
    assert resp.status_code == 400 and "invalid_client" in resp.text


def test_protocol_errors_redirect_with_state_and_iss(idp: DevIdP, rp: RelyingParty) -> None:
    url, _ = rp.authorize_url(scope="profile", state="s1")
    params = rp.callback_params(rp.http.get(url, allow_redirects=False))
    assert params == {
        "error": "invalid_scope",
        "error_description": params["error_description"],
        "state": "s1",
        "iss": idp.issuer("generic"),
    }
    url, _ = rp.authorize_url(response_type="token")
    assert rp.callback_params(rp.http.get(url, allow_redirects=False))["error"] == "unsupported_response_type"


def test_login_page_lists_users_in_a_post_form(rp: RelyingParty) -> None:
    url, _ = rp.authorize_url(state="abc")
    page = rp.http.get(url)
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert '<button type="submit" name="username" value="alice">' in page.text
    assert '<input type="hidden" name="state" value="abc">' in page.text


def test_session_single_sign_on_and_prompts(rp: RelyingParty) -> None:
    rp.code_flow("alice")
    url, verifier = rp.authorize_url()
    callback = rp.callback_params(rp.http.get(url, allow_redirects=False))  # cookie: no page
    claims = rp.verify_id_token(rp.exchange(callback["code"], verifier)["id_token"])
    assert claims["preferred_username"] == "alice"
    url, _ = rp.authorize_url(prompt="login")
    assert rp.http.get(url, allow_redirects=False).status_code == 200
    fresh = RelyingParty(rp.discovery_url, "rp", "s3cret/+&", REDIRECT)
    url, _ = fresh.authorize_url(prompt="none")
    assert fresh.callback_params(fresh.http.get(url, allow_redirects=False))["error"] == "login_required"


def test_password_users_and_disabled_users(idp: DevIdP, rp: RelyingParty) -> None:
    idp.upsert_user("pat", {"email": "pat@example.com"}, password="pw")
    url, _ = rp.authorize_url()
    assert rp.sign_in(url, "pat", "wrong").status_code == 401
    assert rp.code_flow("pat", password="pw").id_claims["email"] == "pat@example.com"
    idp.upsert_user("pat", disabled=True)
    assert rp.sign_in(rp.authorize_url()[0], "pat", "pw").status_code == 401


def test_upsert_changes_groups_between_logins_and_refresh(idp: DevIdP, rp: RelyingParty) -> None:
    idp.upsert_user("erin", {"email": "erin@example.com", "groups": ["a"]})
    first = rp.code_flow("erin")
    assert first.id_claims["groups"] == ["a"]
    idp.upsert_user("erin", {"groups": ["b"]})
    refreshed = rp.token({"grant_type": "refresh_token", "refresh_token": first.tokens["refresh_token"]}).json()
    claims = rp.verify_id_token(refreshed["id_token"])
    assert claims["groups"] == ["b"] and claims["email"] == "erin@example.com" and "nonce" not in claims


def test_userinfo_requires_valid_bearer(rp: RelyingParty) -> None:
    result = rp.code_flow("carol")
    ep = rp.config["userinfo_endpoint"]
    info = rp.http.get(ep, headers={"Authorization": f"Bearer {result.tokens['access_token']}"}).json()
    assert info["sub"] == result.id_claims["sub"] and info["groups"] == ["netbox-readers"]
    assert rp.http.get(ep).status_code == 401
    tampered = result.tokens["access_token"][:-4] + "AAAA"
    assert rp.http.get(ep, headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_end_session_clears_session_and_redirects(rp: RelyingParty) -> None:
    result = rp.code_flow("alice")
    resp = rp.http.get(
        rp.config["end_session_endpoint"],
        params={
            "id_token_hint": result.tokens["id_token"],
            "post_logout_redirect_uri": LOGOUT_TARGET,
            "state": "bye",
        },
        allow_redirects=False,
    )
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query) == {"state": ["bye"]}
    url, _ = rp.authorize_url(prompt="none")
    assert rp.callback_params(rp.http.get(url, allow_redirects=False))["error"] == "login_required"
    refresh = rp.token({"grant_type": "refresh_token", "refresh_token": result.tokens["refresh_token"]})
    assert refresh.status_code == 400
    bad = rp.http.get(
        rp.config["end_session_endpoint"],
        params={"post_logout_redirect_uri": "http://evil/"},
        allow_redirects=False,
    )
    assert bad.status_code == 400


def test_backchannel_logout_is_posted(idp: DevIdP, tmp_path: Path) -> None:
    received: list[str] = []
    sink = DevIdP(profiles=("generic:sink",), state_dir=tmp_path)  # any HTTP server works as a sink
    sink.start()
    try:
        target = f"{sink.base_url}/sink/token"
        idp.register_client("bc", "bc-secret", redirect_uris=[REDIRECT], backchannel_logout_uri=target)
        bc = RelyingParty(idp.discovery_url("generic"), "bc", "bc-secret", REDIRECT)
        bc.code_flow("bob")
        assert idp.end_user_sessions("bob") >= 1
        entry = idp.backchannel_log[-1]
        received.append(entry["uri"])
        assert entry["client_id"] == "bc" and entry["status"] == 401  # the sink rejects it; it was delivered
        assert ("POST", "/sink/token") in sink.requests_log
    finally:
        sink.stop()


def test_control_api(idp: DevIdP) -> None:
    base = f"{idp.base_url}/_devidp"
    assert requests.post(f"{base}/users", json={"username": "zed", "claims": {"groups": ["z"]}}).status_code == 200
    assert "zed" in {u["username"] for u in requests.get(f"{base}/users").json()}
    old = idp.keys["generic"].kid
    kids = requests.post(f"{base}/rotate", json={}).json()["kids"]
    assert kids["generic"] != old
    assert requests.post(f"{base}/faults", json={"name": "status", "code": 503, "endpoint": "jwks"}).ok
    assert requests.get(f"{base}/faults").json()["faults"][0]["name"] == "status"
    assert requests.get(f"{idp.base_url}/generic/jwks").status_code == 503
    assert requests.delete(f"{base}/faults").json() == {"faults": []}
    assert requests.post(f"{base}/faults", json={"name": "nope"}).status_code == 400
    log = requests.get(f"{base}/log").json()["requests"]
    assert ["GET", "/generic/jwks"] in log and not any(p.startswith("/_devidp") for _, p in log)


def test_users_file_formats(tmp_path: Path) -> None:
    data = {
        "clients": [{"client_id": "c", "client_secret": "s", "redirect_uris": ["http://x/cb"]}],
        "users": [{"username": "u", "claims": {"email": "u@x"}}],
    }
    (tmp_path / "u.json").write_text(json.dumps(data))
    directory = load_users_file(tmp_path / "u.json")
    assert directory.users[0].sub == load_users_file(tmp_path / "u.json").users[0].sub  # stable generated sub
    assert directory.clients[0].redirect_uris == ["http://x/cb"]
    sample = load_users_file(SAMPLE_USERS_FILE)
    assert len(next(u for u in sample.users if u.username == "dave").groups) == 251
    (tmp_path / "bad.yaml").write_text("users: [{username: a, colour: red}]")
    with pytest.raises(ValueError, match="colour"):
        load_users_file(tmp_path / "bad.yaml")


def test_basic_header_is_form_urlencoded_per_rfc6749() -> None:
    # Guard for the RelyingParty helper the other tests rely on.
    rp = RelyingParty("http://unused", "a b", "p:w", REDIRECT)
    rp._config = {"token_endpoint": "http://127.0.0.1:9/none"}
    with pytest.raises(requests.ConnectionError) as info:
        rp.token({}, auth="basic")
    sent = info.value.request.headers["Authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "a+b:p%3Aw"


def test_stop_cuts_open_keep_alive_connections(tmp_path: Path) -> None:
    """A stopped provider answers nothing, not even on a connection a client kept alive (relying parties
    reuse connections; a keep-alive thread left serving would make "IdP down" tests pass logins)."""
    server = DevIdP(users=load_users_file(SAMPLE_USERS_FILE), profiles=("generic",), state_dir=tmp_path)
    server.start()
    discovery = f"{server.issuer('generic')}/.well-known/openid-configuration"
    with requests.Session() as session:
        assert session.get(discovery, timeout=5).status_code == 200  # the connection stays open (HTTP/1.1)
        server.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(discovery, timeout=5)
