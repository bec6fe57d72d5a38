"""Listing a directory through the backend's transport (netbox_sso.reconcile.directory): paging, the
client-credentials token, consistency checks, errors that name the call and never a secret, and the
confirmation by id that keeps a user skipped by offset paging from being deactivated."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from netbox_sso.core.reconcile import ABSENT, DISABLED, DirectoryError, DirectoryUser, LinkedAccount, Plan, parse_source
from netbox_sso.reconcile.directory import Directory
from netbox_sso.reconcile.run import _confirm_absent
from tests.unit.adapters.test_backend import DISCOVERY, DISCOVERY_URL, backend
from tests.unit.fake_http import json_response

ADMIN = "https://idp.example/admin/realms/netbox"
SECRET = "reconciler-s3cret"


class FakeDirectory:
    """A fake provider that answers by URL and query parameters (pages)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answer: Any = lambda url, params: (404, {"error": "not_found"})
        self.sent: list[tuple[str, dict[str, Any]]] = []
        monkeypatch.setattr(requests.Session, "request", lambda session, method, url, **kw: self._request(url, **kw))

    def _request(self, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append((url, kwargs))
        if url == DISCOVERY_URL:
            status, body = 200, DISCOVERY
        elif url == DISCOVERY["token_endpoint"]:
            status, body = 200, {"access_token": "service-token", "token_type": "Bearer"}
        else:
            status, body = self.answer(url, kwargs.get("params") or {})
        return json_response(status, body, url)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDirectory:
    return FakeDirectory(monkeypatch)


def keycloak_people(count: int) -> list[dict[str, Any]]:
    return [{"id": f"id-{i}", "username": f"u{i}", "enabled": i != 3} for i in range(count)]


def test_keycloak_is_paged_with_a_client_credentials_token_of_the_configured_client(strategy, fake):
    people = keycloak_people(5)
    fake.answer = lambda url, p: (200, people[int(p["first"]) : int(p["first"]) + int(p["max"])])
    config = parse_source(
        "oidc", {"source": "keycloak", "client_id": "reconciler", "client_secret": SECRET, "page_size": 2}
    )
    users = Directory(backend(strategy), config).list_users()
    assert [(u.key, u.active) for u in users] == [(f"id-{i}", i != 3) for i in range(5)]
    token_call = next(kw for url, kw in fake.sent if url == DISCOVERY["token_endpoint"])
    assert token_call["auth"] == ("reconciler", SECRET) and token_call["data"] == {"grant_type": "client_credentials"}
    pages = [(url, kw) for url, kw in fake.sent if url == f"{ADMIN}/users"]
    assert [kw["params"]["first"] for _, kw in pages] == ["0", "2", "4"]
    assert all(kw["headers"]["Authorization"] == "Bearer service-token" for _, kw in pages)
    assert all(kw["params"]["briefRepresentation"] == "true" for _, kw in pages)


def test_a_refused_listing_says_which_call_and_why_without_the_secret(strategy, fake):
    fake.answer = lambda url, p: (403, {"error": "HTTP 403 Forbidden"})
    config = parse_source("oidc", {"source": "keycloak", "client_id": "reconciler", "client_secret": SECRET})
    with pytest.raises(DirectoryError) as raised:
        Directory(backend(strategy), config).list_users()
    message = str(raised.value)
    assert f"GET {ADMIN}/users failed" in message and "lack the permission to view users" in message
    assert SECRET not in message and "service-token" not in message


def test_keycloak_beyond_max_users_is_refused(strategy, fake):
    people = keycloak_people(10)
    fake.answer = lambda url, p: (200, people[int(p["first"]) : int(p["first"]) + int(p["max"])])
    config = parse_source("oidc", {"source": "keycloak", "page_size": 3, "max_users": 5})
    with pytest.raises(DirectoryError, match="max_users"):
        Directory(backend(strategy), config).list_users()


def test_keycloak_confirms_an_absent_user_by_id(strategy, fake):
    fake.answer = lambda url, p: (
        (200, {"id": "id-7", "username": "u7", "enabled": True})
        if url.endswith("id-7")
        else (
            404,
            {"error": "User not found"},
        )
    )
    directory = Directory(backend(strategy), parse_source("oidc", {"source": "keycloak"}))
    assert directory.confirm("id-7") == DirectoryUser("id-7", True, "u7")
    assert directory.confirm("id-8") is None


def authentik_page(people: list[dict[str, Any]], page: int, size: int, count: int | None = None) -> dict[str, Any]:
    chunk = people[(page - 1) * size : page * size]
    more = page * size < len(people)
    return {
        "pagination": {"count": len(people) if count is None else count, "next": page + 1 if more else 0},
        "results": chunk,
    }


def test_authentik_pages_must_agree_on_the_count(strategy, fake):
    people = [{"pk": i, "uid": f"h{i}", "username": f"u{i}", "is_active": True} for i in range(5)]
    config = parse_source("oidc", {"source": "authentik", "api_token": "ak", "page_size": 2})
    oidc = backend(strategy, "https://ak.example/application/o/netbox")
    fake.answer = lambda url, p: (200, authentik_page(people, int(p["page"]), 2))
    assert [u.key for u in Directory(oidc, config).list_users()] == [f"h{i}" for i in range(5)]
    assert fake.sent[-1][0] == "https://ak.example/api/v3/core/users/"
    assert fake.sent[-1][1]["headers"]["Authorization"] == "Bearer ak"
    # A user deleted between two pages: the count moves, the run must not trust the listing.
    fake.answer = lambda url, p: (200, authentik_page(people, int(p["page"]), 2, count=5 if p["page"] == "1" else 4))
    with pytest.raises(DirectoryError, match="changed while being paged"):
        Directory(oidc, config).list_users()
    fake.answer = lambda url, p: (200, authentik_page(people[:4], int(p["page"]), 2, count=5))
    with pytest.raises(DirectoryError, match="reported 5 users but listed 4"):
        Directory(oidc, config).list_users()


class Confirming:
    def __init__(self, answers: dict[str, DirectoryUser | None]) -> None:
        self.answers = answers
        self.config = parse_source("oidc", {"source": "keycloak"})

    def confirm(self, key: str) -> DirectoryUser | None:
        return self.answers[key]


def test_an_absent_user_found_by_id_is_not_deactivated_and_a_disabled_one_changes_reason():
    def action(name: str):
        from netbox_sso.core.reconcile import Action

        return Action(LinkedAccount(1, name, f"id-{name}", True), ABSENT, "absent")

    current = Plan("oidc", 10, 10, deactivate=[action("gone"), action("skipped"), action("off")])
    answers = {
        "id-gone": None,
        "id-skipped": DirectoryUser("id-skipped", True),
        "id-off": DirectoryUser("id-off", False),
    }
    _confirm_absent(Confirming(answers), current)  # type: ignore[arg-type]
    assert [(a.account.username, a.reason) for a in current.deactivate] == [("gone", ABSENT), ("off", DISABLED)]
