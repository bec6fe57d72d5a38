"""Reading the groups claim: paths, sources, types, overage, caps, normalization."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbox_sso.core.claims import (
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    ClaimPath,
    Normalization,
    lookup,
    read_groups,
    split_sources,
)
from netbox_sso.core.rules import parse_config


def rules(backend: str = "oidc", **entry: object):
    return parse_config({"backends": {backend: entry}}).backends[backend]


# --- lookup ----------------------------------------------------------------------------------------


def test_lookup_plain_key():
    assert lookup({"groups": ["a"]}, "groups") == (True, ["a"])


def test_lookup_dot_path():
    claims = {"realm_access": {"roles": ["admin"]}}
    assert lookup(claims, "realm_access.roles") == (True, ["admin"])


def test_lookup_dotted_string_prefers_exact_key():
    claims = {"a.b": "exact", "a": {"b": "nested"}}
    assert lookup(claims, "a.b") == (True, "exact")


def test_lookup_list_path_reaches_keys_with_dots():
    claims = {"resource_access": {"netbox.app": {"roles": ["ops"]}}}
    assert lookup(claims, ["resource_access", "netbox.app", "roles"]) == (True, ["ops"])
    # the dotted string cannot: 'netbox.app' would be split
    assert lookup(claims, "resource_access.netbox.app.roles") == (False, None)


def test_lookup_absent_and_non_mapping():
    assert lookup({"a": 1}, "b") == (False, None)
    assert lookup({"a": ["x"]}, "a.b") == (False, None)
    assert lookup(None, "a") == (False, None)


def test_lookup_present_null():
    assert lookup({"groups": None}, "groups") == (True, None)


keys = st.text(alphabet="ab.c_", min_size=1, max_size=6)


@given(path=st.lists(keys, min_size=1, max_size=4), value=st.lists(st.text(max_size=5)))
def test_lookup_list_path_property(path, value):
    claims: object = value
    for key in reversed(path):
        claims = {key: claims}
    assert lookup(claims, path) == (True, value)  # type: ignore[arg-type]


def test_claim_path_display():
    assert ClaimPath.parse("groups").display == "groups"
    assert ClaimPath.parse(["a", "b.c"]).display == "['a', 'b.c']"
    assert ClaimPath.parse("a.b").alternatives == (("a.b",), ("a", "b"))


# --- read_groups ------------------------------------------------------------------------------------


def test_first_source_that_has_the_claim_wins():
    r = rules(groups_sources=["userinfo", "id_token"])
    reading = read_groups(r, {"id_token": {"groups": ["a"]}, "userinfo": {"groups": ["b"]}})
    assert reading.values == {"b"} and reading.source == "userinfo"
    reading = read_groups(r, {"id_token": {"groups": ["a"]}, "userinfo": {"sub": "x"}})
    assert reading.values == {"a"} and reading.source == "id_token"
    assert reading.consulted == ("userinfo", "id_token")


def test_unavailable_source_is_skipped():
    r = rules()
    reading = read_groups(r, {"id_token": None, "userinfo": {"groups": ["b"]}})
    assert reading.values == {"b"} and reading.consulted == ("userinfo",)


def test_absent_everywhere_is_none_not_empty():
    reading = read_groups(rules(), {"id_token": {"sub": "1"}, "userinfo": {"sub": "1"}})
    assert reading.values is None
    assert reading.problem == "claim 'groups' not found in id_token or userinfo"


def test_present_empty_is_empty():
    reading = read_groups(rules(), {"id_token": {"groups": []}})
    assert reading.values == frozenset() and reading.present


@pytest.mark.parametrize("value", [None, ""])
def test_null_or_empty_string_counts_as_absent(value):
    # OIDC Core 5.3.2: an unreturned claim SHOULD be omitted, not null or ""
    reading = read_groups(rules(), {"id_token": {"groups": value}, "userinfo": {"groups": ["u"]}})
    assert reading.values == {"u"} and reading.source == "userinfo"


def test_string_is_one_value_and_numbers_are_stringified():
    assert read_groups(rules(), {"id_token": {"groups": "admins"}}).values == {"admins"}
    assert read_groups(rules(), {"id_token": {"groups": [1, 2.5, "x"]}}).values == {"1", "2.5", "x"}
    assert read_groups(rules(), {"id_token": {"groups": 7}}).values == {"7"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"a": 1}, "is a JSON object"),
        (True, "is a boolean"),
        (["a", {"b": 1}], "element 1 is a JSON object"),
        (["a", ["b"]], "element 1 is a nested list"),
        (["a", None], "element 1 is null"),
        (["a", False], "element 1 is a boolean"),
    ],
)
def test_wrong_types_make_the_claim_unusable(value, fragment):
    reading = read_groups(rules(), {"id_token": {"groups": value}, "userinfo": {"groups": ["u"]}})
    # the first source that HAS the claim wins even when unusable: no silent fall-through
    assert reading.values is None and reading.source == "id_token"
    assert fragment in (reading.problem or "")


def test_long_values_are_ignored_and_reported():
    long = "x" * (MAX_VALUE_LENGTH + 1)
    reading = read_groups(rules(), {"id_token": {"groups": ["ok", long]}})
    assert reading.values == {"ok"}
    assert "ignored 1 value(s) longer than 1024" in (reading.problem or "")


def test_too_many_values_make_the_claim_unusable():
    reading = read_groups(rules(), {"id_token": {"groups": [str(i) for i in range(MAX_VALUES + 1)]}})
    assert reading.values is None and "20001 values" in (reading.problem or "")


def test_entra_overage_claim_names():
    r = rules("azuread-oauth2")
    token = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://x"}}}
    reading = read_groups(r, {"id_token": token, "graph": None})
    assert reading.values is None and reading.overage
    assert (reading.problem or "").startswith("overage: resolve through Graph")


def test_entra_overage_hasgroups():
    reading = read_groups(rules("azuread-oauth2"), {"id_token": {"hasgroups": True}})
    assert reading.overage and reading.values is None
    assert "hasgroups" in (reading.problem or "")


def test_entra_overage_resolved_through_graph():
    r = rules("azuread-oauth2")
    reading = read_groups(r, {"id_token": {"hasgroups": True}, "graph": {"groups": ["g1", "g2"]}})
    assert reading.values == {"g1", "g2"} and reading.source == "graph" and not reading.overage


def test_overage_marker_wins_over_a_partial_list():
    r = rules("azuread-oauth2")
    reading = read_groups(r, {"id_token": {"groups": ["partial"], "_claim_names": {"groups": "src1"}}})
    assert reading.values is None and reading.overage


def test_distributed_claim_for_other_providers_is_not_fetched():
    reading = read_groups(rules(), {"id_token": {"_claim_names": {"groups": "src1"}}})
    assert reading.values is None
    assert (reading.problem or "").startswith("distributed claim")


def test_nested_claim_and_normalization():
    r = rules(
        groups_claim=["resource_access", "netbox.app", "roles"],
        normalize={"case": "lower", "strip_prefixes": ["/"]},
    )
    token = {"resource_access": {"netbox.app": {"roles": ["/NetBox/Admins", "/", "Ops"]}}}
    reading = read_groups(r, {"id_token": token})
    assert reading.values == {"netbox/admins", "ops"}  # '/' normalizes to nothing: dropped


# --- normalization ----------------------------------------------------------------------------------


def test_strip_prefixes_longest_first_and_repeated():
    norm = Normalization("preserve", ("/", "/netbox/"))
    assert norm.apply("/netbox/admins") == "admins"
    assert norm.apply("//x") == "x"


def test_lower_prefixes_are_lowered_too():
    norm = Normalization("lower", ("/NetBox/",))
    assert norm.apply("/NETBOX/Ops") == "ops"


normalizations = st.builds(
    Normalization,
    st.sampled_from(["preserve", "lower"]),
    st.lists(st.text(alphabet="/aAß-İ", min_size=1, max_size=3), max_size=3).map(tuple),
)


@given(norm=normalizations, value=st.text(max_size=12))
def test_normalization_is_idempotent(norm, value):
    once = norm.apply(value)
    assert norm.apply(once) == once


@given(norm=normalizations, values=st.lists(st.text(max_size=8), max_size=20))
def test_apply_all_agrees_with_apply(norm, values):
    assert norm.apply_all(values) == {norm.apply(v) for v in values} - {""}


# --- claims documents -------------------------------------------------------------------------------


def test_split_sources():
    assert split_sources({"sub": "1", "groups": []}) == {"id_token": {"sub": "1", "groups": []}}
    doc = {"id_token": {"sub": "1"}, "userinfo": None, "graph": ["g"]}
    assert split_sources(doc) == {"id_token": {"sub": "1"}, "userinfo": None, "graph": {"groups": ["g"]}}
    with pytest.raises(ValueError, match="must be a JSON object"):
        split_sources({"id_token": ["x"]})
