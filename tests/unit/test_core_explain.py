"""`netbox-sso explain`: loading configuration files, the explanation, and the command's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from netbox_sso.cli.explain import explain_command
from netbox_sso.core.config_file import load_configuration, load_rules_file
from netbox_sso.core.decision import CurrentUser
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.explain import explain, render, to_dict
from netbox_sso.core.rules import parse_config

GUID = "0b8e1c2a-6a1f-4c55-9d6e-2f0a4b7c9e11"

CONFIGURATION_PY = f"""
import os
ALLOWED_HOSTS = ['*']
REMOTE_AUTH_DEFAULT_GROUPS = ['Everyone']
PLUGINS = ['netbox_sso']
PLUGINS_CONFIG = {{'netbox_sso': {{
    'clock_leeway': 30,   # a hardening key owned by another part of the plugin
    'break_glass_users': ['admin'],
    'backends': {{'oidc': {{
        'normalize': {{'case': 'lower', 'strip_prefixes': ['/']}},
        'group_map': {{'netbox-admins': ['Admins'], 'ops': 'Operators'}},
        'group_patterns': [{{'match': 'team-*', 'groups': ['Teams']}}],
        'superuser_groups': ['netbox-admins'],
        'required_groups': ['netbox-users'],
        'default_groups': ['Viewers'],
    }}}},
}}}}
SOCIAL_AUTH_PIPELINE_CONFIG = {{
    'AZUREAD_USER_FLAGS_BY_GROUP': {{'is_superuser': ['{GUID}'], 'is_staff': ['{GUID}']}},
    'AZUREAD_GROUP_MAP': {{'{GUID}': 'Entra admins'}},
}}
"""

RULES_YAML = """
break_glass_users: [admin]
backends:
  oidc:
    group_map: {ops: Operators}
    required_groups: [ops]
REMOTE_AUTH_DEFAULT_GROUPS: [Everyone]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "config": tmp_path / "configuration.py",
        "rules": tmp_path / "rules.yaml",
        "claims": tmp_path / "claims.json",
        "flat": tmp_path / "flat.json",
        "entra": tmp_path / "entra.json",
    }
    paths["config"].write_text(CONFIGURATION_PY)
    paths["rules"].write_text(RULES_YAML)
    paths["claims"].write_text(
        json.dumps({"id_token": {"sub": "1", "groups": ["/NetBox-Admins", "/netbox-users", "team-a"]}, "userinfo": {}})
    )
    paths["flat"].write_text(json.dumps({"sub": "1"}))
    paths["entra"].write_text(json.dumps({"id_token": {"hasgroups": True}, "graph": [GUID]}))
    return paths


# --- configuration files ------------------------------------------------------------------------------


def test_load_configuration_py(files):
    settings = load_configuration(files["config"])
    assert settings.plugin_config["backends"]["oidc"]["group_map"]["ops"] == "Operators"  # type: ignore[index]
    assert settings.remote_auth_default_groups == ("Everyone",)
    assert "AZUREAD_GROUP_MAP" in settings.pipeline_config  # type: ignore[operator]


def test_load_configuration_errors(tmp_path):
    broken = tmp_path / "configuration.py"
    broken.write_text("SECRET_KEY = os.environ['NOPE']\n")
    with pytest.raises(ConfigError, match="executing it raised NameError"):
        load_configuration(broken)
    with pytest.raises(ConfigError, match="file not found"):
        load_configuration(tmp_path / "missing.py")
    broken.write_text("PLUGINS_CONFIG = []\n")
    with pytest.raises(ConfigError, match="PLUGINS_CONFIG must be a dict"):
        load_configuration(broken)


def test_load_rules_file(files, tmp_path):
    settings = load_rules_file(files["rules"])
    assert set(settings.plugin_config or {}) == {"break_glass_users", "backends"}
    assert settings.remote_auth_default_groups == ("Everyone",)
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"netbox_sso": {"backends": {}}}))
    assert load_rules_file(wrapped).plugin_config == {"backends": {}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules_file(bad)
    bad.write_text("- a\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_rules_file(bad)


# --- the explanation ----------------------------------------------------------------------------------


def test_explain_and_formats(files):
    settings = load_configuration(files["config"])
    config = parse_config(
        settings.plugin_config,
        pipeline_config=settings.pipeline_config,
        remote_auth_default_groups=settings.remote_auth_default_groups,
        other_top_level_keys=["clock_leeway"],
    )
    sources = {"id_token": {"groups": ["/netbox-users", "ops", "[bold]odd"]}}
    result = explain(config, "oidc", sources, CurrentUser("bob", frozenset({"Admins", "Manual"}), True, False))
    data = to_dict(result)
    assert data["allowed"] is True
    assert data["add_groups"] == ["Operators"] and data["remove_groups"] == ["Admins"]
    assert data["set_superuser"] is False and data["superuser_after"] is False
    assert data["groups_after"] == ["Manual", "Operators"]
    assert data["groups_claim"]["values"] == ["[bold]odd", "netbox-users", "ops"]
    assert any("is_staff" in w for w in data["config_warnings"])
    json.dumps(data)
    console = Console(record=True, width=200, color_system=None)
    console.print(render(result))
    text = console.export_text()
    assert "ALLOWED" in text and "[bold]odd" in text  # claim values are never markup
    assert "['group_map']['ops']: IdP value 'ops' -> 'Operators'" in text
    assert "superuser: revoked" in text


def test_explain_unknown_backend(files):
    config = parse_config({"backends": {"oidc": {}}})
    with pytest.raises(ConfigError, match="did you mean 'oidc'"):
        explain(config, "odic", {}, CurrentUser("u", frozenset(), False, False))


# --- the command --------------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(explain_command, list(args))


def test_cli_allowed_human(files):
    result = run(
        "--claims",
        str(files["claims"]),
        "--config",
        str(files["config"]),
        "--backend",
        "oidc",
        "--user-groups",
        "Operators,Manual",
        "--new",
    )
    assert result.exit_code == 0, result.output
    assert "ALLOWED" in result.output and "superuser: granted" in result.output


def test_cli_json(files):
    result = run("--claims", str(files["claims"]), "--config", str(files["config"]), "--backend", "oidc", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["add_groups"] == ["Admins", "Teams"] and data["set_superuser"] is True


def test_cli_refused(files):
    result = run("--claims", str(files["flat"]), "--config", str(files["config"]), "--backend", "oidc")
    assert result.exit_code == 3
    assert "REFUSED" in result.output and "did not send the 'groups' claim" in result.output


def test_cli_legacy_entra_through_graph(files):
    result = run(
        "--claims", str(files["entra"]), "--config", str(files["config"]), "--backend", "azuread-oauth2", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["groups_claim"]["source"] == "graph"
    assert data["add_groups"] == ["Entra admins"] and data["set_superuser"] is True


def test_cli_rules_file_single_backend_default(files):
    result = run("--claims", str(files["flat"]), "--rules", str(files["rules"]), "--json")
    assert result.exit_code == 3
    assert json.loads(result.output)["backend"] == "oidc"


def test_cli_break_glass(files):
    result = run("--claims", str(files["flat"]), "--rules", str(files["rules"]), "--username", "Admin")
    assert result.exit_code == 0 and "break-glass" in result.output


def test_cli_config_error(files, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("backends:\n  oidc:\n    group_mapp: {}\n")
    result = run("--claims", str(files["claims"]), "--rules", str(bad))
    assert result.exit_code == 2
    assert "did you mean 'group_map'?" in result.output
    result = run("--claims", str(files["claims"]), "--rules", str(bad), "--json")
    assert result.exit_code == 2
    assert json.loads(result.output)["problems"][0]["path"].endswith("['group_mapp']")


def test_cli_input_errors(files, tmp_path):
    assert run("--claims", str(files["claims"])).exit_code == 2  # neither --config nor --rules
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = run("--claims", str(broken), "--rules", str(files["rules"]))
    assert result.exit_code == 2 and "cannot read claims JSON" in result.output
    result = run("--claims", str(files["claims"]), "--rules", str(files["rules"]), "--backend", "okta")
    assert result.exit_code == 2 and "no mapping rules for backend 'okta'" in result.output


def test_registered_on_main():
    from netbox_sso.cli import main

    assert main.get_command(None, "explain") is explain_command  # type: ignore[arg-type]
