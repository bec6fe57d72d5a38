"""The shared fetch lock of discovery/JWKS (backends.hardening._fetch_shared) is released only by its owner.

An adapter test with a fake of Django's cache API (add/get/set/delete), no server.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from netbox_sso.backends import hardening as module
from netbox_sso.backends.config import Hardening

KEY = "netbox_sso:v1:jwks:abc"
LOCK = f"{KEY}:fetching"


class FakeCache:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def add(self, key: str, value: object, timeout: int | None = None) -> bool:
        if key in self.data:
            return False
        self.data[key] = value
        return True

    def get(self, key: str, default: object = None) -> object:
        return self.data.get(key, default)

    def set(self, key: str, value: object, timeout: int | None = None) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture()
def cache(monkeypatch) -> FakeCache:
    fake = FakeCache()
    monkeypatch.setattr(module, "cache", fake)
    return fake


def backend(idp_timeout: float = 0.2) -> SimpleNamespace:
    return SimpleNamespace(hardening=Hardening(idp_timeout=idp_timeout))


def fetch_shared(fetch) -> object:
    return module.HardenedOIDCMixin._fetch_shared(backend(), KEY, fetch, usable=lambda _value: True)  # type: ignore[arg-type]


def test_the_owner_releases_its_lock_after_fetching(cache):
    assert fetch_shared(lambda: ["key-set"]) == ["key-set"]
    assert LOCK not in cache.data and cache.data[KEY] == ["key-set"]


def test_a_worker_that_gave_up_waiting_never_deletes_the_lock_another_worker_holds(cache):
    cache.data[LOCK] = "another-workers-token"  # a slow fetch in progress elsewhere
    assert fetch_shared(lambda: ["fetched-after-waiting"]) == ["fetched-after-waiting"]
    assert cache.data[LOCK] == "another-workers-token"


def test_a_lock_taken_over_after_expiry_is_left_to_its_new_owner(cache):
    def slow_fetch() -> list[str]:
        cache.data[LOCK] = "new-owners-token"  # ours expired during the fetch; another worker took it
        return ["key-set"]

    fetch_shared(slow_fetch)
    assert cache.data[LOCK] == "new-owners-token"
