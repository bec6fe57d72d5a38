"""10,000 IdP values against 10,000 rules: runs and gives the right answer (timing is bench/'s job)."""

from __future__ import annotations

import time

import pytest

from netbox_sso.core.claims import read_groups
from netbox_sso.core.decision import CurrentUser, decide
from netbox_sso.core.rules import parse_config

N = 10_000


@pytest.mark.parametrize("patterns", [0, 1_000], ids=["exact", "with-1000-patterns"])
def test_ten_thousand_values_against_ten_thousand_rules(patterns, record_property):
    group_map = {f"idp-{i:05d}": f"NetBox {i}" for i in range(N - patterns)}
    group_patterns = [{"match": f"idp-{i:04d}*", "groups": [f"Pattern {i}"]} for i in range(patterns)]
    config = parse_config({"backends": {"oidc": {"group_map": group_map, "group_patterns": group_patterns}}})
    rules = config.backends["oidc"]
    values = [f"idp-{i:05d}" for i in range(0, 2 * N, 2)]  # half of them match a rule
    reading = read_groups(rules, {"id_token": {"groups": values}})
    held = frozenset(f"NetBox {i}" for i in range(1, N, 2))  # managed, no longer matched: removed
    user = CurrentUser("alice", held | {"Manual"}, False, False)

    start = time.perf_counter()
    decision = decide(rules, reading, user, break_glass=False)
    elapsed_ms = (time.perf_counter() - start) * 1000
    record_property("decide_ms", round(elapsed_ms, 2))
    print(f"decide() 10k values x 10k rules ({patterns} patterns): {elapsed_ms:.2f} ms")

    exact_hits = {f"NetBox {i}" for i in range(0, N - patterns, 2)}
    pattern_hits = {f"Pattern {i}" for i in range(patterns)}  # 'idp-0042*' matches 'idp-00420', ...
    assert exact_hits <= decision.add_groups
    assert pattern_hits <= decision.add_groups
    assert decision.remove_groups == {f"NetBox {i}" for i in range(1, N - patterns, 2)}
    assert "Manual" not in decision.remove_groups
