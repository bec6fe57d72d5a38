"""A worker rebuilds its compiled rules only when the shared version changed (a fake cache stands in for Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from netbox_sso import rule_set
from netbox_sso.core.errors import ConfigError, ConfigProblem
from netbox_sso.core.rules import SSOConfig


class FakeCache:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.gets = 0
        self.broken = False

    def get(self, key: str) -> Any:
        self.gets += 1
        if self.broken:
            raise ConnectionError("redis down")
        return self.data.get(key)

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        if key in self.data:
            return False
        self.data[key] = value
        return True


@pytest.fixture()
def world(monkeypatch):
    cache = FakeCache()
    builds: list[str | None] = []
    outcome: dict[str, Any] = {"error": None}

    def build(version: str | None) -> Any:
        builds.append(version)
        if outcome["error"]:
            return rule_set._Compiled(version, None, outcome["error"])
        return rule_set._Compiled(version, SSOConfig(backends={}))

    monkeypatch.setattr(rule_set, "cache", cache)
    monkeypatch.setattr(rule_set, "_build", build)
    monkeypatch.setattr(rule_set, "_database_rules_available", lambda: True)
    rule_set.forget()
    yield cache, builds, outcome
    rule_set.forget()


def test_unchanged_rules_cost_one_cache_read_and_no_rebuild(world):
    cache, builds, _ = world
    first = rule_set.current_config()
    reads = cache.gets
    assert rule_set.current_config() is first
    assert rule_set.current_config() is first
    assert len(builds) == 1
    assert cache.gets - reads == 2  # one GET per call


def test_a_new_version_makes_the_next_call_rebuild(world):
    cache, builds, _ = world
    rule_set.current_config()
    cache.data[rule_set.VERSION_KEY] = "changed elsewhere"
    rule_set.current_config()
    rule_set.current_config()
    assert builds[1:] == ["changed elsewhere"]


def test_a_flushed_cache_gets_a_fresh_version_and_a_rebuild(world):
    cache, builds, _ = world
    rule_set.current_config()
    cache.data.clear()
    rule_set.current_config()
    assert len(builds) == 2 and builds[1] == cache.data[rule_set.VERSION_KEY]


def test_an_unreachable_cache_means_reading_the_rules_every_time(world):
    cache, builds, _ = world
    cache.broken = True
    rule_set.current_config()
    rule_set.current_config()
    assert builds == [None, None]


def test_rules_that_do_not_compile_refuse_logins_with_the_problem(world):
    _, _, outcome = world
    outcome["error"] = ConfigError(ConfigProblem("PLUGINS_CONFIG['netbox_sso']", "bad", "fix it"))
    with pytest.raises(rule_set.MappingRulesInvalid) as error:
        rule_set.current_config()
    assert "bad" in str(error.value) and "administrator" in error.value.user_message()
