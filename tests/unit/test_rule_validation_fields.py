"""A parser problem about a database rule is shown on the form field it concerns."""

from __future__ import annotations

import pytest

from netbox_sso.core.errors import ConfigProblem
from netbox_sso.rule_validation import problem_field

ROOT = "PLUGINS_CONFIG['netbox_sso']['backends']['oidc']"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{ROOT}['group_patterns'][0]['regex']", "value"),
        (f"{ROOT}['group_map']['ops']", "value"),
        (f"{ROOT}['superuser_groups']", "value"),
        (f"{ROOT}['group_patterns'][2]['groups']", "groups"),
        (f"{ROOT}['default_groups'][0]", "groups"),
        (f"{ROOT}['groups_sources']", None),
    ],
)
def test_the_setting_path_names_the_field(path, field):
    assert problem_field(ConfigProblem(path, "problem", "fix")) == field
