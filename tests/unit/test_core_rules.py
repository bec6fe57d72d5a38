"""Parsing and validating the mapping configuration: native, legacy, and the compiled pattern index."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbox_sso.core.claims import Normalization
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.rules import (
    GroupPattern,
    PatternIndex,
    PermissionSpec,
    check_backends,
    parse_config,
)

ROOT = "PLUGINS_CONFIG['netbox_sso']['backends']['oidc']"
GUID_A = "0b8e1c2a-6a1f-4c55-9d6e-2f0a4b7c9e11"
GUID_B = "7f3d2e10-1b2c-4d5e-8f90-a1b2c3d4e5f6"

EXAMPLE = {
    "break_glass_users": ["admin"],
    "backends": {
        "oidc": {
            "groups_claim": "groups",
            "groups_sources": ["id_token", "userinfo"],
            "normalize": {"case": "lower", "strip_prefixes": ["/"]},
            "group_map": {"netbox-admins": ["Admins"], "ops": "Operators"},
            "group_patterns": [
                {"match": "team-*", "groups": ["Teams"]},
                {"regex": "^site-[a-z]+$", "groups": ["Site staff"]},
            ],
            "superuser_groups": ["netbox-admins"],
            "required_groups": ["netbox-users"],
            "default_groups": ["Viewers"],
            "missing_claim": "keep",
            "create_groups": False,
            "permissions": {
                "Operators": [
                    {
                        "name": "ops-dcim",
                        "actions": ["view", "change"],
                        "object_types": ["dcim.site", "dcim.device"],
                        "constraints": None,
                    }
                ]
            },
        }
    },
}


def backend(**entry: object) -> dict:
    return {"backends": {"oidc": entry}}


def problems(config: dict, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(config, **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in info.value.problems]


def one_problem(config: dict, **kwargs: object) -> str:
    found = problems(config, **kwargs)
    assert len(found) == 1, found
    return found[0]


# --- the example --------------------------------------------------------------------------------------


def test_example_parses():
    config = parse_config(EXAMPLE, remote_auth_default_groups=["Everyone"])
    rules = config.backends["oidc"]
    assert config.warnings == ()
    assert config.is_break_glass("ADMIN") and not config.is_break_glass("bob")
    assert rules.group_map == {"netbox-admins": {"Admins"}, "ops": {"Operators"}}
    assert rules.managed_groups == {"Admins", "Operators", "Teams", "Site staff"}
    assert rules.default_groups == {"Viewers", "Everyone"}
    assert rules.superuser_groups == {"netbox-admins"}
    assert rules.normalize == Normalization("lower", ("/",))
    assert rules.permissions["Operators"] == (
        PermissionSpec("ops-dcim", ("view", "change"), ("dcim.site", "dcim.device"), None),
    )
    assert config.permissions["Operators"] == rules.permissions["Operators"]


def test_defaults():
    rules = parse_config(backend()).backends["oidc"]
    assert rules.groups_claim.display == "groups"
    assert rules.groups_sources == ("id_token", "userinfo")
    assert rules.superuser_groups is None and rules.required_groups == frozenset()
    assert rules.missing_claim == "keep" and rules.create_groups is False
    entra = parse_config({"backends": {"azuread-oauth2": {}}}).backends["azuread-oauth2"]
    assert entra.groups_sources == ("id_token", "graph")


def test_empty_or_none_config_is_valid():
    assert parse_config(None).backends == {}
    assert parse_config({}).backends == {}


def test_rule_keys_are_normalized_like_values():
    rules = parse_config(
        backend(normalize={"case": "lower", "strip_prefixes": ["/"]}, group_map={"/NetBox/Admins": "A"})
    ).backends["oidc"]
    assert rules.group_map == {"netbox/admins": {"A"}}


def test_several_backends():
    config = parse_config({"backends": {"oidc": {"group_map": {"a": "A"}}, "okta-openidconnect": {}}})
    assert set(config.backends) == {"oidc", "okta-openidconnect"}


# --- errors name the path, the problem and the fix ------------------------------------------------------


def test_unknown_key_suggests():
    message = one_problem(backend(group_mapp={}))
    assert message.startswith(f"{ROOT}['group_mapp']: unknown setting")
    assert "did you mean 'group_map'?" in message


def test_unknown_top_level_key_and_foreign_keys():
    assert "did you mean 'backends'?" in one_problem({"backend": {}})
    parse_config({"clock_leeway": 5, "backends": {}}, other_top_level_keys=["clock_leeway"])
    parse_config(backend(tenant="x"), other_backend_keys=["tenant"])


def test_is_staff_key_explains_itself():
    assert "no staff flag" in one_problem(backend(staff_groups=["x"]))


def test_all_problems_are_collected():
    found = problems(
        backend(
            group_mapp={},
            normalize={"case": "upper"},
            group_patterns=[{"regex": "(", "groups": "X"}],
            missing_claim="refuse!",
        )
    )
    assert len(found) == 4
    assert any("['normalize']['case']: 'upper' is not one of 'preserve', 'lower'" in p for p in found)
    assert any("invalid regular expression '('" in p and "['group_patterns'][0]['regex']" in p for p in found)
    assert any("['missing_claim']" in p and "did you mean 'refuse'?" in p for p in found)


@pytest.mark.parametrize(
    ("entry", "path", "fragment"),
    [
        ({"group_map": []}, "['group_map']", "must be a dict, got list"),
        ({"group_map": {"": "A"}}, "['group_map']['']", "non-empty string"),
        ({"group_map": {"a": ""}}, "['group_map']['a']", "empty string"),
        ({"group_map": {"a": []}}, "['group_map']['a']", "empty list"),
        ({"group_map": {"a": ["A", "A"]}}, "['group_map']['a'][1]", "duplicate NetBox group name 'A'"),
        ({"group_map": {"a": [1]}}, "['group_map']['a'][0]", "must be a string"),
        ({"group_map": {"a": "A "}}, "['group_map']['a']", "leading or trailing spaces"),
        ({"group_map": {"a": "x" * 151}}, "['group_map']['a']", "more than 150"),
        ({"groups_claim": ""}, "['groups_claim']", "claim name"),
        ({"groups_claim": []}, "['groups_claim']", "empty list"),
        ({"groups_sources": ["id_token", "idtoken"]}, "['groups_sources'][1]", "did you mean 'id_token'?"),
        ({"groups_sources": ["graph"]}, "['groups_sources'][0]", "only available for Entra ID"),
        ({"groups_sources": []}, "['groups_sources']", "empty list"),
        ({"normalize": {"strip_prefixes": [""]}}, "['normalize']['strip_prefixes'][0]", "empty string"),
        ({"normalize": {"cases": "lower"}}, "['normalize']['cases']", "did you mean 'case'?"),
        ({"superuser_groups": []}, "['superuser_groups']", "empty list"),
        ({"required_groups": "x"}, None, None),  # a single string is fine
        ({"create_groups": "yes"}, "['create_groups']", "must be True or False"),
        ({"default_groups": [""]}, "['default_groups'][0]", "empty string"),
        ({"group_patterns": {}}, "['group_patterns']", "must be a list"),
        ({"group_patterns": [{"groups": "A"}]}, "['group_patterns'][0]", "exactly one of 'match'"),
        (
            {"group_patterns": [{"match": "a*", "regex": "^a", "groups": "A"}]},
            "['group_patterns'][0]",
            "not both",
        ),
        ({"group_patterns": [{"match": "a*"}]}, "['group_patterns'][0]", "has no 'groups'"),
        ({"group_patterns": [{"match": "", "groups": "A"}]}, "['group_patterns'][0]['match']", "non-empty"),
        (
            {"group_patterns": [{"match": "a*", "groups": "A", "group": "B"}]},
            "['group_patterns'][0]['group']",
            "did you mean 'groups'?",
        ),
    ],
)
def test_validation(entry, path, fragment):
    if path is None:
        parse_config(backend(**entry))
        return
    message = one_problem(backend(**entry))
    assert message.startswith(ROOT + path + ":"), message
    assert fragment in message


def test_duplicates_after_normalization():
    message = one_problem(backend(normalize={"case": "lower"}, group_map={"Ops": "A", "ops": "B"}))
    assert "'Ops' and 'ops' are the same IdP value after normalization" in message
    message = one_problem(backend(normalize={"case": "lower"}, superuser_groups=["A", "a"]))
    assert "same IdP value" in message


def test_duplicate_patterns():
    message = one_problem(backend(group_patterns=[{"match": "a*", "groups": "A"}, {"match": "a*", "groups": "B"}]))
    assert "['group_patterns'][1]['match']: duplicate of group_patterns[0]" in message


def test_bad_regex_names_the_pattern():
    message = one_problem(backend(group_patterns=[{"regex": "^site-[a-z", "groups": "S"}]))
    assert "invalid regular expression '^site-[a-z'" in message


def test_graph_needs_the_groups_claim():
    message = one_problem({"backends": {"azuread-oauth2": {"groups_claim": "roles"}}})
    assert "'graph' supplies group object IDs" in message


@pytest.mark.parametrize(
    ("permission", "path", "fragment"),
    [
        ({"name": "p", "actions": [], "object_types": ["dcim.site"]}, "['actions']", "empty list"),
        ({"name": "p", "actions": "view", "object_types": ["dcim.site"]}, "['actions']", "a list of strings"),
        ({"name": "p", "actions": ["view"], "object_types": ["dcim.Site"]}, "['object_types'][0]", "'dcim.site'"),
        ({"name": "p", "actions": ["view"], "object_types": ["site"]}, "['object_types'][0]", "app_label.model"),
        (
            {"name": "p", "actions": ["view"], "object_types": ["dcim.site"], "constraints": "x"},
            "['constraints']",
            "None, a dict",
        ),
        (
            {"name": "p", "actions": ["view"], "object_types": ["dcim.site"], "constraints": [1]},
            "['constraints']",
            "None, a dict",
        ),
        ({"name": "", "actions": ["view"], "object_types": ["dcim.site"]}, "['name']", "non-empty"),
        ({"name": "x" * 101, "actions": ["view"], "object_types": ["dcim.site"]}, "['name']", "100"),
        ({"actions": ["view"], "object_types": ["dcim.site"]}, "", "missing 'name'"),
        ({"name": "p", "actions": ["view"], "object_types": ["dcim.site"], "enabled": 1}, "['enabled']", "True"),
        (
            {"name": "p", "actions": ["view"], "object_types": ["dcim.site"], "action": 1},
            "['action']",
            "did you mean 'actions'?",
        ),
    ],
)
def test_permission_validation(permission, path, fragment):
    config = backend(group_map={"a": "Ops"}, permissions={"Ops": [permission]})
    message = one_problem(config)
    assert message.startswith(f"{ROOT}['permissions']['Ops'][0]{path}:"), message
    assert fragment in message


def test_permission_constraints_accepted_shapes():
    for constraints in (None, {"site__slug": "ams1"}, [{"status": "active"}, {"tenant__slug": "ops"}]):
        perm = {"name": "p", "actions": ["view"], "object_types": ["dcim.site"], "constraints": constraints}
        config = parse_config(backend(group_map={"a": "Ops"}, permissions={"Ops": [perm]}))
        assert config.permissions["Ops"][0].constraints == constraints


def test_permission_conflicts_across_backends():
    perm = {"name": "p", "actions": ["view"], "object_types": ["dcim.site"]}
    other = {**perm, "actions": ["change"]}
    same = {"backends": {"oidc": {"permissions": {"Ops": [perm]}}, "okta": {"permissions": {"Ops": [perm]}}}}
    parse_config(same)  # identical declarations are one shared permission
    differ = {"backends": {"oidc": {"permissions": {"Ops": [perm]}}, "okta": {"permissions": {"Ops": [other]}}}}
    assert "different permissions" in one_problem(differ)
    renamed = {"backends": {"oidc": {"permissions": {"A": [perm]}}, "okta": {"permissions": {"B": [other]}}}}
    assert "permission 'p' is declared differently" in one_problem(renamed)


# --- warnings -------------------------------------------------------------------------------------------


def test_unanchored_regex_warns():
    config = parse_config(backend(group_patterns=[{"regex": "admin", "groups": "A"}]))
    assert any("not anchored" in w for w in config.warnings)


def test_default_and_managed_overlap_warns():
    config = parse_config(backend(group_map={"a": "Viewers"}, default_groups=["Viewers"]))
    assert any("both default groups and mapping targets" in w for w in config.warnings)


def test_permissions_for_unassigned_group_warn():
    perm = {"name": "p", "actions": ["view"], "object_types": ["dcim.site"]}
    config = parse_config(backend(group_map={"a": "A"}, permissions={"Other": [perm]}))
    assert any("which no rule of this backend assigns" in w for w in config.warnings)


def test_group_managed_by_two_backends_warns():
    config = parse_config({"backends": {"oidc": {"group_map": {"a": "Ops"}}, "okta": {"group_map": {"b": "Ops"}}}})
    assert any("also managed by backend 'oidc'" in w for w in config.warnings)


def test_no_rules_warns():
    assert any("has no mapping rules" in w for w in parse_config(backend()).warnings)


def test_entra_non_guid_keys_warn():
    config = parse_config({"backends": {"azuread-oauth2": {"group_map": {"Admins": "A", GUID_A: "B"}}}})
    assert any("do not look like Entra ID group object IDs ('Admins')" in w for w in config.warnings)
    roles = parse_config(
        {
            "backends": {
                "azuread-oauth2": {
                    "groups_claim": "roles",
                    "groups_sources": ["id_token"],
                    "group_map": {"Admins": "A"},
                }
            }
        }
    )
    assert not any("object IDs" in w for w in roles.warnings)


def test_check_backends():
    config = parse_config({"backends": {"odic": {"group_map": {"a": "A"}}}})
    (message,) = check_backends(config, ["oidc", "azuread-oauth2"])
    assert "no enabled authentication backend is named 'odic'" in message and "did you mean 'oidc'?" in message
    assert check_backends(config, ["odic"]) == ()


# --- legacy format --------------------------------------------------------------------------------------

LEGACY = {
    "AZUREAD_USER_FLAGS_BY_GROUP": {"is_superuser": [GUID_A], "is_staff": [GUID_B]},
    "AZUREAD_GROUP_MAP": {GUID_A: "Admins", GUID_B.upper(): "Operators"},
}
NATIVE_EQUIVALENT = {
    "backends": {
        "azuread-oauth2": {
            "groups_claim": "groups",
            "groups_sources": ["id_token", "graph"],
            "normalize": {"case": "lower"},
            "group_map": {GUID_A: ["Admins"], GUID_B: ["Operators"]},
            "superuser_groups": [GUID_A],
            "default_groups": ["Viewers"],
            "missing_claim": "keep",
            "create_groups": False,
        }
    }
}


def test_legacy_translation_equals_native_rules():
    legacy = parse_config({}, pipeline_config=LEGACY, remote_auth_default_groups=["Viewers"])
    native = parse_config(NATIVE_EQUIVALENT)
    assert legacy.backends["azuread-oauth2"] == native.backends["azuread-oauth2"]
    assert legacy.backends["azuread-oauth2"].setting == "SOCIAL_AUTH_PIPELINE_CONFIG"


def test_legacy_is_staff_warns_clearly():
    config = parse_config({}, pipeline_config=LEGACY)
    (warning,) = [w for w in config.warnings if "is_staff" in w]
    assert warning.startswith("SOCIAL_AUTH_PIPELINE_CONFIG['AZUREAD_USER_FLAGS_BY_GROUP']['is_staff']:")
    assert "NetBox 4.5 and later have no staff flag" in warning


def test_legacy_reference_placeholders_warn_about_object_ids():
    reference = {
        "AZUREAD_USER_FLAGS_BY_GROUP": {"is_superuser": ["<azure-group-id-for-superusers>"]},
        "AZUREAD_GROUP_MAP": {"<azure-group-id>": "<netbox-group-name>"},
    }
    config = parse_config({}, pipeline_config=reference)
    assert any("do not look like Entra ID group object IDs" in w for w in config.warnings)


def test_legacy_and_native_for_the_same_backend_is_an_error():
    message = one_problem({"backends": {"azuread-oauth2": {}}}, pipeline_config=LEGACY)
    assert "configured twice" in message and "keep one" in message


def test_legacy_validation():
    message = one_problem({}, pipeline_config={"AZUREAD_GROUP_MAPS": {}})
    assert message.startswith("SOCIAL_AUTH_PIPELINE_CONFIG['AZUREAD_GROUP_MAPS']: unknown setting")
    message = one_problem({}, pipeline_config={"AZUREAD_USER_FLAGS_BY_GROUP": {"is_admin": []}})
    assert "['AZUREAD_USER_FLAGS_BY_GROUP']['is_admin']: unknown setting" in message
    message = one_problem({}, pipeline_config={"AZUREAD_GROUP_MAP": {GUID_A: ""}})
    assert "['AZUREAD_GROUP_MAP']" in message


def test_empty_pipeline_config_adds_no_backend():
    assert parse_config({}, pipeline_config={}).backends == {}


def test_remote_auth_default_groups_validated():
    assert "REMOTE_AUTH_DEFAULT_GROUPS[0]: is an empty string" in one_problem(
        backend(), remote_auth_default_groups=[""]
    )


# --- the compiled pattern index agrees with testing every pattern ---------------------------------------

glob_text = st.text(alphabet="aAb-*?[]", min_size=1, max_size=5)
regex_text = st.sampled_from(
    [
        "^a",
        "^ab",
        "^a-b$",
        "^a+b",
        "^ab?",
        "^a{2}",
        "b$",
        "a|b",
        "^a.b",
        r"^a\-",
        r"\Aab",
        "^(a|b)",
        "a",
        "^a*b",
        "^A",
        "^Ab-",
    ]
)


@st.composite
def pattern_sets(draw):
    ignore_case = draw(st.booleans())
    specs = draw(
        st.lists(
            st.one_of(st.tuples(st.just("match"), glob_text), st.tuples(st.just("regex"), regex_text)),
            max_size=12,
            unique=True,
        )
    )
    return [GroupPattern(kind, text, frozenset({f"G{i}"}), ignore_case) for i, (kind, text) in enumerate(specs)]


@given(patterns=pattern_sets(), values=st.lists(st.text(alphabet="abAB-", max_size=6), max_size=15))
def test_pattern_index_matches_every_pattern_tested(patterns, values):
    values = {v.lower() for v in values} if patterns and patterns[0].ignore_case else set(values)
    naive = {i: sorted(v for v in values if p.test(v)) for i, p in enumerate(patterns)}
    naive = {i: hits for i, hits in naive.items() if hits}
    indexed = {i: sorted(hits) for i, hits in PatternIndex(patterns).matches(values).items()}
    assert indexed == naive


def test_pattern_index_combined_prefilter():
    patterns = [GroupPattern("regex", f"x{i}y", frozenset({"G"})) for i in range(5)]
    patterns.append(GroupPattern("match", "*z*", frozenset({"Z"})))
    index = PatternIndex(patterns)
    assert index._scan_filter is not None
    assert index.matches(["ax3yb", "nothing", "zz"]) == {3: ["ax3yb"], 5: ["zz"]}
    # a backreference would change meaning inside a combined regex: no prefilter, still correct
    patterns.append(GroupPattern("regex", r"(a)\1", frozenset({"B"})))
    index = PatternIndex(patterns)
    assert index._scan_filter is None and index.matches(["aa"]) == {6: ["aa"]}


def test_regex_literal_prefix_extraction():
    from netbox_sso.core.rules import _regex_literal_prefix

    assert _regex_literal_prefix("^site-[a-z]+$") == "site-"
    assert _regex_literal_prefix("^ab?c") == "a"
    assert _regex_literal_prefix("^a+b") == "a"
    assert _regex_literal_prefix(r"^a\.b") == "a.b"
    assert _regex_literal_prefix(r"^\d") == ""
    assert _regex_literal_prefix("^a|b") == ""
    assert _regex_literal_prefix("site") == ""
    assert re.search("^a+b", "aab")
