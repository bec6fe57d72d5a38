"""What an SSO login costs the database, on real NetBox: no more SQL statements than stock NetBox's login,
while mapping groups and writing the audit trail; and the session key still changes at login.

One NetBox with mapping rules and the audit trail on, plus the bench probe (`bench/plugin/nbbench`), which
counts the statements of each /oauth/ request server-side (X-Bench-Queries, X-Bench-Tables). Stock NetBox
4.7.3 runs 22 statements for a first login and 18 for a repeat login of the same reference block
(docs/benchmarks.md, item 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from netbox_sso.devstack.login import sso_login
from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

BENCH_PLUGIN = Path(__file__).resolve().parents[2] / "bench" / "plugin"
#: Stock NetBox 4.7.3's statements for the same callback (bench item 2, every run since it exists).
STOCK_FIRST_LOGIN = 22
STOCK_REPEAT_LOGIN = 18
CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {
    'backends': {'oidc': {
        'groups_claim': 'groups',
        'group_map': {'netbox-users': 'Users', 'ops': ['Operators', 'Viewers']},
        'required_groups': ['netbox-users'],
        'create_groups': True,
    }},
}}
"""


def claims(username: str, groups: list[str]) -> dict:
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username.title(),
        "family_name": "Cost",
        "groups": groups,
    }


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    # The probe's package is found through PYTHONPATH, as bench/run puts it there (read when NetBox starts).
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_PLUGIN), saved) if p)
    try:
        return netbox_factory(block + CONFIG, plugins=("netbox_sso", "nbbench"))
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def login(netbox, idp, username: str, session: requests.Session | None = None):
    result = sso_login(netbox.url, "oidc", username, verify=str(idp.ca_bundle), session=session)
    assert result.logged_in, result.message_text
    assert "X-Bench-Queries" in result.complete_headers, "the bench probe did not answer"
    return result


def tables(result) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in result.complete_headers.get("X-Bench-Tables", "").split(";") if item)
    return {name: int(count) for name, count in pairs}


def test_first_and_repeat_login_run_fewer_statements_than_stock_netbox(netbox, idp):
    idp.upsert_user("cost-alice", claims("cost-alice", ["netbox-users", "ops"]), replace_claims=True)
    first = login(netbox, idp, "cost-alice")
    repeat = login(netbox, idp, "cost-alice")
    first_count, repeat_count = (
        int(first.complete_headers["X-Bench-Queries"]),
        int(repeat.complete_headers["X-Bench-Queries"]),
    )
    assert first_count < STOCK_FIRST_LOGIN, tables(first)
    assert repeat_count < STOCK_REPEAT_LOGIN, tables(repeat)
    # The work is still done: the user, the groups and the audit trail are there.
    assert db.user_groups(netbox, "cost-alice") == {"Users", "Operators", "Viewers"}
    with netbox.db() as conn:
        events = [
            row[0]
            for row in conn.execute(
                "SELECT event FROM netbox_sso_ssoevent WHERE username = %s ORDER BY id", ("cost-alice",)
            )
        ]
    assert events == ["user_created", "groups_changed", "login_success", "login_success"]


def test_the_audit_rows_of_a_first_login_are_one_insert(netbox, idp):
    idp.upsert_user("cost-bob", claims("cost-bob", ["netbox-users"]), replace_claims=True)
    first = login(netbox, idp, "cost-bob")
    assert tables(first).get("netbox_sso_ssoevent") == 1


def test_login_gives_the_session_a_new_key_and_the_old_key_stops_existing(netbox, idp):
    idp.upsert_user("cost-carol", claims("cost-carol", ["netbox-users"]), replace_claims=True)
    browser = requests.Session()
    held: dict[str, str | None] = {}

    def remember_key(response: requests.Response, *args, **kwargs) -> None:
        # Hooks run before the response's cookies reach the jar: this is the key the callback was sent with.
        if "/oauth/complete/" in response.url:
            held["before_callback"] = browser.cookies.get("sessionid")

    browser.hooks["response"].append(remember_key)
    result = login(netbox, idp, "cost-carol", session=browser)
    before, after = held.get("before_callback"), browser.cookies.get("sessionid")
    with netbox.db() as conn:
        keys = {row[0] for row in conn.execute("SELECT session_key FROM django_session")}
    assert before and after and before != after
    assert after in keys
    assert before not in keys  # the pre-login (anonymous) key is gone: no session fixation
    assert tables(result).get("django_session") == 2  # the load, and one UPDATE that renames and saves
