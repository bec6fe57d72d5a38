"""Mapping rules managed in NetBox, on two real NetBox instances sharing PostgreSQL and Redis.

A rule written on instance A (REST API, import command) applies to the next SSO login on instance B without a
restart; the REST API and GraphQL round-trip rules and refuse invalid ones with the parser's message; every
change is in NetBox's change log and the SSO audit trail; and a login with unchanged rules runs no SQL for
them (counted by the bench probe `nbbench`, X-Bench-Queries / X-Bench-Tables).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

BENCH_PLUGIN = Path(__file__).resolve().parents[2] / "bench" / "plugin"
CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {'debug_claims': True, 'backends': {'oidc': {
    'group_map': {'netbox-users': 'Users'},
    'group_patterns': [{'match': 'ghost-*', 'groups': ['Ghosts']}],
    'create_groups': True,
}}}}
"""
RULE_TABLE = "netbox_sso_mappingrule"
SETTINGS_TABLE = "netbox_sso_backendsettings"


@pytest.fixture(scope="module")
def pair(netbox_factory, idp):
    """(A, B): two NetBox instances, one database and one Redis; B runs the bench's SQL-count probe."""
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(BENCH_PLUGIN), os.environ.get("PYTHONPATH", "")) if p)}
    first = netbox_factory(block + CONFIG, env=env, plugins=("netbox_sso", "nbbench"))
    second = netbox_factory(block + CONFIG, env=env, plugins=("netbox_sso", "nbbench"), share_with=first)
    return first, second


def admin_session(netbox) -> requests.Session:
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


class Api:
    """NetBox's REST API as the local superuser (session authentication, CSRF header)."""

    def __init__(self, netbox) -> None:
        self.url = netbox.url
        self.session = admin_session(netbox)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {
            "Accept": "application/json",
            "X-CSRFToken": self.session.cookies.get("csrftoken", ""),
            "Referer": f"{self.url}/",
        }
        return self.session.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def group(self, name: str) -> int:
        found = self.call("GET", "/api/users/groups/", params={"name": name}).json()["results"]
        if found:
            return found[0]["id"]
        answer = self.call("POST", "/api/users/groups/", json={"name": name})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def rule(self, **fields) -> requests.Response:
        return self.call("POST", "/api/plugins/sso/rules/", json=fields)


@pytest.fixture(scope="module")
def api(pair) -> Api:
    return Api(pair[0])


def user_claims(username: str, groups: list[str]) -> dict:
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "groups": groups,
    }


def groups_of(netbox, username: str) -> set[str]:
    with netbox.db() as conn:
        rows = conn.execute(
            "SELECT g.name FROM users_user u JOIN users_user_groups ug ON ug.user_id = u.id "
            "JOIN users_group g ON g.id = ug.group_id WHERE u.username = %s",
            (username,),
        )
        return {row[0] for row in rows.fetchall()}


def is_superuser(netbox, username: str) -> bool:
    with netbox.db() as conn:
        return bool(conn.execute("SELECT is_superuser FROM users_user WHERE username = %s", (username,)).fetchone()[0])


def rule_statements(result, table: str = RULE_TABLE) -> int:
    """SQL statements of the callback whose first table is `table` (X-Bench-Tables)."""
    tables = dict(item.split("=") for item in result.complete_headers.get("X-Bench-Tables", "").split(";") if item)
    return int(tables.get(table, 0))


def test_a_rule_added_on_one_instance_applies_to_the_next_login_on_the_other_without_restart(pair, api, idp, login):
    _, second = pair
    idp.upsert_user("ops-olga", user_claims("ops-olga", ["netbox-users", "ops"]), replace_claims=True)
    assert login(second, "ops-olga").logged_in
    assert groups_of(second, "ops-olga") == {"Users"}

    answer = api.rule(backend="oidc", effect="groups", match_type="exact", value="ops", groups=[api.group("Operators")])
    assert answer.status_code == 201, answer.text

    assert login(second, "ops-olga").logged_in
    assert groups_of(second, "ops-olga") == {"Users", "Operators"}

    rule_id = answer.json()["id"]
    edited = api.call("PATCH", f"/api/plugins/sso/rules/{rule_id}/", json={"value": "ops-night"})
    assert edited.status_code == 200, edited.text
    assert login(second, "ops-olga").logged_in
    assert groups_of(second, "ops-olga") == {"Users"}  # Operators is still managed, and 'ops' maps to it no more


def test_the_rest_api_and_graphql_round_trip_a_rule(api):
    teams = api.group("Teams")
    created = api.rule(
        backend="oidc",
        effect="groups",
        match_type="glob",
        value="team-*",
        groups=[teams],
        description="every team",
        comments="from the API test",
    )
    assert created.status_code == 201, created.text
    rule = api.call("GET", f"/api/plugins/sso/rules/{created.json()['id']}/").json()
    assert (rule["backend"], rule["effect"]["value"], rule["match_type"]["value"], rule["value"]) == (
        "oidc",
        "groups",
        "glob",
        "team-*",
    )
    assert [group["name"] for group in rule["groups"]] == ["Teams"]
    assert (rule["description"], rule["comments"]) == ("every team", "from the API test")

    crew = api.group("Crew")
    patched = api.call("PATCH", f"/api/plugins/sso/rules/{rule['id']}/", json={"groups": [teams, crew]})
    assert patched.status_code == 200, patched.text
    assert sorted(group["name"] for group in patched.json()["groups"]) == ["Crew", "Teams"]

    listed = api.call("GET", "/api/plugins/sso/rules/", params={"match_type": "glob", "backend": "oidc"}).json()
    assert [item["id"] for item in listed["results"]] == [rule["id"]]

    query = '{ mapping_rule_list(filters: {match_type: {exact: "glob"}}) { id value groups { name } } }'
    graphql = api.call("POST", "/graphql/", json={"query": query})
    assert graphql.status_code == 200, graphql.text
    found = graphql.json()["data"]["mapping_rule_list"]
    assert [(item["value"], sorted(g["name"] for g in item["groups"])) for item in found] == [
        ("team-*", ["Crew", "Teams"])
    ]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"match_type": "regex", "value": "^site-["}, "value", "invalid regular expression"),
        ({"effect": "superuser", "match_type": "glob", "value": "adm*", "groups": []}, "match_type", "exact"),
        ({"value": "nobody", "groups": []}, "groups", "at least one NetBox group"),
        ({"value": "netbox-users", "groups": [987654]}, "groups", "object does not exist"),
    ],
)
def test_an_invalid_rule_is_refused_with_a_message_naming_the_problem(api, fields, field, words):
    body = {"backend": "oidc", "effect": "groups", "match_type": "exact", "groups": [api.group("Teams")], **fields}
    answer = api.rule(**body)
    assert answer.status_code == 400, answer.text
    assert words.lower() in " ".join(map(str, answer.json().get(field, []))).lower(), answer.text


def test_a_duplicate_rule_is_refused(api):
    body = {"backend": "oidc", "effect": "groups", "match_type": "exact", "value": "dup", "groups": [api.group("Crew")]}
    assert api.rule(**body).status_code == 201
    again = api.rule(**body)
    assert again.status_code == 400
    assert any(words in again.text for words in ("duplicate rule", "already", "unique")), again.text


def test_rule_changes_are_in_the_change_log_and_the_audit_trail(pair, api):
    created = api.rule(backend="oidc", effect="required", match_type="exact", value="netbox-users", groups=[])
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    assert api.call("PATCH", f"/api/plugins/sso/rules/{rule_id}/", json={"description": "sign-in gate"}).ok

    changes = api.call(
        "GET",
        "/api/core/object-changes/",
        params={"changed_object_type": "netbox_sso.mappingrule", "changed_object_id": rule_id},
    ).json()["results"]
    assert sorted(change["action"]["value"] for change in changes) == ["create", "update"]
    assert {change["user_name"] for change in changes} == {ADMIN_USERNAME}

    events = api.call("GET", "/api/plugins/sso/events/", params={"event": "rules_changed"}).json()["results"]
    mine = [event for event in events if (event.get("details") or {}).get("rule") == rule_id]
    assert {event["reason"] for event in mine} >= {"created", "updated"}
    assert {event["username"] for event in mine} == {ADMIN_USERNAME}


def test_a_login_reads_the_rules_only_after_they_changed(pair, api, idp, login):
    _, second = pair
    idp.upsert_user("count-carl", user_claims("count-carl", ["netbox-users"]), replace_claims=True)
    assert login(second, "count-carl").logged_in  # first login: user created
    warm = login(second, "count-carl")
    assert rule_statements(warm) == 0
    baseline = int(warm.complete_headers["X-Bench-Queries"])

    assert (
        api.rule(
            backend="oidc", effect="groups", match_type="exact", value="unrelated", groups=[api.group("Crew")]
        ).status_code
        == 201
    )
    rebuilt = login(second, "count-carl")
    assert rule_statements(rebuilt) == 1  # this worker saw the new version: one query for every rule
    assert rule_statements(rebuilt, SETTINGS_TABLE) == 1
    again = login(second, "count-carl")
    assert rule_statements(again) == 0
    assert rule_statements(again, SETTINGS_TABLE) == 0
    assert int(again.complete_headers["X-Bench-Queries"]) == baseline


def test_removing_superuser_from_every_account_that_has_it_asks_for_confirmation(pair, api, idp, login):
    _, second = pair
    granted = api.rule(backend="oidc", effect="superuser", match_type="exact", value="netbox-admins", groups=[])
    assert granted.status_code == 201, granted.text
    idp.upsert_user("root-rita", user_claims("root-rita", ["netbox-users", "netbox-admins"]), replace_claims=True)
    assert login(second, "root-rita").logged_in
    assert is_superuser(second, "root-rita")

    path = f"/api/plugins/sso/rules/{granted.json()['id']}/"
    refused = api.call("PATCH", path, json={"value": "platform-admins"})
    assert refused.status_code == 400
    assert "root-rita" in refused.text and "confirm_superuser_change" in refused.text
    confirmed = api.call("PATCH", path, json={"value": "platform-admins", "confirm_superuser_change": True})
    assert confirmed.status_code == 200, confirmed.text
    assert login(second, "root-rita").logged_in
    assert not is_superuser(second, "root-rita")


def test_configured_rules_are_listed_read_only_and_imported_by_the_command(pair, api):
    first, _ = pair
    page = api.session.get(f"{first.url}/plugins/sso/rules/", timeout=60)
    assert page.status_code == 200
    assert "Rules from configuration.py" in page.text and "netbox-users" in page.text
    # No login matched ghost-* yet, so its group does not exist: the page says so (created at first login).
    badges = [" ".join(badge.split()) for badge in re.findall(r'missing-groups">(.*?)</span>', page.text, re.S)]
    assert badges == ["created at first login: Ghosts"], badges

    output = first.manage("sso_import_rules")
    assert "2 rule(s) created" in output, output
    imported = api.call("GET", "/api/plugins/sso/rules/", params={"value": "netbox-users", "effect": "groups"})
    assert [[g["name"] for g in r["groups"]] for r in imported.json()["results"]] == [["Users"]]
    assert "0 rule(s) created" in first.manage("sso_import_rules")


def test_try_it_shows_the_decision_now_and_with_an_unsaved_edit(pair, api):
    first, _ = pair
    page = api.session.get(f"{first.url}/plugins/sso/rules/try/", timeout=30)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = api.session.post(
        f"{first.url}/plugins/sso/rules/try/",
        timeout=60,
        headers={"Referer": f"{first.url}/plugins/sso/rules/try/"},
        data={
            "csrfmiddlewaretoken": token,
            "backend": "oidc",
            "username": "trial",
            "claims": '{"sub": "x", "groups": ["netbox-users", "night"]}',
            "edit_effect": "groups",
            "edit_match_type": "exact",
            "edit_value": "night",
            "edit_groups": "Night shift",
        },
    )
    assert answer.status_code == 200
    results = re.findall(r'class="try-added">([^<]*)<', answer.text)
    assert len(results) == 2, answer.text[-3000:]
    assert "Night shift" not in results[0] and "Users" in results[0]
    assert "Night shift" in results[1]

    captured = api.call(
        "GET", "/api/plugins/sso/events/", params={"event": "claims_captured", "username": "ops-olga"}
    ).json()["results"]
    assert captured, "debug_claims recorded no claims_captured event"
    picked = api.session.post(
        f"{first.url}/plugins/sso/rules/try/",
        timeout=60,
        headers={"Referer": f"{first.url}/plugins/sso/rules/try/"},
        data={"csrfmiddlewaretoken": token, "backend": "oidc", "username": "ops-olga", "event": captured[0]["id"]},
    )
    assert picked.status_code == 200
    assert re.findall(r'class="try-after">([^<]*)<', picked.text), picked.text[-3000:]


def bulk_import(api: Api, netbox, data: str, fmt: str) -> requests.Response:
    url = f"{netbox.url}/plugins/sso/rules/import/"
    page = api.session.get(url, timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return api.session.post(
        url,
        timeout=60,
        headers={"Referer": url},
        data={
            "csrfmiddlewaretoken": token,
            "data": data,
            "format": fmt,
            "csv_delimiter": ",",
            "import_method": "direct",
        },
    )


def test_bulk_import_takes_csv_and_yaml_and_reports_an_unknown_group(pair, api):
    first, _ = pair
    csv_rows = 'backend,effect,match_type,value,groups,create_groups\noidc,groups,glob,site-*,"Site staff,Field",true\n'
    assert bulk_import(api, first, csv_rows, "csv").status_code in (200, 302)
    yaml_rows = (
        "- backend: oidc\n  match_type: regex\n  value: '^lab-[0-9]+$'\n  groups: [Lab]\n  create_groups: true\n"
    )
    assert bulk_import(api, first, yaml_rows, "yaml").status_code in (200, 302)
    rules = {
        r["value"]: sorted(g["name"] for g in r["groups"])
        for r in api.call("GET", "/api/plugins/sso/rules/", params={"limit": 100}).json()["results"]
    }
    assert rules["site-*"] == ["Field", "Site staff"]
    assert rules["^lab-[0-9]+$"] == ["Lab"]

    refused = bulk_import(api, first, "backend,value,groups\noidc,ghosts,Ghost team\n", "csv")
    assert refused.status_code == 200
    assert "Ghost team" in refused.text and "do not exist" in refused.text
    assert not api.call("GET", "/api/plugins/sso/rules/", params={"value": "ghosts"}).json()["results"]


def test_backend_settings_in_the_database_apply_where_configuration_is_silent(pair, api, idp, login):
    _, second = pair
    bad = api.call("POST", "/api/plugins/sso/backends/", json={"backend": "oidc", "groups_sources": "graph"})
    assert bad.status_code == 400, bad.text
    assert "graph" in " ".join(map(str, bad.json().get("groups_sources", []))), bad.text
    made = api.call(
        "POST", "/api/plugins/sso/backends/", json={"backend": "oidc", "case": "lower", "strip_prefixes": "/"}
    )
    assert made.status_code == 201, made.text
    assert (
        api.rule(
            backend="oidc", effect="groups", match_type="exact", value="night", groups=[api.group("Night shift")]
        ).status_code
        == 201
    )
    idp.upsert_user("night-nina", user_claims("night-nina", ["netbox-users", "/NIGHT"]), replace_claims=True)
    assert login(second, "night-nina").logged_in
    assert groups_of(second, "night-nina") == {"Users", "Night shift"}
    query = "{ backend_settings_list { backend case strip_prefixes } }"
    assert api.call("POST", "/graphql/", json={"query": query}).json()["data"]["backend_settings_list"] == [
        {"backend": "oidc", "case": "lower", "strip_prefixes": "/"}
    ]
