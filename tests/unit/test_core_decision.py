"""The login decision: each documented rule, then properties over random rules, claims and users."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.decision import CurrentUser, Decision, decide
from netbox_sso.core.rules import BackendRules, parse_config

GUIDS = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(4)]


def rules_for(backend: str = "oidc", **entry: object) -> BackendRules:
    return parse_config({"backends": {backend: entry}}).backends[backend]


def present(*values: str) -> GroupsReading:
    return GroupsReading(frozenset(values), "id_token", "groups")


ABSENT = GroupsReading(None, None, "groups", "claim 'groups' not found in id_token", consulted=("id_token",))


def user(*groups: str, superuser: bool = False, new: bool = False, name: str = "alice") -> CurrentUser:
    return CurrentUser(name, frozenset(groups), superuser, new)


RULES = rules_for(
    group_map={"ops": "Operators", "admins": ["Admins", "Operators"]},
    group_patterns=[{"match": "team-*", "groups": "Teams"}],
    superuser_groups=["admins"],
    default_groups=["Viewers"],
)


# --- the documented semantics, one by one --------------------------------------------------------------


def test_mirror_adds_matched_and_removes_unmatched_managed_groups():
    decision = decide(RULES, present("ops", "team-x"), user("Admins", "Manual"), break_glass=False)
    assert decision.allowed
    assert decision.add_groups == {"Operators", "Teams"}
    assert decision.remove_groups == {"Admins"}
    assert "Manual" not in decision.add_groups | decision.remove_groups
    assert decision.managed_groups == {"Operators", "Admins", "Teams"}


def test_one_value_to_several_groups():
    decision = decide(RULES, present("admins"), user(), break_glass=False)
    assert decision.add_groups == {"Admins", "Operators"}


def test_present_but_empty_claim_removes_managed_groups():
    decision = decide(RULES, present(), user("Operators", "Teams", "Manual", superuser=True), break_glass=False)
    assert decision.remove_groups == {"Operators", "Teams"}
    assert decision.set_superuser is False


def test_absent_claim_changes_nothing_and_warns():
    decision = decide(RULES, ABSENT, user("Operators", superuser=True), break_glass=False)
    assert decision.allowed and not decision.changes
    assert decision.warnings == ("oidc: claim 'groups' not found in id_token",)
    assert any("missing_claim'] is 'keep'" in line for line in decision.reasons)


def test_absent_claim_on_first_login_still_adds_default_groups():
    decision = decide(RULES, ABSENT, user(new=True), break_glass=False)
    assert decision.add_groups == {"Viewers"} and decision.remove_groups == frozenset()


def test_overage_is_never_no_groups():
    rules = rules_for("azuread-oauth2", group_map={GUIDS[0]: "A"}, superuser_groups=[GUIDS[0]])
    reading = read_groups(rules, {"id_token": {"hasgroups": True}, "graph": None})
    decision = decide(rules, reading, user("A", superuser=True), break_glass=False)
    assert decision.allowed and not decision.changes
    assert any("overage: resolve through Graph" in w for w in decision.warnings)


def test_missing_claim_refuses_when_required_groups_are_configured():
    rules = rules_for(required_groups=["netbox-users"])
    decision = decide(rules, ABSENT, user(), break_glass=False)
    assert not decision.allowed and not decision.changes
    assert "did not send the 'groups' claim" in (decision.refusal or "")
    assert "['required_groups']" in (decision.refusal or "")


def test_missing_claim_refuse_mode():
    rules = rules_for(missing_claim="refuse", group_map={"a": "A"})
    decision = decide(rules, ABSENT, user(new=True), break_glass=False)
    assert not decision.allowed and "['missing_claim'] is 'refuse'" in (decision.refusal or "")
    assert decision.add_groups == frozenset()


def test_overage_refusal_message():
    rules = rules_for("azuread-oauth2", required_groups=[GUIDS[0]])
    reading = read_groups(rules, {"id_token": {"_claim_names": {"groups": "src1"}}})
    decision = decide(rules, reading, user(), break_glass=False)
    assert not decision.allowed
    assert "could not be resolved through Microsoft Graph" in (decision.refusal or "")


def test_required_groups():
    rules = rules_for(required_groups=["netbox-users", "netbox-ops"], group_map={"a": "A"})
    refused = decide(rules, present("a"), user("A"), break_glass=False)
    assert not refused.allowed and not refused.changes
    assert "requires one of 'netbox-ops', 'netbox-users'" in (refused.refusal or "")
    allowed = decide(rules, present("netbox-ops"), user("A"), break_glass=False)
    assert allowed.allowed and allowed.remove_groups == {"A"}


def test_default_groups_only_on_first_login():
    first = decide(RULES, present(), user(new=True), break_glass=False)
    assert first.add_groups == {"Viewers"}
    later = decide(RULES, present(), user(), break_glass=False)
    assert "Viewers" not in later.add_groups  # an administrator's removal sticks


def test_default_group_that_is_also_managed_is_never_removed():
    rules = rules_for(group_map={"a": "Viewers"}, default_groups=["Viewers"])
    assert decide(rules, present(), user("Viewers"), break_glass=False).remove_groups == frozenset()
    assert decide(rules, present("a"), user(), break_glass=False).add_groups == {"Viewers"}


def test_superuser_grant_revoke_and_keep():
    assert decide(RULES, present("admins"), user(), break_glass=False).set_superuser is True
    assert decide(RULES, present("ops"), user(superuser=True), break_glass=False).set_superuser is False
    kept = decide(RULES, present("admins"), user(superuser=True), break_glass=False)
    assert kept.set_superuser is None and any("superuser kept" in line for line in kept.reasons)


def test_superuser_untouched_without_superuser_groups():
    rules = rules_for(group_map={"a": "A"})
    assert decide(rules, present(), user(superuser=True), break_glass=False).set_superuser is None


def test_break_glass_changes_nothing():
    decision = decide(RULES, present(), user("Operators", superuser=True, new=True, name="admin"), break_glass=True)
    assert decision.allowed and not decision.changes
    assert "break-glass account" in decision.reasons[0]
    required = rules_for(required_groups=["x"])
    assert decide(required, ABSENT, user(name="admin"), break_glass=True).allowed


def test_reasons_name_each_rule_that_fired():
    decision = decide(RULES, present("admins", "team-a", "team-b"), user("Manual", new=True), break_glass=False)
    root = "PLUGINS_CONFIG['netbox_sso']['backends']['oidc']"
    assert decision.reasons == (
        "groups claim 'groups' read from id_token: 3 value(s)",
        f"{root}['group_map']['admins']: IdP value 'admins' -> 'Admins', 'Operators'",
        f"{root}['group_patterns'][0]: match 'team-*' matched 'team-a', 'team-b' -> 'Teams'",
        f"{root}['default_groups']: first login, added default group(s) 'Viewers'",
        f"{root}['superuser_groups']: superuser granted by 'admins'",
    )


def test_reading_problem_becomes_a_warning():
    reading = GroupsReading(frozenset({"ops"}), "id_token", "groups", "ignored 1 value(s) longer than 1024")
    decision = decide(RULES, reading, user(), break_glass=False)
    assert decision.add_groups == {"Operators"}
    assert decision.warnings == ("oidc: ignored 1 value(s) longer than 1024",)


def test_legacy_reasons_name_the_reference_settings():
    config = parse_config({}, pipeline_config={"AZUREAD_GROUP_MAP": {GUIDS[0]: "A"}})
    rules = config.backends["azuread-oauth2"]
    decision = decide(rules, present(GUIDS[0]), user(), break_glass=False)
    assert decision.reasons[1].startswith(f"SOCIAL_AUTH_PIPELINE_CONFIG['AZUREAD_GROUP_MAP']['{GUIDS[0]}']")


# --- properties -----------------------------------------------------------------------------------------

IDP_VALUES = ["a", "b", "c", "A", "team-x", "team-y", "site-1", "/netbox/ops", *GUIDS[:2]]
NETBOX_GROUPS = ["G1", "G2", "G3", "G4", "Viewers", "Manual", "Other"]


@st.composite
def rule_entries(draw):
    entry: dict = {
        "normalize": {"case": draw(st.sampled_from(["preserve", "lower"])), "strip_prefixes": ["/"]},
    }
    # keys distinct after normalization (lower + strip '/'), so the config is valid
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "netbox/ops", GUIDS[0]]), unique=True, max_size=4))
    entry["group_map"] = {
        key: draw(st.lists(st.sampled_from(NETBOX_GROUPS[:5]), min_size=1, max_size=2, unique=True)) for key in keys
    }
    patterns = draw(
        st.lists(
            st.sampled_from([("match", "team-*"), ("regex", "^site-[0-9]+$"), ("match", "*-y"), ("regex", "^A")]),
            unique=True,
            max_size=3,
        )
    )
    entry["group_patterns"] = [
        {kind: text, "groups": draw(st.lists(st.sampled_from(NETBOX_GROUPS[:5]), min_size=1, max_size=2, unique=True))}
        for kind, text in patterns
    ]
    if draw(st.booleans()):
        entry["superuser_groups"] = draw(st.lists(st.sampled_from(["a", "team-x"]), min_size=1, unique=True))
    if draw(st.booleans()):
        entry["required_groups"] = draw(st.lists(st.sampled_from(["b", "site-1"]), min_size=1, unique=True))
    entry["default_groups"] = draw(st.lists(st.sampled_from(["Viewers", "G1"]), unique=True, max_size=2))
    entry["missing_claim"] = draw(st.sampled_from(["keep", "refuse"]))
    return entry


readings = st.one_of(
    st.builds(lambda v: GroupsReading(frozenset(v), "id_token", "groups"), st.sets(st.sampled_from(IDP_VALUES))),
    st.just(ABSENT),
    st.just(GroupsReading(None, None, "groups", "overage: resolve through Graph", overage=True)),
)
users = st.builds(
    CurrentUser,
    st.sampled_from(["alice", "admin"]),
    st.frozensets(st.sampled_from(NETBOX_GROUPS)),
    st.booleans(),
    st.booleans(),
)


def normalized(rules: BackendRules, reading: GroupsReading) -> GroupsReading:
    """What read_groups would produce: values normalized by the rules."""
    if reading.values is None:
        return reading
    return GroupsReading(frozenset(rules.normalize.apply_all(list(reading.values))), "id_token", "groups")


def applied(before: CurrentUser, decision: Decision) -> CurrentUser:
    superuser = before.is_superuser if decision.set_superuser is None else decision.set_superuser
    groups = (before.groups - decision.remove_groups) | decision.add_groups
    return CurrentUser(before.username, groups, superuser, is_new=False)


@given(entry=rule_entries(), raw=readings, current=users)
def test_mirror_is_idempotent(entry, raw, current):
    rules = rules_for(**entry)
    reading = normalized(rules, raw)
    first = decide(rules, reading, current, break_glass=False)
    if not first.allowed:
        return
    second = decide(rules, reading, applied(current, first), break_glass=False)
    assert second.allowed
    assert second.add_groups == frozenset() and second.remove_groups == frozenset()
    assert second.set_superuser is None


@given(entry=rule_entries(), raw=readings, current=users)
def test_unmanaged_groups_are_never_touched(entry, raw, current):
    rules = rules_for(**entry)
    decision = decide(rules, normalized(rules, raw), current, break_glass=False)
    assert decision.remove_groups <= rules.managed_groups
    assert decision.add_groups <= rules.managed_groups | rules.default_groups
    assert not decision.add_groups & current.groups
    assert decision.remove_groups <= current.groups


@given(entry=rule_entries(), current=users)
def test_absent_claim_never_removes_anything(entry, current):
    rules = rules_for(**entry)
    for reading in (ABSENT, GroupsReading(None, None, "groups", "overage", overage=True)):
        decision = decide(rules, reading, current, break_glass=False)
        assert decision.remove_groups == frozenset()
        assert decision.set_superuser is None
        assert decision.add_groups <= rules.default_groups


@given(entry=rule_entries(), raw=readings, current=users)
def test_break_glass_never_changes(entry, raw, current):
    rules = rules_for(**entry)
    decision = decide(rules, normalized(rules, raw), current, break_glass=True)
    assert decision.allowed and not decision.changes and decision.refusal is None


@given(entry=rule_entries(), raw=readings, current=users)
def test_required_groups_refusal_iff_no_required_value(entry, raw, current):
    rules = rules_for(**entry)
    reading = normalized(rules, raw)
    decision = decide(rules, reading, current, break_glass=False)
    if reading.values is None:
        expected_refusal = bool(rules.required_groups) or rules.missing_claim == "refuse"
    else:
        expected_refusal = bool(rules.required_groups) and not (rules.required_groups & reading.values)
    assert decision.allowed is not expected_refusal
    assert (decision.refusal is not None) is expected_refusal
    if expected_refusal:
        assert not decision.changes


@st.composite
def legacy_configs(draw):
    mapping = draw(st.dictionaries(st.sampled_from(GUIDS), st.sampled_from(NETBOX_GROUPS[:4]), max_size=4))
    superusers = draw(st.lists(st.sampled_from(GUIDS), unique=True, max_size=2))
    defaults = draw(st.lists(st.sampled_from(["Viewers", "Other"]), unique=True, max_size=2))
    return mapping, superusers, defaults


@given(config=legacy_configs(), values=st.sets(st.sampled_from([*GUIDS, GUIDS[0].upper(), "x"])), current=users)
def test_legacy_translation_decides_like_hand_written_native_rules(config, values, current):
    mapping, superusers, defaults = config
    flags = {"is_superuser": superusers, "is_staff": [GUIDS[3]]} if superusers else {"is_staff": [GUIDS[3]]}
    legacy = parse_config(
        {},
        pipeline_config={"AZUREAD_USER_FLAGS_BY_GROUP": flags, "AZUREAD_GROUP_MAP": mapping},
        remote_auth_default_groups=defaults,
    ).backends["azuread-oauth2"]
    entry: dict = {
        "normalize": {"case": "lower"},
        "group_map": {key: [group] for key, group in mapping.items()},
        "default_groups": defaults,
    }
    if superusers:
        entry["superuser_groups"] = superusers
    native = rules_for("azuread-oauth2", **entry)
    assert legacy == native
    sources = {"id_token": {"groups": sorted(values)}}
    for rules_a, rules_b in ((legacy, native),):
        a = decide(rules_a, read_groups(rules_a, sources), current, break_glass=False)
        b = decide(rules_b, read_groups(rules_b, sources), current, break_glass=False)
        assert (a.allowed, a.add_groups, a.remove_groups, a.set_superuser) == (
            b.allowed,
            b.add_groups,
            b.remove_groups,
            b.set_superuser,
        )
