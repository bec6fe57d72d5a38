"""`netbox-sso check`: each misconfiguration, written as a small configuration.py, gives its specific finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import netbox_sso.cli.check  # noqa: F401  (registers the subcommand)
from netbox_sso.cli import main
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import load_settings
from netbox_sso.diagnostics.static import check_groups_exist, parse_mapping, run_checks

OIDC = """
import os
PLUGINS = ['netbox_sso']
REMOTE_AUTH_BACKEND = 'social_core.backends.open_id_connect.OpenIdConnectAuth'
SOCIAL_AUTH_OIDC_KEY = 'netbox'
SOCIAL_AUTH_OIDC_SECRET = os.environ.get('OIDC_SECRET', 'from-env')
SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = 'https://idp.example.com/realms/corp'
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {'group_map': {'netbox-admins': 'Admins'}}}}}
"""
ENTRA = """
import os
PLUGINS = ['netbox_sso']
REMOTE_AUTH_BACKEND = 'social_core.backends.azuread.AzureADOAuth2'
SOCIAL_AUTH_AZUREAD_OAUTH2_KEY = 'app-id'
SOCIAL_AUTH_AZUREAD_OAUTH2_SECRET = os.environ.get('X', 'y')
SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47'
"""
OKTA = """
import os
PLUGINS = ['netbox_sso']
REMOTE_AUTH_BACKEND = 'social_core.backends.okta_openidconnect.OktaOpenIdConnect'
SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY = 'client'
SOCIAL_AUTH_OKTA_OPENIDCONNECT_SECRET = os.environ.get('X', 'y')
SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL = 'https://corp.okta.com/oauth2/'
"""
PIPELINE = """
SOCIAL_AUTH_PIPELINE = (
    'social_core.pipeline.social_auth.social_details',
    'social_core.pipeline.social_auth.social_uid',
    'social_core.pipeline.social_auth.social_user',
    'social_core.pipeline.user.get_username',
    'social_core.pipeline.user.create_user',
    'social_core.pipeline.social_auth.associate_user',
    'social_core.pipeline.social_auth.load_extra_data',
    'social_core.pipeline.user.user_details',
)
"""
LEGACY_ENTRA_MAP = """
SOCIAL_AUTH_PIPELINE_CONFIG = {
    'AZUREAD_USER_FLAGS_BY_GROUP': {'is_superuser': ['0b5e3c4a-1d2e-4f60-8a9b-0c1d2e3f4a5b'],
                                    'is_staff': ['1b5e3c4a-1d2e-4f60-8a9b-0c1d2e3f4a5b']},
    'AZUREAD_GROUP_MAP': {'2b5e3c4a-1d2e-4f60-8a9b-0c1d2e3f4a5b': 'Operators'},
}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "configuration.py"
    path.write_text(text)
    return path


def findings_for(tmp_path: Path, text: str) -> list[Finding]:
    return run_checks(load_settings(write(tmp_path, text)))


def replace(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new)


# (id, configuration text, expected code, expected severity, text the setting must contain)
CASES = [
    (
        "misspelled-backend",
        replace(OIDC, "OpenIdConnectAuth", "OpenIDConnectAuth"),
        "backend.unknown",
        "error",
        "REMOTE_AUTH_BACKEND",
    ),
    (
        "misspelled-backend-module",
        replace(OIDC, "open_id_connect.", "openidconnect."),
        "backend.unknown",
        "error",
        "REMOTE_AUTH_BACKEND",
    ),
    (
        "missing-key",
        replace(OIDC, "SOCIAL_AUTH_OIDC_KEY = 'netbox'", ""),
        "setting.missing",
        "error",
        "SOCIAL_AUTH_OIDC_KEY",
    ),
    (
        "missing-secret",
        replace(OIDC, "SOCIAL_AUTH_OIDC_SECRET =", "_UNUSED ="),
        "setting.missing",
        "error",
        "SOCIAL_AUTH_OIDC_SECRET",
    ),
    (
        "missing-endpoint",
        replace(OIDC, "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT =", "_E ="),
        "setting.missing",
        "error",
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT",
    ),
    (
        "missing-tenant",
        replace(ENTRA, "SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID =", "_T ="),
        "setting.missing",
        "error",
        "SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID",
    ),
    (
        "missing-okta-api-url",
        replace(OKTA, "SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL =", "_A ="),
        "setting.missing",
        "error",
        "SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL",
    ),
    ("tenant-ignored-by-stock", ENTRA, "entra.tenant_ignored_by_stock", "info", "TENANT_ID"),
    (
        "tenant-ignored-without-plugin",
        replace(ENTRA, "PLUGINS = ['netbox_sso']", "PLUGINS = []"),
        "entra.tenant_ignored_by_stock",
        "warning",
        "TENANT_ID",
    ),
    (
        "tenant-common",
        replace(ENTRA, "'72f988bf-86f1-41af-91ab-2d7cd011db47'", "'common'"),
        "entra.multi_tenant",
        "error",
        "TENANT_ID",
    ),
    (
        "well-known-endpoint",
        replace(OIDC, "realms/corp'", "realms/corp/.well-known/openid-configuration'"),
        "oidc.endpoint_form",
        "info",
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT",
    ),
    (
        "well-known-endpoint-stock",
        replace(
            replace(OIDC, "realms/corp'", "realms/corp/.well-known/openid-configuration'"),
            "PLUGINS = ['netbox_sso']",
            "",
        ),
        "oidc.endpoint_form",
        "error",
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT",
    ),
    (
        "endpoint-not-url",
        replace(OIDC, "'https://idp.example.com/realms/corp'", "'idp.example.com'"),
        "oidc.endpoint_invalid",
        "error",
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT",
    ),
    (
        "okta-api-url-form",
        replace(OKTA, "https://corp.okta.com/oauth2/", "https://corp.okta.com/"),
        "okta.api_url_form",
        "error",
        "API_URL",
    ),
    (
        "okta-api-url-v1",
        replace(OKTA, "https://corp.okta.com/oauth2/", "https://corp.okta.com/oauth2/default/v1/"),
        "okta.api_url_form",
        "error",
        "API_URL",
    ),
    (
        "http-endpoint",
        replace(OIDC, "https://idp.example.com", "http://idp.example.com"),
        "url.insecure_http",
        "error",
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT",
    ),
    (
        "http-okta",
        replace(OKTA, "https://corp.okta.com", "http://corp.okta.com"),
        "url.insecure_http",
        "error",
        "API_URL",
    ),
    (
        "verify-ssl-false",
        OIDC + "SOCIAL_AUTH_VERIFY_SSL = False\n",
        "tls.verify_disabled",
        "warning",
        "SOCIAL_AUTH_VERIFY_SSL",
    ),
    (
        "verify-ssl-false-backend",
        OIDC + "SOCIAL_AUTH_OIDC_VERIFY_SSL = False\n",
        "tls.verify_disabled",
        "warning",
        "SOCIAL_AUTH_OIDC_VERIFY_SSL",
    ),
    ("id-key", OIDC + "SOCIAL_AUTH_OIDC_ID_KEY = 'email'\n", "setting.weakening", "warning", "SOCIAL_AUTH_OIDC_ID_KEY"),
    (
        "pkce-plain",
        OIDC + "SOCIAL_AUTH_OIDC_PKCE_CODE_CHALLENGE_METHOD = 'plain'\n",
        "setting.weakening",
        "warning",
        "SOCIAL_AUTH_OIDC_PKCE_CODE_CHALLENGE_METHOD",
    ),
    (
        "sanitize-redirects-off",
        OIDC + "SOCIAL_AUTH_SANITIZE_REDIRECTS = False\n",
        "setting.weakening",
        "warning",
        "SOCIAL_AUTH_SANITIZE_REDIRECTS",
    ),
    (
        "pipeline-missing-social-uid",
        OIDC + replace(PIPELINE, "'social_core.pipeline.social_auth.social_uid',", ""),
        "pipeline.missing_step",
        "error",
        "SOCIAL_AUTH_PIPELINE",
    ),
    (
        "pipeline-duplicate",
        OIDC
        + replace(
            PIPELINE,
            "'social_core.pipeline.user.user_details',",
            "'social_core.pipeline.user.user_details',\n'social_core.pipeline.user.user_details',",
        ),
        "pipeline.duplicate_step",
        "error",
        "SOCIAL_AUTH_PIPELINE",
    ),
    (
        "pipeline-order",
        OIDC
        + replace(
            replace(PIPELINE, "    'social_core.pipeline.user.create_user',\n", ""),
            "'social_core.pipeline.social_auth.social_details',",
            "'social_core.pipeline.user.create_user',\n'social_core.pipeline.social_auth.social_details',",
        ),
        "pipeline.order",
        "error",
        "SOCIAL_AUTH_PIPELINE",
    ),
    (
        "pipeline-unknown-step",
        OIDC + replace(PIPELINE, "pipeline.user.user_details", "pipeline.user.user_detail"),
        "pipeline.unknown_step",
        "error",
        "SOCIAL_AUTH_PIPELINE",
    ),
    (
        "pipeline-associate-by-email",
        OIDC
        + replace(
            PIPELINE,
            "'social_core.pipeline.user.create_user',",
            "'social_core.pipeline.social_auth.associate_by_email',\n'social_core.pipeline.user.create_user',",
        ),
        "pipeline.associate_by_email",
        "info",
        "SOCIAL_AUTH_PIPELINE",
    ),
    ("mapping-typo", replace(OIDC, "'group_map'", "'group_mapp'"), "mapping.invalid", "error", "group_mapp"),
    (
        "mapping-empty-superusers",
        replace(OIDC, "'group_map'", "'superuser_groups': [], 'group_map'"),
        "mapping.invalid",
        "error",
        "superuser_groups",
    ),
    ("is-staff", ENTRA + LEGACY_ENTRA_MAP, "mapping.is_staff", "warning", "is_staff"),
    (
        "entra-group-names",
        ENTRA + "PLUGINS_CONFIG = {'netbox_sso': {'backends': {'azuread-oauth2': "
        "{'group_map': {'NetBox Admins': 'Admins'}}}}}\n",
        "mapping.entra_group_names",
        "warning",
        "azuread-oauth2",
    ),
    (
        "mapping-wrong-backend",
        replace(OIDC, "'backends': {'oidc'", "'backends': {'okta-openidconnect'"),
        "mapping.backend_not_enabled",
        "warning",
        "okta-openidconnect",
    ),
    (
        "okta-groups-scope",
        OKTA + "PLUGINS_CONFIG = {'netbox_sso': {'backends': {'okta-openidconnect': "
        "{'group_map': {'NetBox Admins': 'Admins'}}}}}\n",
        "okta.groups_scope",
        "info",
        "SCOPE",
    ),
    (
        "okta-groups-scope-stock",
        replace(OKTA, "PLUGINS = ['netbox_sso']", "")
        + "PLUGINS_CONFIG = {'netbox_sso': {'backends': {'okta-openidconnect': {'group_map': {'A': 'B'}}}}}\n",
        "okta.groups_scope",
        "warning",
        "SCOPE",
    ),
    ("session-too-short", OIDC + "SESSION_COOKIE_AGE = 60\n", "session.cookie_age", "warning", "SESSION_COOKIE_AGE"),
    (
        "session-too-long",
        OIDC + "SESSION_COOKIE_AGE = 90 * 86400\n",
        "session.cookie_age",
        "warning",
        "SESSION_COOKIE_AGE",
    ),
    ("login-timeout-short", OIDC + "LOGIN_TIMEOUT = 120\n", "session.cookie_age", "warning", "LOGIN_TIMEOUT"),
    (
        "secret-in-clear",
        replace(OIDC, "os.environ.get('OIDC_SECRET', 'from-env')", "'s3cr3t-value'"),
        "secret.cleartext",
        "warning",
        "SOCIAL_AUTH_OIDC_SECRET",
    ),
    ("secret-key-in-clear", OIDC + "SECRET_KEY = '" + "k" * 50 + "'\n", "secret.cleartext", "warning", "SECRET_KEY"),
    ("placeholder", replace(OIDC, "'netbox'", "'<client-id>'"), "config.placeholder", "error", "SOCIAL_AUTH_OIDC_KEY"),
    (
        "wrong-backend-settings",
        OIDC + "SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY = 'x'\n",
        "setting.wrong_backend",
        "warning",
        "SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY",
    ),
    (
        "misspelled-setting",
        OIDC + "SOCIAL_AUTH_OIDC_SCOPES = ['groups']\n",
        "setting.unknown",
        "warning",
        "SOCIAL_AUTH_OIDC_SCOPES",
    ),
    ("plugin-not-enabled", replace(OIDC, "PLUGINS = ['netbox_sso']", ""), "plugin.not_enabled", "warning", "PLUGINS"),
    (
        "no-sso-backend",
        "REMOTE_AUTH_BACKEND = 'netbox.authentication.RemoteUserBackend'\n",
        "backend.none",
        "warning",
        "REMOTE_AUTH_BACKEND",
    ),
    ("no-mapping", replace(OIDC, "PLUGINS_CONFIG", "_P"), "mapping.absent", "info", "oidc"),
    (
        "not-hardened-backend",
        "REMOTE_AUTH_BACKEND = 'social_core.backends.google.GoogleOAuth2'\n"
        "SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = 'k'\nimport os\nSOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = os.environ.get('A', 'b')\n"
        "PLUGINS = ['netbox_sso']\n",
        "backend.not_hardened",
        "info",
        "REMOTE_AUTH_BACKEND",
    ),
    (
        "reference-entra-step-stock",
        ENTRA.replace("PLUGINS = ['netbox_sso']", "")
        + replace(
            PIPELINE,
            "'social_core.pipeline.user.user_details',",
            "'social_core.pipeline.user.user_details',\n'nbc_auth_extensions.azure_authentication.azuread_map_groups',",
        ),
        "pipeline.reference_step",
        "error",
        "SOCIAL_AUTH_PIPELINE",
    ),
    (
        "reconcile-unknown-backend",
        OIDC + "PLUGINS_CONFIG['netbox_sso']['reconcile'] = {'keycloak': {'source': 'keycloak'}}\n",
        "reconcile.unknown_backend",
        "error",
        "['reconcile']['keycloak']",
    ),
    (
        "reconcile-entra",
        ENTRA + "PLUGINS_CONFIG = {'netbox_sso': {'reconcile': {'azuread-oauth2': {'source': 'keycloak'}}}}\n",
        "reconcile.push_provider",
        "warning",
        "['reconcile']['azuread-oauth2']",
    ),
    (
        "invalid-default-groups",
        OIDC + "REMOTE_AUTH_DEFAULT_GROUPS = 'Viewers'\n",
        "config.invalid_type",
        "error",
        "REMOTE_AUTH_DEFAULT_GROUPS",
    ),
]


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 20
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("text", "code", "severity", "setting"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misconfiguration_gives_its_finding(tmp_path, text, code, severity, setting):
    findings = findings_for(tmp_path, text)
    matching = [f for f in findings if f.code == code and setting in f.setting]
    assert matching, [(f.code, f.severity, f.setting) for f in findings]
    assert matching[0].severity == severity, matching
    assert matching[0].problem and (matching[0].fix or severity == "info")


@pytest.mark.parametrize("base", [OIDC, ENTRA, OKTA + "SOCIAL_AUTH_OKTA_OPENIDCONNECT_SCOPE = ['groups']\n"])
def test_correct_configurations_have_no_errors_or_warnings(tmp_path, base):
    findings = findings_for(tmp_path, base + PIPELINE)
    assert [f for f in findings if f.severity != "info"] == []


def test_misspelled_backend_suggests_the_real_class(tmp_path):
    [finding] = [
        f
        for f in findings_for(tmp_path, replace(OIDC, "OpenIdConnectAuth", "OpenIDConnectAuth"))
        if f.code == "backend.unknown"
    ]
    assert "did you mean 'social_core.backends.open_id_connect.OpenIdConnectAuth'" in finding.problem


def test_verify_ssl_fix_points_to_ca_bundle_not_disabling(tmp_path):
    [finding] = [
        f for f in findings_for(tmp_path, OIDC + "SOCIAL_AUTH_VERIFY_SSL = False\n") if f.code == "tls.verify_disabled"
    ]
    assert "REQUESTS_CA_BUNDLE" in finding.fix


def test_reference_entra_mapping_block_verbatim(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "data" / "reference" / "entra_id_group_mapping.py").read_text()
    codes = {f.code for f in findings_for(tmp_path, "PLUGINS = ['netbox_sso']\n" + text)}
    assert {
        "config.placeholder",
        "mapping.is_staff",
        "pipeline.associate_by_email",
        "pipeline.reference_step",
        "entra.tenant_ignored_by_stock",
    } <= codes


def test_unloadable_file_is_an_error_finding(tmp_path):
    path = write(tmp_path, "import os\nSECRET = os.environ['NOT_SET_ANYWHERE_X']\n")
    result = CliRunner().invoke(main, ["check", "--config", str(path), "--json"])
    assert result.exit_code == 2, result.output
    document = json.loads(result.output)
    assert document["findings"][0]["code"] == "config.unloadable"
    assert "KeyError" in document["findings"][0]["problem"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (OIDC + PIPELINE, 0),
        (OIDC + "SESSION_COOKIE_AGE = 60\n", 1),
        (replace(OIDC, "SOCIAL_AUTH_OIDC_KEY = 'netbox'", ""), 2),
    ],
)
def test_exit_codes_distinguish_errors_from_warnings(tmp_path, text, status):
    path = write(tmp_path, text)
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == status, result.output
    as_json = CliRunner().invoke(main, ["check", "--config", str(path), "--json"])
    assert as_json.exit_code == status
    assert json.loads(as_json.output)["exit_code"] == status


def test_human_output_names_setting_problem_and_fix(tmp_path):
    path = write(tmp_path, OIDC + "SOCIAL_AUTH_VERIFY_SSL = False\n")
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert "SOCIAL_AUTH_VERIFY_SSL" in result.output and "fix:" in result.output
    assert "tls.verify_disabled" in result.output


def test_default_path_comes_from_netbox_root(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "configuration.py").write_text(OIDC + PIPELINE)
    monkeypatch.setenv("NETBOX_ROOT", str(tmp_path))
    result = CliRunner().invoke(main, ["check", "--json"])
    assert json.loads(result.output)["config"] == str(tmp_path / "conf" / "configuration.py")
    assert result.exit_code == 0, result.output


def test_missing_groups_with_database(tmp_path):
    text = replace(
        OIDC, "'group_map': {'netbox-admins': 'Admins'}", "'group_map': {'netbox-admins': 'Admins', 'ops': 'Operators'}"
    )
    config, _ = parse_mapping(load_settings(write(tmp_path, text)))
    findings = list(check_groups_exist(config, {"Admins"}))
    assert [(f.code, f.severity) for f in findings] == [("groups.missing", "warning")]
    assert "Operators" in findings[0].problem
    [unchecked] = check_groups_exist(config, None, "OperationalError: connection refused")
    assert unchecked.code == "groups.unchecked"


def test_plugin_keys_owned_elsewhere_are_accepted(tmp_path):
    text = replace(
        OIDC, "{'netbox_sso': {", "{'netbox_sso': {'graph_url': 'https://graph.example/', 'clock_leeway': 30, "
    )
    assert not [f for f in findings_for(tmp_path, text) if f.code == "mapping.invalid"]
