"""Redirect URIs as NetBox builds them, the redirect-uris command, and the Troubleshooting coverage table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import netbox_sso.cli.redirect_uris  # noqa: F401  (registers the subcommand)
from netbox_sso.cli import main
from netbox_sso.diagnostics.findings import CODES
from netbox_sso.diagnostics.redirects import redirect_uris
from netbox_sso.diagnostics.settings import NetBoxSettings
from netbox_sso.diagnostics.symptoms import SYMPTOMS

REFERENCE = Path("/work/shared/reference/netbox-enterprise-oidc.txt")
#: The reference's Troubleshooting headings (used when the reference text is not on this machine).
HEADINGS = (
    "Redirect URI Mismatch",
    "Not Logged In After Authentication",
    "Groups Not Syncing",
    "SSL Certificate Verification Fails",
    "Token Endpoint Not Reachable",
    "Users Cannot Access NetBox After Login",
)


def settings(**values) -> NetBoxSettings:
    return NetBoxSettings(Path("configuration.py"), values)


@pytest.mark.parametrize(
    ("values", "base_url", "expected"),
    [
        ({}, "https://netbox.example.com", "https://netbox.example.com/oauth/complete/oidc/"),
        ({}, "https://netbox.example.com/", "https://netbox.example.com/oauth/complete/oidc/"),
        (
            {"BASE_PATH": "netbox/"},
            "https://netbox.example.com",
            "https://netbox.example.com/netbox/oauth/complete/oidc/",
        ),
        (
            {"BASE_PATH": "/netbox"},
            "https://nb.example.com/netbox/",
            "https://nb.example.com/netbox/oauth/complete/oidc/",
        ),
        (
            {"SOCIAL_AUTH_REDIRECT_IS_HTTPS": True},
            "http://netbox.example.com",
            "https://netbox.example.com/oauth/complete/oidc/",
        ),
        ({"ALLOWED_HOSTS": ["*"]}, None, "https://<your-netbox-domain>/oauth/complete/oidc/"),
        ({"ALLOWED_HOSTS": ["netbox.corp", "*"]}, None, "https://netbox.corp/oauth/complete/oidc/"),
        ({}, "http://127.0.0.1:8000", "http://127.0.0.1:8000/oauth/complete/oidc/"),
    ],
)
def test_redirect_uri(values, base_url, expected):
    [uri], _ = redirect_uris(settings(**values), ["oidc"], base_url)
    assert uri.uri == expected


def test_notes_explain_the_proxy_and_http_pitfalls():
    _, notes = redirect_uris(settings(), ["oidc"], "https://netbox.example.com")
    assert [n.code for n in notes] == ["redirect.proxy_https"]
    assert "SOCIAL_AUTH_REDIRECT_IS_HTTPS = True" in notes[0].fix
    _, notes = redirect_uris(settings(), ["oidc"], "http://netbox.example.com")
    assert "redirect.insecure" in {n.code for n in notes}
    _, notes = redirect_uris(settings(BASE_PATH="nb/"), ["oidc"], "https://netbox.example.com/other/")
    assert "redirect.base_path" in {n.code for n in notes}


def test_redirect_uris_command(tmp_path):
    path = tmp_path / "configuration.py"
    path.write_text(
        "REMOTE_AUTH_BACKEND = ['social_core.backends.open_id_connect.OpenIdConnectAuth',\n"
        "                       'social_core.backends.okta_openidconnect.OktaOpenIdConnect']\n"
        "BASE_PATH = 'netbox/'\nSOCIAL_AUTH_REDIRECT_IS_HTTPS = True\n"
    )
    result = CliRunner().invoke(main, ["redirect-uris", "--config", str(path), "--base-url", "netbox.example.com"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "https://netbox.example.com/netbox/oauth/complete/oidc/",
        "https://netbox.example.com/netbox/oauth/complete/okta-openidconnect/",
    ]


def test_redirect_uris_without_sso_backend_fails(tmp_path):
    path = tmp_path / "configuration.py"
    path.write_text("ALLOWED_HOSTS = ['*']\n")
    assert CliRunner().invoke(main, ["redirect-uris", "--config", str(path)]).exit_code == 2


def reference_headings() -> tuple[str, ...]:
    if not REFERENCE.is_file():
        return HEADINGS
    text = REFERENCE.read_text()
    section = text[text.index("\nTroubleshooting\n") : text.index("\nSecurity Considerations\n")]
    lines = [line.strip() for line in section.splitlines()]
    headings = []
    for index, line in enumerate(lines):
        if line == "Symptoms:":
            headings.append(next(previous for previous in reversed(lines[:index]) if previous))
    return tuple(headings)


def test_every_troubleshooting_symptom_maps_to_findings():
    headings = reference_headings()
    assert set(HEADINGS) <= set(headings)
    for heading in headings:
        assert SYMPTOMS.get(heading), f"no finding covers the reference's symptom {heading!r}"


def test_symptom_codes_are_registered():
    for heading, codes in SYMPTOMS.items():
        unknown = [code for code in codes if code not in CODES]
        assert not unknown, (heading, unknown)


def test_every_code_is_emitted_somewhere_in_the_package():
    package = Path(__file__).resolve().parents[2].joinpath("src", "netbox_sso")
    # The mapping warnings carry their codes from the rules parser (core/), the other findings from diagnostics/.
    files = [*package.joinpath("diagnostics").rglob("*.py"), *package.joinpath("core").rglob("*.py")]
    source = "".join(p.read_text() for p in files if p.name not in ("findings.py", "symptoms.py"))
    emitted = set(re.findall(r'"([a-z_]+\.[a-z_0-9]+)"', source))
    assert set(CODES) - emitted == set()
