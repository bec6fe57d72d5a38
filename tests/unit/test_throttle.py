"""Failure events of unauthenticated requests: a few recorded per window, the rest counted (netbox_sso.throttle)."""

from __future__ import annotations

import pytest

from netbox_sso import throttle


class FakeCache:
    """The Django cache calls the throttle makes, on a dict (expiry is simulated by `expire`)."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def add(self, key: str, value: int, timeout: int) -> bool:
        if key in self.data:
            return False
        self.data[key] = value
        return True

    def incr(self, key: str, delta: int = 1) -> int:
        if key not in self.data:
            raise ValueError(key)
        self.data[key] += delta
        return self.data[key]

    def decr(self, key: str, delta: int = 1) -> int:
        return self.incr(key, -delta)

    def get(self, key: str) -> int | None:
        return self.data.get(key)

    def expire_windows(self) -> None:
        for key in [k for k in self.data if k.endswith(":n")]:
            del self.data[key]


@pytest.fixture()
def cache(monkeypatch) -> FakeCache:
    fake = FakeCache()
    monkeypatch.setattr("django.core.cache.cache", fake)
    monkeypatch.setattr(throttle, "limits", lambda: (60, 3))
    monkeypatch.setattr("netbox_sso.metrics.backend_label", lambda name: name if name == "oidc" else "other")
    return fake


def test_a_burst_is_recorded_then_counted_then_written_as_one_count(cache):
    verdicts = [throttle.admit("login_failure", "192.0.2.7", "oidc", "failed") for _ in range(10)]
    assert [v.record for v in verdicts] == [True] * 3 + [False] * 7
    cache.expire_windows()
    nxt = throttle.admit("login_failure", "192.0.2.7", "oidc", "failed")
    assert nxt.record and nxt.suppressed_before == 7
    assert throttle.admit("login_failure", "192.0.2.7", "oidc", "failed").suppressed_before == 0


def test_clients_reasons_and_backends_have_their_own_windows_but_crafted_names_do_not(cache):
    for _ in range(3):
        throttle.admit("login_failure", "192.0.2.7", "oidc", "failed")
    assert throttle.admit("login_failure", "192.0.2.8", "oidc", "failed").record
    assert throttle.admit("login_failure", "192.0.2.7", "oidc", "invalid_authorization_response").record
    for name in ("nope-1", "nope-2", "nope-3"):  # unknown backends all count as "other"
        throttle.admit("login_failure", "192.0.2.7", name, "failed")
    assert not throttle.admit("login_failure", "192.0.2.7", "nope-4", "failed").record


def test_an_ipv6_host_cannot_rotate_through_its_own_64(cache):
    for suffix in range(3):
        assert throttle.admit("login_failure", f"2001:db8:1:2::{suffix + 1}", "oidc", "failed").record
    assert not throttle.admit("login_failure", "2001:db8:1:2:ffff::9", "oidc", "failed").record
    assert throttle.admit("login_failure", "2001:db8:1:3::1", "oidc", "failed").record
    assert throttle.client_group("::ffff:192.0.2.1") == "192.0.2.1"


def test_without_the_cache_everything_is_recorded(monkeypatch):
    class Broken:
        def add(self, *args):
            raise ConnectionError("redis down")

    monkeypatch.setattr("django.core.cache.cache", Broken())
    monkeypatch.setattr(throttle, "limits", lambda: (60, 1))
    monkeypatch.setattr("netbox_sso.metrics.backend_label", lambda name: name)
    assert all(throttle.admit("login_failure", "192.0.2.7", "oidc", "failed").record for _ in range(3))
