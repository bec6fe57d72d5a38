"""Unauthenticated edges on real NetBox over HTTP: what anyone on the network can send costs bounded rows,
provider calls and work; the audit trail keeps every event it logs; the client address is not the
caller's choice; a database cut on a sign-in page never ends in a bare 400.

Two NetBox instances: `netbox` (generic OIDC and Okta, metrics, EXEMPT_VIEW_PERMISSIONS = ['*'], a small
throttle burst, no trusted proxy) and `proxied` (the same behind a trusted reverse proxy on loopback).
Floods are a few dozen requests on loopback; a throttle window is ended by deleting its counter in Redis,
never by waiting.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from netbox_sso.devstack.login import find_sso_form, parse_login_page
from netbox_sso.events import LOG_NAMES
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block
from tests.integration.test_okta_keycloak import okta_block

pytestmark = pytest.mark.integration

BURST = 3
FLOOD = 30
BACKENDS = """
REMOTE_AUTH_BACKEND = ['social_core.backends.open_id_connect.OpenIdConnectAuth',
                       'social_core.backends.okta_openidconnect.OktaOpenIdConnect']
METRICS_ENABLED = True
"""
EDGES = f"""
EXEMPT_VIEW_PERMISSIONS = ['*']
PLUGINS_CONFIG = {{'netbox_sso': {{'audit_throttle_burst': {BURST}, 'audit_throttle_window': 3600}}}}
"""
PROXIED = f"""
HTTP_CLIENT_IP_HEADERS = ['HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR']
PLUGINS_CONFIG = {{'netbox_sso': {{'audit_throttle_burst': {BURST}, 'audit_throttle_window': 3600,
                                   'trusted_proxies': ['127.0.0.0/8']}}}}
"""
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def generic_block(idp) -> str:
    return reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    return netbox_factory(generic_block(idp) + okta_block(idp) + BACKENDS + EDGES)


@pytest.fixture(scope="module")
def proxied(netbox_factory, idp):
    return netbox_factory(generic_block(idp) + BACKENDS + PROXIED)


@pytest.fixture(autouse=True)
def _no_faults(idp):
    idp.clear_faults()
    yield
    idp.clear_faults()


def claims(username: str) -> dict:
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username.title(),
        "family_name": "Edge",
        "groups": [],
    }


def browser(idp) -> requests.Session:
    session = requests.Session()
    session.request = functools.partial(session.request, verify=str(idp.ca_bundle), timeout=30)  # type: ignore[method-assign]
    return session


def begin(netbox, idp) -> tuple[requests.Session, str]:
    """Start a login as NetBox's page does; return the browser session and the login's state."""
    session = browser(idp)
    page = session.get(f"{netbox.url}/login/")
    form = find_sso_form(page.text, "oidc")
    answer = session.post(
        f"{netbox.url}{form.action}",
        data=form.fields,
        allow_redirects=False,
        headers={"Accept": "application/json", "Referer": page.url},
    )
    assert answer.status_code == 200, answer.text[:300]
    return session, parse_qs(urlsplit(answer.json()["url"]).query)["state"][0]


def cache_keys(netbox, pattern: str) -> list[bytes]:
    client = redis.Redis(host=netbox.redis.host, port=netbox.redis.port, db=netbox.redis_dbs[1])
    return list(client.scan_iter(f"*netbox_sso:v1:{pattern}"))


def forget(netbox, pattern: str) -> None:
    """Delete cache entries (a throttle window's counter, the JWKS refetch window): the window is over."""
    client = redis.Redis(host=netbox.redis.host, port=netbox.redis.port, db=netbox.redis_dbs[1])
    for key in cache_keys(netbox, pattern):
        client.delete(key)


def events(netbox, where: str = "TRUE", params: tuple = ()) -> list[dict]:
    with netbox.db() as conn:
        cursor = conn.execute(
            "SELECT id, event, outcome, reason, backend, username, host(client) AS client, "
            f"message, details FROM netbox_sso_ssoevent WHERE {where} ORDER BY id",
            params,
        )
        return [dict(zip([c.name for c in cursor.description], row, strict=True)) for row in cursor.fetchall()]


def last_id(netbox) -> int:
    with netbox.db() as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM netbox_sso_ssoevent").fetchone()[0])


def metric(netbox, name: str, **labels: str) -> float:
    text = requests.get(f"{netbox.url}/metrics", timeout=30).text
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(selector)}\}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def forged_logout_token(idp, key: RSAKey, kid: str | None) -> str:
    now = int(time.time())
    claims = {
        "iss": idp.issuer("generic"),
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "sub": "sub-anyone",
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    header = {"alg": "RS256", "typ": "logout+jwt", **({"kid": kid} if kid else {})}
    return jwt.encode(header, claims, key)


def jwks_fetches(idp) -> int:
    return sum(1 for _method, path in idp.requests_log if path == "/generic/jwks")


# ---- item 2 and 14: unauthenticated failures are throttled per client; the client is the peer ---------------
def test_forged_error_callbacks_write_a_bounded_number_of_rows_without_their_text(netbox, idp):
    forget(netbox, "throttle:*")
    before = last_id(netbox)
    throttled = metric(
        netbox, "netbox_sso_events_throttled_total", event="login_failure", reason="invalid_authorization_response"
    )
    for i in range(FLOOD):
        answer = requests.get(
            f"{netbox.url}/oauth/complete/oidc/",
            allow_redirects=False,
            timeout=30,
            params={"error": "server_error", "error_description": f"FLOOD-{i} call +1-555-0100"},
            # A client rotating its claimed address must not open new throttle windows.
            headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"203.0.113.{i}"},
        )
        assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login/", answer.status_code
    rows = events(netbox, "id > %s", (before,))
    assert [(r["event"], r["reason"]) for r in rows] == [("login_failure", "invalid_authorization_response")] * BURST
    assert {r["client"] for r in rows} == {"127.0.0.1"}  # the peer, not a forwarded-for header
    assert "FLOOD" not in json.dumps(rows, default=str)  # nothing of the unvalidated response is stored
    assert (
        metric(
            netbox, "netbox_sso_events_throttled_total", event="login_failure", reason="invalid_authorization_response"
        )
        == throttled + FLOOD - BURST
    )

    forget(netbox, "throttle:*:n")  # the window is over: the next failure writes the count of the last one
    requests.get(f"{netbox.url}/oauth/complete/oidc/", params={"error": "x"}, allow_redirects=False, timeout=30)
    aggregated, latest = events(netbox, "id > %s", (rows[-1]["id"],))
    assert aggregated["details"]["throttled"] == FLOOD - BURST and aggregated["reason"] == latest["reason"]
    assert f"{FLOOD - BURST} more sso.login.failed events" in aggregated["message"]


def test_rejected_logout_tokens_are_counted_never_recorded(netbox, idp):
    before = last_id(netbox)
    rejected = metric(netbox, "netbox_sso_backchannel_rejected_total", backend="oidc", reason="invalid_signature")
    log_before = netbox.log_file.read_text().count("back-channel logout request for oidc")
    for i in range(20):
        answer = requests.post(
            f"{netbox.url}/oauth/backchannel-logout/oidc/",
            timeout=30,
            data={"logout_token": f"eyJhbGciOiJSUzI1NiJ9.e30.forged-{i}"},
        )
        assert answer.status_code == 400
    assert events(netbox, "id > %s", (before,)) == []
    assert (
        metric(netbox, "netbox_sso_backchannel_rejected_total", backend="oidc", reason="invalid_signature")
        == rejected + 20
    )
    logged = netbox.log_file.read_text().count("back-channel logout request for oidc") - log_before
    assert 1 <= logged <= BURST


def test_wrong_password_flood_writes_a_bounded_number_of_rows(netbox, idp):
    forget(netbox, "throttle:*")
    before = last_id(netbox)
    session = browser(idp)
    page = session.get(f"{netbox.url}/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    for i in range(12):  # a password-guessing run, a new username each time
        answer = session.post(
            f"{netbox.url}/login/",
            headers={"Referer": f"{netbox.url}/login/"},
            data={"csrfmiddlewaretoken": token, "username": f"guess-{i}", "password": "x"},
        )
        assert answer.status_code == 200
    rows = events(netbox, "id > %s", (before,))
    assert [(r["event"], r["backend"], r["reason"]) for r in rows] == [
        ("login_failure", "local", "invalid_credentials")
    ] * BURST
    assert (
        metric(netbox, "netbox_sso_events_throttled_total", event="login_failure", reason="invalid_credentials")
        >= 12 - BURST
    )


def test_unknown_backend_in_the_callback_is_a_404_and_no_event(netbox):
    before = last_id(netbox)
    assert requests.get(f"{netbox.url}/oauth/complete/no-such-backend/", timeout=30).status_code == 404
    assert events(netbox, "id > %s", (before,)) == []


def test_behind_a_trusted_proxy_the_client_is_what_the_proxy_saw(proxied, idp):
    forget(proxied, "throttle:*")
    before = last_id(proxied)
    for i in range(10):  # the client writes the leftmost entry; the proxy appended the address it saw
        requests.get(
            f"{proxied.url}/oauth/complete/oidc/",
            params={"error": "x"},
            allow_redirects=False,
            timeout=30,
            headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.9"},
        )
    rows = events(proxied, "id > %s", (before,))
    assert [r["client"] for r in rows] == ["203.0.113.9"] * BURST


# ---- item 1: forged logout tokens cost at most one JWKS refetch; a failed refetch keeps the keys --------------
def test_forged_logout_tokens_cost_at_most_one_jwks_refetch(netbox, idp, login):
    idp.upsert_user("edge-jwk", claims("edge-jwk"), replace_claims=True)
    assert login(netbox, "edge-jwk").logged_in  # JWKS cached
    forget(netbox, "jwks:*:refetched")
    idp.clear_log()
    key = RSAKey.generate_key(2048, private=True)
    for i in range(20):
        token = forged_logout_token(idp, key, kid=f"forged-{i}" if i % 2 else None)
        answer = requests.post(f"{netbox.url}/oauth/backchannel-logout/oidc/", data={"logout_token": token}, timeout=30)
        assert answer.status_code == 400, answer.text
    assert jwks_fetches(idp) == 1
    assert login(netbox, "edge-jwk").logged_in


def test_a_failed_jwks_refetch_keeps_the_cached_keys(netbox, idp, login):
    idp.upsert_user("edge-jwk", claims("edge-jwk"), replace_claims=True)
    assert login(netbox, "edge-jwk").logged_in  # JWKS cached
    forget(netbox, "jwks:*:refetched")
    idp.set_fault("status", code=429, endpoint="jwks", profile="generic")
    forged = forged_logout_token(idp, RSAKey.generate_key(2048, private=True), kid="forged")
    assert (
        requests.post(
            f"{netbox.url}/oauth/backchannel-logout/oidc/", data={"logout_token": forged}, timeout=30
        ).status_code
        == 400
    )
    result = login(netbox, "edge-jwk")  # the provider still refuses JWKS requests: the cached keys serve
    assert result.logged_in, (result.messages, netbox.tail_logs())


def test_backchannel_logout_is_off_for_providers_that_never_send_it(netbox, idp):
    forged = forged_logout_token(idp, RSAKey.generate_key(2048, private=True), kid="forged")
    okta = requests.post(
        f"{netbox.url}/oauth/backchannel-logout/okta-openidconnect/", timeout=30, data={"logout_token": forged}
    )
    assert okta.status_code == 404
    # The generic provider advertises backchannel_logout_supported: on.
    assert (
        requests.post(
            f"{netbox.url}/oauth/backchannel-logout/oidc/", data={"logout_token": forged}, timeout=30
        ).status_code
        == 400
    )


# ---- item 3: no event lost to its own length ----------------------------------------------------------------
def test_a_failure_longer_than_its_column_keeps_its_row(netbox, idp):
    session, state = begin(netbox, idp)
    before = last_id(netbox)
    description = "Graph refused: " + "insufficient privileges to complete the operation. " * 12
    page = session.get(
        f"{netbox.url}/oauth/complete/oidc/",
        params={
            "error": "server_error",
            "error_description": description,
            "state": state,
            "iss": idp.issuer("generic"),
        },
    )
    assert urlsplit(page.url).path == "/login/"
    assert "failed at the identity provider" in " ".join(parse_login_page(page.text).messages)
    [row] = events(netbox, "id > %s", (before,))
    assert (row["event"], row["reason"]) == ("login_failure", "failed")
    assert len(row["message"]) <= 300 and row["message"].endswith("chars]")
    assert "server_error: Graph refused" in row["message"]


# ---- item 10: the audit trail needs view permission even when every view is exempt -----------------------------
def test_audit_trail_needs_view_permission_under_exempt_view_permissions(netbox, idp, login):
    idp.upsert_user("edge-viewer", claims("edge-viewer"), replace_claims=True)
    result = login(netbox, "edge-viewer")
    assert result.logged_in
    assert result.session.get(f"{netbox.url}/dcim/sites/", timeout=30).status_code == 200  # exempt: visible
    assert result.session.get(f"{netbox.url}/plugins/sso/events/", timeout=30).status_code == 403
    api = result.session.get(
        f"{netbox.url}/api/plugins/sso/events/", timeout=30, headers={"Accept": "application/json"}
    )
    assert api.status_code == 403, api.text[:300]


# ---- item 13: a database cut while a sign-in page saves its session ---------------------------------------------
CUT_TRIGGER = """
CREATE SEQUENCE IF NOT EXISTS nbsso_test_cuts;
CREATE OR REPLACE FUNCTION nbsso_test_cut_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- nextval is not rolled back with the UPDATE it cuts: it counts the cuts.
  IF NEW.session_key = (SELECT value FROM nbsso_test_cut_target LIMIT 1)
     AND nextval('nbsso_test_cuts') <= (SELECT cuts FROM nbsso_test_cut_target LIMIT 1) THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
    PERFORM pg_sleep(1);  -- the termination is delivered here, inside the UPDATE
  END IF;
  RETURN NEW;
END $$;
"""


def cut_session_saves(netbox, session_key: str, cuts: int) -> None:
    """Terminate NetBox's database connection (as a PostgreSQL restart does) on the next `cuts` UPDATEs
    of this session's row, from inside the UPDATE itself."""
    with netbox.db() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS nbsso_test_cut_target (value text, cuts int)")
        conn.execute("DELETE FROM nbsso_test_cut_target")
        conn.execute("INSERT INTO nbsso_test_cut_target VALUES (%s, %s)", (session_key, cuts))
        conn.execute(CUT_TRIGGER)
        conn.execute("ALTER SEQUENCE nbsso_test_cuts RESTART")
        conn.execute("DROP TRIGGER IF EXISTS nbsso_test_cut ON django_session")
        conn.execute(
            "CREATE TRIGGER nbsso_test_cut BEFORE UPDATE ON django_session FOR EACH ROW "
            "EXECUTE FUNCTION nbsso_test_cut_session()"
        )


def stop_cutting(netbox) -> None:
    with netbox.db() as conn:
        conn.execute("DROP TRIGGER IF EXISTS nbsso_test_cut ON django_session")


def begin_again(netbox, idp, session: requests.Session, cuts: int) -> requests.Response:
    """Click the SSO button again in a browser that has a session: its row is UPDATEd at the end of the
    request, and that UPDATE is cut `cuts` times."""
    page = session.get(f"{netbox.url}/login/")
    form = find_sso_form(page.text, "oidc")
    cut_session_saves(netbox, session.cookies["sessionid"], cuts=cuts)
    try:
        return session.post(
            f"{netbox.url}{form.action}",
            data=form.fields,
            allow_redirects=False,
            headers={"Accept": "application/json", "Referer": page.url},
        )
    finally:
        stop_cutting(netbox)


def test_database_cut_while_a_sign_in_page_saves_the_session_is_retried(netbox, idp):
    session, _state = begin(netbox, idp)
    answer = begin_again(netbox, idp, session, cuts=1)
    assert answer.status_code == 200, (answer.status_code, answer.text[:300])
    assert answer.json()["url"].startswith(idp.issuer("generic"))  # on to the provider, as without the cut


def test_database_away_while_a_sign_in_page_saves_the_session_is_the_documented_503(netbox, idp):
    session, _state = begin(netbox, idp)
    answer = begin_again(netbox, idp, session, cuts=1000)
    assert answer.status_code == 503, (answer.status_code, answer.text[:300])
    assert "database (PostgreSQL)" in answer.text and answer.headers["Retry-After"] == "30"
    assert browser(idp).get(f"{netbox.url}/login/").status_code == 200  # and NetBox answers again


# ---- item 3: every audit line has its row (run last: it covers the events of this module) -----------------------
def test_every_audit_line_has_its_row(netbox, idp, login):
    idp.upsert_user("edge-out", claims("edge-out"), replace_claims=True)
    result = login(netbox, "edge-out")
    assert result.logged_in
    out = result.session.get(f"{netbox.url}/logout/", headers={"Sec-Fetch-Site": "same-origin"})
    assert any(r.url.startswith(idp.base_url) for r in out.history), "logout continued at the provider"
    lines = [
        json.loads(line[line.index("{") :])
        for line in netbox.log_file.read_text().splitlines()
        if " netbox_sso.audit " in line and "{" in line
    ]
    assert {line["event"] for line in lines} <= set(LOG_NAMES.values())
    logged: dict[str, int] = {}
    for line in lines:
        logged[line["type"]] = logged.get(line["type"], 0) + 1
    with netbox.db() as conn:
        stored = dict(conn.execute("SELECT event, count(*) FROM netbox_sso_ssoevent GROUP BY event").fetchall())
    assert logged == stored
    [logout] = events(netbox, "event = 'logout' AND username = 'edge-out'")
    assert logout["details"]["provider_logout"] is True
