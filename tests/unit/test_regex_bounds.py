"""group_patterns regexes that could backtrack catastrophically are refused at start-up, naming the setting."""

from __future__ import annotations

import pytest

from netbox_sso.core.errors import ConfigError
from netbox_sso.core.regex_bounds import MAX_PATTERN_LENGTH, backtracking_risk
from netbox_sso.core.rules import parse_config

SAFE = [
    "^site-[a-z]+$",
    "^(dc|site)-[0-9]+-.*$",
    "^team-.*-admins$",
    "^[a-z]+-[0-9]+-[a-z]+-[0-9]+$",
    "^(?:netbox|nb)-(?:admin|ops)$",
    "^((foo|bar)-)+$",
    "^(ab|ac)*$",
    "^(ab{2})*$",
    "^(?>a+)+$",
    "^(a++)+$",
]
RISKY = {
    "(a+)+$": "nests a quantifier",
    r"^(\w*-)*x$": "nests a quantifier",
    "^(aa?)*b": "nests a quantifier",
    "^(a|aa)*$": "alternation whose branches can start with the same character",
    r"^(\d+|x)*$": "nests a quantifier",
    r"(a)\1": "backreference",
    "^.*a.*b.*c$": "3 unbounded repeats",
    "^[^-]+-[^-]+-[^-]+$": "3 unbounded repeats",
    "x" * (MAX_PATTERN_LENGTH + 1): "longer than",
}


@pytest.mark.parametrize("pattern", SAFE)
def test_linear_shapes_are_accepted(pattern):
    assert backtracking_risk(pattern) is None


@pytest.mark.parametrize("pattern,why", RISKY.items())
def test_backtracking_shapes_are_named(pattern, why):
    assert why in (backtracking_risk(pattern) or "")


def test_a_risky_group_pattern_is_a_config_error_naming_the_setting():
    config = {"backends": {"oidc": {"group_patterns": [{"regex": "^(a+)+$", "groups": ["A"]}]}}}
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    [problem] = [str(p) for p in info.value.problems]
    assert "group_patterns[0].regex" in problem or "group_patterns'][0]['regex" in problem, problem
    assert "nests a quantifier" in problem and "glob" in problem
