"""Database rules become the parser's input and merge with configuration.py as documented."""

from __future__ import annotations

import pytest

from netbox_sso.core.claims import Normalization
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.rule_sources import (
    BackendSettingsRecord,
    RuleRecord,
    backend_entries,
    merge_plugin_config,
    shape_problems,
    split_list,
)
from netbox_sso.core.rules import parse_config


def rule(
    effect: str = "groups",
    match: str = "exact",
    value: str = "ops",
    groups: tuple[str, ...] = ("Operators",),
    backend: str = "oidc",
    pk: int | None = None,
) -> RuleRecord:
    return RuleRecord(backend, effect, match, value, groups, pk)


def test_each_effect_becomes_the_configuration_key_an_administrator_would_write():
    entries = backend_entries(
        [
            rule(value="ops", groups=("Operators", "Audit")),
            rule(match="glob", value="team-*", groups=("Teams",)),
            rule(match="regex", value="^site-[a-z]+$", groups=("Site staff",)),
            rule(effect="superuser", value="netbox-admins", groups=()),
            rule(effect="required", value="netbox-users", groups=()),
            rule(effect="default", value="", groups=("Viewers",)),
        ]
    )
    assert entries == {
        "oidc": {
            "group_map": {"ops": ["Audit", "Operators"]},
            "group_patterns": [
                {"match": "team-*", "groups": ["Teams"]},
                {"regex": "^site-[a-z]+$", "groups": ["Site staff"]},
            ],
            "superuser_groups": ["netbox-admins"],
            "required_groups": ["netbox-users"],
            "default_groups": ["Viewers"],
        }
    }


def test_database_rules_compile_with_the_same_parser_as_configuration():
    config = parse_config(merge_plugin_config({}, [rule(value="ops"), rule(match="glob", value="team-*")], {}))
    rules = config.backends["oidc"]
    assert rules.group_map == {"ops": frozenset({"Operators"})}
    assert rules.managed_groups == {"Operators"}


def test_a_bad_regex_is_reported_by_the_parser_with_its_fix():
    with pytest.raises(ConfigError) as error:
        parse_config(merge_plugin_config({}, [rule(match="regex", value="^site-[")], {}))
    assert "invalid regular expression" in error.value.problems[0].problem


def test_a_value_configured_and_in_the_database_maps_to_the_groups_of_both():
    configured = {"backends": {"oidc": {"normalize": {"case": "lower"}, "group_map": {"Ops": "Operators"}}}}
    merged = merge_plugin_config(
        configured, [rule(value="OPS", groups=("Night shift",))], {"oidc": Normalization(case="lower")}
    )
    assert merged["backends"]["oidc"]["group_map"] == {"Ops": ["Operators", "Night shift"]}
    rules = parse_config(merged).backends["oidc"]
    assert rules.group_map == {"ops": frozenset({"Operators", "Night shift"})}


def test_the_same_pattern_in_both_sources_is_one_pattern_with_both_groups():
    configured = {"backends": {"oidc": {"group_patterns": [{"match": "team-*", "groups": ["Teams"]}]}}}
    merged = merge_plugin_config(configured, [rule(match="glob", value="team-*", groups=("Crew",))], {})
    assert merged["backends"]["oidc"]["group_patterns"] == [{"match": "team-*", "groups": ["Teams", "Crew"]}]


def test_flag_rules_of_both_sources_add_up_and_backend_settings_stay_configured():
    configured = {
        "backends": {
            "oidc": {
                "groups_claim": "roles",
                "superuser_groups": ["admins"],
                "required_groups": "users",
                "default_groups": ["Viewers"],
            }
        }
    }
    merged = merge_plugin_config(
        configured,
        [
            rule(effect="superuser", value="root", groups=()),
            rule(effect="required", value="users", groups=()),
            rule(effect="default", value="", groups=("Guests",)),
        ],
        {},
    )
    entry = merged["backends"]["oidc"]
    assert entry["superuser_groups"] == ["admins", "root"]
    assert entry["required_groups"] == ["users"]
    assert entry["default_groups"] == ["Viewers", "Guests"]
    assert entry["groups_claim"] == "roles"


def test_merging_leaves_the_configuration_it_was_given_unchanged():
    configured = {"backends": {"oidc": {"group_map": {"a": ["A"]}}}}
    merge_plugin_config(configured, [rule(value="b", groups=("B",))], {})
    assert configured == {"backends": {"oidc": {"group_map": {"a": ["A"]}}}}


def test_a_backend_only_in_the_database_gets_the_parser_defaults():
    config = parse_config(merge_plugin_config({"backends": {"oidc": {}}}, [rule(backend="okta-openidconnect")], {}))
    assert config.backends["okta-openidconnect"].groups_claim.display == "groups"


def test_two_database_values_equal_after_normalization_are_an_error():
    configured = {"backends": {"oidc": {"normalize": {"case": "lower"}}}}
    merged = merge_plugin_config(configured, [rule(value="Ops", pk=1), rule(value="ops", pk=2)], {})
    with pytest.raises(ConfigError, match="same IdP value after normalization"):
        parse_config(merged)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (rule(effect="superuser", match="glob", value="adm*", groups=()), "match_type"),
        (rule(value=" "), "value"),
        (rule(groups=()), "groups"),
        (rule(effect="default", value="x", groups=("Viewers",)), "value"),
        (rule(effect="required", value="users", groups=("Users",)), "groups"),
        (rule(backend=""), "backend"),
    ],
)
def test_shapes_the_rules_format_cannot_express_name_the_field(record, field):
    assert field in [name for name, _ in shape_problems(record)]


def test_a_well_formed_rule_has_no_shape_problem():
    assert shape_problems(rule()) == []
    assert shape_problems(rule(effect="default", value="", groups=("Viewers",))) == []


def test_backend_settings_from_the_database_fill_only_what_configuration_does_not_set():
    configured = {"backends": {"oidc": {"groups_claim": "roles", "group_map": {"a": ["A"]}}}}
    stored = BackendSettingsRecord(
        "oidc", groups_claim="groups", case="lower", strip_prefixes=("/",), missing_claim="refuse"
    )
    entry = merge_plugin_config(configured, [], {}, [stored])["backends"]["oidc"]
    assert entry["groups_claim"] == "roles"  # configuration.py wins
    assert entry["normalize"] == {"case": "lower", "strip_prefixes": ["/"]}
    assert entry["missing_claim"] == "refuse"


def test_backend_settings_left_at_their_defaults_set_nothing():
    assert BackendSettingsRecord("oidc").entry() == {}
    assert split_list(" id_token, userinfo ,") == ("id_token", "userinfo")


def test_a_backend_only_in_the_database_compiles_with_its_stored_settings():
    stored = BackendSettingsRecord("keycloak", case="lower", strip_prefixes=("/",))
    config = parse_config(merge_plugin_config({}, [rule(backend="keycloak", value="/Ops")], {}, [stored]))
    assert config.backends["keycloak"].group_map == {"ops": frozenset({"Operators"})}


def test_backend_settings_from_form_or_api_fields_split_lists_and_fill_defaults():
    record = BackendSettingsRecord.from_fields(
        {
            "backend": " oidc ",
            "groups_claim": "roles",
            "groups_sources": "userinfo, id_token",
            "case": "lower",
            "strip_prefixes": "CN=, ou=",
            "missing_claim": "refuse",
            "create_groups": True,
            "description": "not a setting",
        },
        pk=7,
    )
    assert record == BackendSettingsRecord(
        "oidc", "roles", ("userinfo", "id_token"), "lower", ("CN=", "ou="), "refuse", True, 7
    )
    # A blank form and an API body that leaves fields out mean the defaults (the record's own).
    for values in ({"backend": "oidc"}, dict.fromkeys(BackendSettingsRecord.FIELDS, None) | {"backend": "oidc"}):
        assert BackendSettingsRecord.from_fields(values) == BackendSettingsRecord("oidc")
    assert BackendSettingsRecord.from_fields({"backend": "oidc", "case": "", "missing_claim": ""}).entry() == {}
