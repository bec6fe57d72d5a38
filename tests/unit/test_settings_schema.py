"""The settings schema: one declaration per key, validated once, documented in docs/configuration.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netbox_sso.cli.explain import explain_command
from netbox_sso.core import settings_schema as schema
from netbox_sso.core.configuration_docs import render_markdown
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.rules import BACKEND_KEYS, TOP_LEVEL_KEYS, parse_config

ROOT = "PLUGINS_CONFIG['netbox_sso']"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_docs_configuration_md_is_generated_from_the_schema():
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md is stale: run `python -m netbox_sso.core.configuration_docs`"
    )


def test_every_setting_is_documented_in_a_section_and_its_default_is_valid():
    for setting in (*schema.PLUGIN_SETTINGS.values(), *schema.BACKEND_SETTINGS.values()):
        assert setting.doc.strip() and setting.section in schema.SECTIONS, setting.key
        assert f"`{setting.key}`" in render_markdown()
    values = schema.resolve({})
    assert set(values) == set(schema.PLUGIN_SETTINGS)
    assert values["idp_timeout"] == 10.0 and values["session_max_age_from_token"] is None


def test_the_mapping_parser_knows_every_declared_key():
    assert set(TOP_LEVEL_KEYS) == set(schema.PLUGIN_SETTINGS)
    assert set(BACKEND_KEYS) == set(schema.BACKEND_SETTINGS)
    everything = {key: value for key, value in schema.defaults().items()}
    assert parse_config(everything).backends == {}


def test_a_bad_value_names_the_setting_the_problem_and_the_fix():
    with pytest.raises(ConfigError) as raised:
        parse_config({"idp_timeout": "ten", "debug_claims": "yes", "backends": {}})
    messages = [str(problem) for problem in raised.value.problems]
    assert messages[0].startswith(f"{ROOT}['idp_timeout']: must be a number of seconds, got 'ten'. Fix: ")
    assert (
        messages[1] == f"{ROOT}['debug_claims']: must be True or False, got 'yes'. Fix: write True or False (no quotes)"
    )


def test_values_are_converted_once():
    values = schema.resolve(
        {
            "idp_timeout": "3",
            "metadata_cache_ttl": 10**9,
            "refresh_interval": 0,
            "reserved_usernames": "root",
            "username_claim": "",
            "graph_url": "https://g.example/",
        }
    )
    assert values["idp_timeout"] == 3.0
    assert values["metadata_cache_ttl"] == schema.MAX_CACHE_TTL
    assert values["refresh_interval"] == 1
    assert values["reserved_usernames"] == ("root",)
    assert values["username_claim"] == "preferred_username"
    assert values["graph_url"] == "https://g.example"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("idp_timeout", 0),
        ("idp_timeout", True),
        ("clock_leeway", -1),
        ("max_response_bytes", "1 MiB"),
        ("session_max_age_from_token", "refresh_token"),
        ("graph_url", "graph.microsoft.us"),
        ("entra_allowed_tenants", [""]),
        ("audit_retention_days", -1),
        ("store_tokens", 1),
    ],
)
def test_invalid_values_are_refused_with_their_path(key, value):
    with pytest.raises(ConfigError) as raised:
        schema.resolve({key: value})
    [problem] = raised.value.problems
    assert problem.path == f"{ROOT}[{key!r}]" and problem.fix


def test_explain_accepts_every_plugin_setting_of_a_real_configuration(tmp_path):
    """The README's debug_claims -> explain workflow: audit and hardening keys are not 'unknown settings'."""
    config = tmp_path / "configuration.py"
    config.write_text(
        "PLUGINS = ['netbox_sso']\n"
        "PLUGINS_CONFIG = {'netbox_sso': {'debug_claims': True, 'audit_retention_days': 30, 'idp_timeout': 5,\n"
        "    'graph_url': 'https://graph.microsoft.us', 'backends': {'oidc': {'group_map': {'ops': 'Operators'}}}}}\n"
    )
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps({"id_token": {"groups": ["ops"]}}))
    result = CliRunner().invoke(
        explain_command, ["--claims", str(claims), "--backend", "oidc", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "Operators" in result.output


def test_check_reports_an_invalid_plugin_setting_with_its_own_code(tmp_path):
    from netbox_sso.diagnostics.settings import load_settings
    from netbox_sso.diagnostics.static import run_checks

    config = tmp_path / "configuration.py"
    config.write_text("PLUGINS = ['netbox_sso']\nPLUGINS_CONFIG = {'netbox_sso': {'refresh_margin': 'soon'}}\n")
    [finding] = [f for f in run_checks(load_settings(config)) if f.severity == "error"]
    assert (finding.code, finding.setting) == ("plugin.invalid_setting", f"{ROOT}['refresh_margin']")
    assert finding.fix


def test_a_wrong_reconcile_entry_stops_start_up_naming_the_backend_key_and_the_fix():
    with pytest.raises(ConfigError) as raised:
        schema.resolve({"reconcile": {"oidc": {"source": "keycloak", "max_fraction": 5}}, "reconcile_interval": -1})
    messages = sorted(str(problem) for problem in raised.value.problems)
    assert messages[0].startswith(f"{ROOT}['reconcile']: ['oidc']['max_fraction']: must be a number from 0 to 1")
    assert "Fix: write e.g. 0.1" in messages[0]
    assert messages[1].startswith(f"{ROOT}['reconcile_interval']: must be at least 0 minutes")
    values = schema.resolve({"reconcile": {"oidc": {"source": "authentik", "api_token": "t"}}})
    assert values["reconcile"]["oidc"].source == "authentik" and values["reconcile_interval"] == 0
