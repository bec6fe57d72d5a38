"""Reading the database rules: a missing table (not migrated) falls back to configuration.py's rules; any
other database error refuses the login (fail closed) rather than drop the database's required-groups rules."""

from __future__ import annotations

import pytest
from django.db import OperationalError, ProgrammingError

from netbox_sso import rule_set


def failing_read(error: Exception):
    def read():
        raise error

    return read


def test_an_unmigrated_rule_table_means_configuration_rules_only(monkeypatch, plugin_config):
    plugin_config({})
    monkeypatch.setattr(
        rule_set, "_read", failing_read(ProgrammingError('relation "netbox_sso_mappingrule" does not exist'))
    )
    compiled = rule_set._build("v1")
    assert compiled.config is not None and compiled.version is None  # rebuilt at the next login


def test_a_database_error_reading_the_rules_is_never_a_login_without_them(monkeypatch, plugin_config):
    plugin_config({})
    monkeypatch.setattr(
        rule_set, "_read", failing_read(OperationalError("canceling statement due to statement timeout"))
    )
    with pytest.raises(OperationalError):
        rule_set._build("v1")
