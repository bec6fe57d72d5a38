"""What the login page says for failures raised outside the pipeline's own refusals."""

from __future__ import annotations

from netbox_sso.core.errors import ConfigError, ConfigProblem
from netbox_sso.middleware import describe
from netbox_sso.rule_set import MappingRulesInvalid


def test_invalid_mapping_rules_are_named_on_the_login_page_not_an_unexpected_failure():
    error = MappingRulesInvalid(ConfigError(ConfigProblem("PLUGINS_CONFIG['netbox_sso']", "bad", "fix it")))
    code, _subject, message = describe(error)
    assert code == "invalid_mapping_rules"
    assert message == error.user_message() and "mapping rules are invalid" in message
