"""Pipeline steps over a test backend: the decision is the core's, the step only adapts it (no server)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from netbox_sso.pipeline.errors import SSORefused
from netbox_sso.pipeline.groups import resolve_groups

RULES = {
    "backends": {"oidc": {"group_map": {"ops": "Operators"}, "required_groups": ["ops"]}},
    "break_glass_users": ["admin"],
}


def oidc_backend(strategy, claims):
    """What social-core hands a step: the backend with the validated ID-token claims."""
    return SimpleNamespace(name="oidc", strategy=strategy, id_token=claims)


def test_a_user_with_a_required_group_passes_with_the_reading_for_the_next_step(strategy, plugin_config):
    plugin_config(RULES)
    result = resolve_groups(oidc_backend(strategy, {"groups": ["ops"]}), {"username": "bob"}, {})
    assert result is not None and result["sso_groups_reading"].values == frozenset({"ops"})


def test_a_user_without_a_required_group_is_refused_before_any_row_is_written(strategy, plugin_config):
    plugin_config(RULES)
    with pytest.raises(SSORefused) as raised:
        resolve_groups(oidc_backend(strategy, {"groups": ["dev"]}), {"username": "bob"}, {})
    assert raised.value.code == "required_groups" and raised.value.username == "bob"
    assert raised.value.audit_details["groups"] == ["dev"]


def test_group_rules_never_refuse_a_break_glass_account(strategy, plugin_config):
    plugin_config(RULES)
    result = resolve_groups(oidc_backend(strategy, {"groups": ["dev"]}), {"username": "Admin"}, {})
    assert result is not None and result["sso_groups_reading"].values == frozenset({"dev"})


def test_a_backend_without_rules_is_left_alone(strategy, plugin_config):
    plugin_config(RULES)
    backend = SimpleNamespace(name="okta-openidconnect", strategy=strategy, id_token={})
    assert resolve_groups(backend, {"username": "bob"}, {}) is None
