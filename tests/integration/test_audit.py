"""The SSO audit trail and metrics on real NetBox: each event comes from a real login and is found in the
log (plain and JSON), the table (SQL) and the REST API; metrics on /metrics; housekeeping; status page.

One NetBox: the reference's generic block, mapping rules with required groups, debug_claims on,
METRICS_ENABLED, and a second audit handler using netbox_sso.audit.JsonFormatter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

CONFIG = """
METRICS_ENABLED = True
PLUGINS_CONFIG = {'netbox_sso': {
    'break_glass_users': ['admin'],
    'debug_claims': True,
    'audit_retention_days': 30,
    'backends': {'oidc': {
        'groups_claim': 'groups',
        'group_map': {'netbox-admins': 'Admins', 'netbox-users': 'Users', 'ops': 'Operators'},
        'superuser_groups': ['netbox-admins'],
        'required_groups': ['netbox-users', 'netbox-admins'],
        'create_groups': True,
    }},
}}
LOGGING['formatters']['json'] = {'()': 'netbox_sso.audit.JsonFormatter'}
LOGGING['handlers']['audit_json'] = {
    'class': 'logging.FileHandler', 'formatter': 'json',
    'filename': LOGGING['handlers']['file']['filename'].replace('netbox.log', 'audit.jsonl'),
}
LOGGING['loggers']['netbox_sso.audit'] = {'handlers': ['file', 'audit_json'], 'level': 'INFO', 'propagate': False}
"""


def claims(username: str, groups: list[str]) -> dict:
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username.title(),
        "family_name": "Audited",
        "groups": groups,
    }


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    return netbox_factory(block + CONFIG)


@pytest.fixture(autouse=True)
def _no_faults(idp):
    idp.clear_faults()
    yield
    idp.clear_faults()


@pytest.fixture(scope="module")
def admin(netbox) -> requests.Session:
    """A session of the local superuser, signed in with NetBox's login form (for the API and the views)."""
    session = requests.Session()
    page = session.get(f"{netbox.url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{netbox.url}/login/",
        timeout=30,
        headers={"Referer": f"{netbox.url}/login/"},
        data={"csrfmiddlewaretoken": token, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "next": "/"},
    )
    assert answer.ok and "/login/" not in answer.url, answer.url
    return session


# ---- where an event is found ---------------------------------------------------------------------------------
def rows(netbox, username: str, event: str | None = None) -> list[dict]:
    query = (
        "SELECT e.id, e.event, e.outcome, e.reason, e.backend, e.username, u.username AS user_name, "
        "e.client, e.details FROM netbox_sso_ssoevent e LEFT JOIN users_user u ON u.id = e.user_id "
        "WHERE e.username = %s" + (" AND e.event = %s" if event else "") + " ORDER BY e.id"
    )
    with netbox.db() as conn:
        cursor = conn.execute(query, (username, event) if event else (username,))
        return [dict(zip([c.name for c in cursor.description], row, strict=True)) for row in cursor.fetchall()]


def log_events(netbox, username: str) -> list[dict]:
    """Audit lines of the plain log (their message is one JSON object) for this user."""
    found = []
    for line in netbox.log_file.read_text().splitlines():
        if " netbox_sso.audit " in line and "{" in line:
            payload = json.loads(line[line.index("{") :])
            if payload.get("user") == username:
                found.append(payload)
    return found


def json_log_events(netbox, username: str) -> list[dict]:
    path = Path(str(netbox.log_file).replace("netbox.log", "audit.jsonl"))
    return [doc for doc in map(json.loads, path.read_text().splitlines()) if doc.get("user") == username]


def api_events(netbox, admin, **params) -> list[dict]:
    answer = admin.get(
        f"{netbox.url}/api/plugins/sso/events/", params=params, timeout=30, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()["results"]


def assert_everywhere(netbox, admin, username: str, event: str, log_name: str) -> dict:
    """The event is in the table, both logs and the API; returns the row."""
    found = rows(netbox, username, event)
    assert found, (event, rows(netbox, username))
    assert log_name in [p["event"] for p in log_events(netbox, username)], log_events(netbox, username)
    assert log_name in [d["event"] for d in json_log_events(netbox, username)]
    api = api_events(netbox, admin, username=username, event=event)
    assert api and api[0]["event"]["value"] == event
    return found[-1]


# ---- events ---------------------------------------------------------------------------------------------------
def test_first_login_success_user_created_groups_and_flags(netbox, idp, login, admin):
    idp.upsert_user("aud-ann", claims("aud-ann", ["netbox-users", "netbox-admins"]), replace_claims=True)
    assert login(netbox, "aud-ann").logged_in

    success = assert_everywhere(netbox, admin, "aud-ann", "login_success", "sso.login.succeeded")
    assert (success["outcome"], success["backend"], success["user_name"]) == ("success", "oidc", "aud-ann")
    assert str(success["client"]) == "127.0.0.1"
    created = assert_everywhere(netbox, admin, "aud-ann", "user_created", "sso.user.created")
    assert created["backend"] == "oidc" and created["user_name"] == "aud-ann"
    groups = assert_everywhere(netbox, admin, "aud-ann", "groups_changed", "sso.groups.changed")
    assert groups["details"]["before"] == [] and groups["details"]["added"] == ["Admins", "Users"]
    flags = assert_everywhere(netbox, admin, "aud-ann", "flags_changed", "sso.flags.changed")
    assert flags["details"]["is_superuser"] == {"before": False, "after": True}


def test_groups_changed_with_before_and_after(netbox, idp, login, admin):
    idp.upsert_user("aud-ann", claims("aud-ann", ["netbox-users", "ops"]), replace_claims=True)
    assert login(netbox, "aud-ann").logged_in
    details = rows(netbox, "aud-ann", "groups_changed")[-1]["details"]
    assert details["before"] == ["Admins", "Users"]
    assert details["after"] == ["Operators", "Users"]
    assert (details["added"], details["removed"]) == (["Operators"], ["Admins"])
    assert rows(netbox, "aud-ann", "flags_changed")[-1]["details"]["is_superuser"] == {"before": True, "after": False}
    assert len(rows(netbox, "aud-ann", "user_created")) == 1  # a returning user is not created again


def test_login_failure_from_an_idp_fault(netbox, idp, login, admin):
    idp.set_fault("status", endpoint="token", code=500)
    result = login(netbox, "alice")
    assert not result.logged_in
    with netbox.db() as conn:
        row = conn.execute(
            "SELECT id, outcome, reason, backend, message, details FROM netbox_sso_ssoevent "
            "WHERE event = 'login_failure' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    event_id, outcome, reason, backend, message, details = row
    assert (outcome, reason, backend, details["stage"]) == ("failure", "provider_unavailable", "oidc", "complete")
    assert "HTTP 500" in message
    lines = [line for line in netbox.log_file.read_text().splitlines() if '"event": "sso.login.failed"' in line]
    assert any('"reason": "provider_unavailable"' in line for line in lines)
    api = api_events(netbox, admin, event="login_failure", outcome="failure")
    assert event_id in [e["id"] for e in api]


def test_refusal_by_required_groups(netbox, idp, login, admin):
    idp.upsert_user("aud-ben", claims("aud-ben", ["contractors"]), replace_claims=True)
    result = login(netbox, "aud-ben")
    assert not result.logged_in and "netbox-users" in result.message_text
    refused = assert_everywhere(netbox, admin, "aud-ben", "refused", "sso.login.refused")
    assert (refused["outcome"], refused["reason"], refused["user_name"]) == ("refused", "required_groups", None)
    assert refused["details"]["groups"] == ["contractors"]
    assert refused["details"]["required_groups"] == ["netbox-admins", "netbox-users"]


def test_identity_refusals_are_refused_events(netbox, idp, login, admin):
    """Refusals by the identity steps (a name taken in another letter case, a reserved name)."""
    idp.upsert_user("aud-twin", {**claims("AUD-ANN", ["netbox-users"]), "sub": "sub-aud-twin"}, replace_claims=True)
    assert not login(netbox, "aud-twin").logged_in
    idp.upsert_user("aud-root", {**claims("root", ["netbox-users"]), "sub": "sub-aud-root"}, replace_claims=True)
    assert not login(netbox, "aud-root").logged_in
    with netbox.db() as conn:
        reasons = [
            row[0]
            for row in conn.execute(
                "SELECT reason FROM netbox_sso_ssoevent WHERE event = 'refused' AND outcome = 'refused' ORDER BY id"
            )
        ]
    assert "username_taken" in reasons and "username_reserved" in reasons
    assert {e["reason"] for e in api_events(netbox, admin, event="refused")} >= {"username_taken", "username_reserved"}


def test_permission_denied_shortly_after_sso_login_then_logout(netbox, idp, login, admin):
    idp.upsert_user("aud-cat", claims("aud-cat", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "aud-cat")
    assert result.logged_in
    for _ in range(2):  # recorded once per path
        assert result.session.get(f"{netbox.url}/dcim/sites/", timeout=30).status_code == 403
    denied = assert_everywhere(netbox, admin, "aud-cat", "permission_denied", "sso.permission.denied")
    assert (denied["outcome"], denied["details"]["path"], denied["backend"]) == ("denied", "/dcim/sites/", "oidc")
    assert len(rows(netbox, "aud-cat", "permission_denied")) == 1

    result.session.get(f"{netbox.url}/logout/", timeout=30)
    logout = assert_everywhere(netbox, admin, "aud-cat", "logout", "sso.logout")
    assert logout["backend"] == "oidc"
    assert len(rows(netbox, "aud-cat", "logout")) == 1


def test_local_logins_are_audited_as_password_sign_ins(netbox, admin):
    found = rows(netbox, ADMIN_USERNAME)  # admin is this module's break-glass account
    assert [(r["event"], r["backend"], r["reason"]) for r in found] == [("login_success", "local", "break_glass")]


def test_claims_captured_redacted_in_the_shape_explain_reads(netbox, idp, login, admin):
    captured = rows(netbox, "aud-ann", "claims_captured")
    assert captured
    details = captured[-1]["details"]
    assert set(details) <= {"id_token", "userinfo", "graph"}
    assert details["id_token"]["groups"] == ["netbox-users", "ops"]
    assert details["id_token"]["preferred_username"] == "aud-ann"
    text = json.dumps(details)
    assert "eyJ" not in text and "access_token" not in text
    refused = rows(netbox, "aud-ben", "claims_captured")  # a refused login keeps its claims too
    assert refused and refused[-1]["details"]["id_token"]["groups"] == ["contractors"]
    assert "debug_claims is on" in netbox.log_file.read_text()


def test_no_token_or_secret_anywhere(netbox):
    with netbox.db() as conn:
        dump = json.dumps([list(r) for r in conn.execute("SELECT * FROM netbox_sso_ssoevent").fetchall()], default=str)
    audit_text = "\n".join(line for line in netbox.log_file.read_text().splitlines() if "netbox_sso.audit" in line)
    for text in (dump, audit_text):
        assert "eyJ" not in text
        assert CLIENT_SECRET not in text


# ---- metrics, housekeeping, views ------------------------------------------------------------------------------
def test_metrics_on_the_prometheus_endpoint(netbox):
    text = requests.get(f"{netbox.url}/metrics", timeout=30).text
    assert re.search(r'netbox_sso_logins_total\{backend="oidc",outcome="success"\} [1-9]', text), text[:2000]
    assert re.search(r'netbox_sso_logins_total\{backend="oidc",outcome="failure"\} [1-9]', text)
    assert re.search(r'netbox_sso_logins_total\{backend="oidc",outcome="refused"\} [1-9]', text)
    assert re.search(r'netbox_sso_callback_seconds_count\{backend="oidc"\} [1-9]', text)
    assert 'netbox_sso_events_total{event="permission_denied",outcome="denied"}' in text
    assert "# TYPE netbox_sso_idp_request_seconds histogram" in text
    assert "# TYPE netbox_sso_idp_errors_total counter" in text
    # The backends' calls to the provider are timed by endpoint; the token endpoint's fault was counted.
    for endpoint in ("discovery", "jwks", "token"):
        assert re.search(
            rf'netbox_sso_idp_request_seconds_count\{{backend="oidc",endpoint="{endpoint}"\}} [1-9]', text
        ), endpoint
    assert re.search(r'netbox_sso_idp_errors_total\{backend="oidc",endpoint="token",error="[^"]+"\} [1-9]', text)


def test_housekeeping_deletes_events_past_the_retention(netbox):
    with netbox.db() as conn:
        conn.execute(
            "UPDATE netbox_sso_ssoevent SET time = now() - interval '40 days' "
            "WHERE username = 'aud-ben' AND event = 'refused'"
        )
        before = conn.execute("SELECT count(*) FROM netbox_sso_ssoevent").fetchone()[0]
    out = netbox.manage("sso_housekeeping")
    assert "Deleted 1 SSO event(s)." in out
    with netbox.db() as conn:
        assert conn.execute("SELECT count(*) FROM netbox_sso_ssoevent").fetchone()[0] == before - 1


def test_list_detail_and_status_views(netbox, admin):
    listing = admin.get(f"{netbox.url}/plugins/sso/events/", params={"event": "groups_changed"}, timeout=30)
    assert listing.status_code == 200 and "aud-ann" in listing.text and "Groups changed" in listing.text
    event_id = rows(netbox, "aud-ann", "claims_captured")[-1]["id"]
    detail = admin.get(f"{netbox.url}/plugins/sso/events/{event_id}/", timeout=30)
    assert detail.status_code == 200 and "netbox-sso explain --claims" in detail.text
    status = admin.get(f"{netbox.url}/plugins/sso/status/", timeout=30)
    assert status.status_code == 200
    assert f"{netbox.url}/oauth/complete/oidc/" in status.text
    assert "netbox_sso.backends.oidc.OpenIdConnect" in status.text
    assert "social_core.backends.open_id_connect.OpenIdConnectAuth" in status.text
    assert "netbox-admins" in status.text and "netbox-sso doctor" in status.text


def test_views_need_permission(netbox, idp, login):
    idp.upsert_user("aud-dan", claims("aud-dan", ["netbox-users"]), replace_claims=True)
    result = login(netbox, "aud-dan")
    assert result.logged_in
    assert result.session.get(f"{netbox.url}/plugins/sso/events/", timeout=30).status_code == 403
    assert result.session.get(f"{netbox.url}/plugins/sso/status/", timeout=30).status_code == 403
    api = result.session.get(
        f"{netbox.url}/api/plugins/sso/events/", timeout=30, headers={"Accept": "application/json"}
    )
    assert api.status_code == 403

    # NetBox's object permissions: view on SSO events, limited to the user's own events.
    netbox.shell(
        "from core.models import ObjectType\nfrom users.models import ObjectPermission, User\n"
        "p = ObjectPermission.objects.create(name='own-sso-events', actions=['view'], "
        "constraints={'user': '$user'})\n"
        "p.object_types.add(ObjectType.objects.get_by_natural_key('netbox_sso', 'ssoevent'))\n"
        "p.users.add(User.objects.get(username='aud-dan'))"
    )
    listing = result.session.get(f"{netbox.url}/plugins/sso/events/", timeout=30)
    assert listing.status_code == 200 and "User created" in listing.text and "aud-ann" not in listing.text
    api = result.session.get(
        f"{netbox.url}/api/plugins/sso/events/", timeout=30, headers={"Accept": "application/json"}
    )
    assert api.status_code == 200 and {e["username"] for e in api.json()["results"]} == {"aud-dan"}
    assert result.session.get(f"{netbox.url}/plugins/sso/status/", timeout=30).status_code == 403
