"""`netbox-sso doctor` against devidp in-process (no NetBox): green on every profile, and every IdP fault
devidp can produce gives its specific finding."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

import netbox_sso.cli.doctor  # noqa: F401  (registers the subcommand)
from netbox_sso.cli import main

pytestmark = pytest.mark.integration

CLIENT = "netbox-doctor"
BASE_URL = "https://netbox.doctor.example"
BACKENDS = ("oidc", "azuread-oauth2", "azuread-oauth2-v2", "okta-openidconnect")
OIDC_CLASS = "social_core.backends.open_id_connect.OpenIdConnectAuth"


@pytest.fixture(autouse=True)
def doctor_client(fresh_idp_state):
    fresh_idp_state.register_client(CLIENT, "doctor-secret",
                                    redirect_uris=[f"{BASE_URL}/oauth/complete/{name}/" for name in BACKENDS])
    return fresh_idp_state


def generic(issuer: str) -> str:
    return (f"REMOTE_AUTH_BACKEND = {OIDC_CLASS!r}\nSOCIAL_AUTH_OIDC_KEY = {CLIENT!r}\n"
            f"SOCIAL_AUTH_OIDC_SECRET = 'doctor-secret'\nSOCIAL_AUTH_OIDC_OIDC_ENDPOINT = {issuer!r}\n")


def okta(idp, server: str | None = None) -> str:
    return ("REMOTE_AUTH_BACKEND = 'social_core.backends.okta_openidconnect.OktaOpenIdConnect'\n"
            f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY = {CLIENT!r}\nSOCIAL_AUTH_OKTA_OPENIDCONNECT_SECRET = 'x'\n"
            f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL = {idp.profile('okta').api_url(server)!r}\n")


def entra(idp, cls: str = "AzureADOAuth2", tenant: str | None = None) -> str:
    prefix = "SOCIAL_AUTH_AZUREAD_OAUTH2_V2_" if cls.endswith("V2") else "SOCIAL_AUTH_AZUREAD_OAUTH2_"
    tenant = tenant or idp.profile("entra").home_tenant_id
    return (f"REMOTE_AUTH_BACKEND = 'social_core.backends.azuread.{cls}'\n{prefix}KEY = {CLIENT!r}\n"
            f"{prefix}SECRET = 'x'\n{prefix}TENANT_ID = {tenant!r}\n"
            f"{prefix}AUTHORITY_HOST = {idp.profile('entra').authority_host!r}\n")


def doctor(tmp_path: Path, text: str, idp, *args: str, ca: bool = True) -> tuple[int, dict]:
    path = tmp_path / "configuration.py"
    path.write_text("PLUGINS = ['netbox_sso']\n" + text)
    options = ["doctor", "--config", str(path), "--json", "--timeout", "1.5", *args]
    if ca:
        options += ["--ca-bundle", idp.ca_bundle]
    if "--base-url" not in args:
        options += ["--base-url", BASE_URL]
    result = CliRunner().invoke(main, options)
    document = json.loads(result.output)
    assert document["exit_code"] == result.exit_code
    return result.exit_code, document


def codes(document: dict) -> set[str]:
    return {f["code"] for f in document["findings"]}


def finding(document: dict, code: str) -> dict:
    matches = [f for f in document["findings"] if f["code"] == code]
    assert matches, [(f["code"], f["problem"]) for f in document["findings"]]
    return matches[0]


# --- green on every profile ------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [
    pytest.param(lambda idp: generic(idp.issuer("generic")), id="generic"),
    pytest.param(lambda idp: generic(idp.discovery_url("generic")), id="generic-discovery-url-form"),
    pytest.param(lambda idp: generic(idp.issuer("keycloak")), id="keycloak"),
    pytest.param(lambda idp: okta(idp), id="okta-org"),
    pytest.param(lambda idp: okta(idp, "default"), id="okta-custom-default"),
    pytest.param(lambda idp: okta(idp, "aus-netbox"), id="okta-custom-aus-netbox"),
    pytest.param(lambda idp: entra(idp), id="entra-v1"),
    pytest.param(lambda idp: entra(idp, "AzureADOAuth2V2"), id="entra-v2"),
])
def test_green_against_every_profile(tmp_path, idp, config):
    status, document = doctor(tmp_path, config(idp), idp)
    assert status == 0, document["findings"]
    [backend] = document["backends"]
    assert set(backend["probes"].values()) == {"ok"}, backend
    assert backend["redirect_uri"] == f"{BASE_URL}/oauth/complete/{backend['backend']}/"
    assert document["redirect_uris"] == [{"backend": backend["backend"], "uri": backend["redirect_uri"]}]


def test_human_output_lists_probes_and_redirect_uris(tmp_path, idp):
    path = tmp_path / "configuration.py"
    path.write_text("PLUGINS = ['netbox_sso']\nBASE_PATH = 'netbox/'\n" + generic(idp.issuer("generic")))
    result = CliRunner().invoke(main, ["doctor", "--config", str(path), "--ca-bundle", idp.ca_bundle,
                                       "--base-url", "https://nb.example.com"])
    assert "https://nb.example.com/netbox/oauth/complete/oidc/" in result.output
    assert "discovery ok" in result.output and "jwks ok" in result.output
    # nb.example.com is not registered at devidp: the mismatch is reported before any sign-in
    assert "redirect.mismatch" in result.output and result.exit_code == 2


# --- every fault ---------------------------------------------------------------------------------------------


FAULTS = [
    ("discovery-500", "status", {"endpoint": "discovery", "code": 500}, "discovery.http_error"),
    ("discovery-stall", "delay", {"endpoint": "discovery", "seconds": 3}, "net.timeout"),
    ("discovery-malformed-json", "malformed_json", {"endpoint": "discovery"}, "discovery.malformed"),
    ("discovery-dropped", "drop_connection", {"endpoint": "discovery"}, "net.unreachable"),
    ("discovery-wrong-issuer", "discovery_overrides", {"values": {"issuer": "https://evil.example/"}},
     "discovery.issuer_mismatch"),
    ("discovery-no-jwks-uri", "discovery_overrides", {"values": {"jwks_uri": None}}, "discovery.missing_field"),
    ("discovery-http-token-endpoint", "discovery_overrides",
     {"values": {"token_endpoint": "http://idp.example.com/token"}}, "discovery.insecure_endpoint"),
    ("jwks-malformed", "jwks", {"mode": "malformed"}, "jwks.malformed"),
    ("jwks-empty", "jwks", {"mode": "empty"}, "jwks.empty"),
    ("jwks-no-keys-field", "jwks", {"mode": "no_keys_field"}, "jwks.no_keys_field"),
    ("jwks-500", "status", {"endpoint": "jwks", "code": 500}, "jwks.http_error"),
    ("token-down-503", "status", {"endpoint": "token", "code": 503}, "token.http_error"),
    ("token-dropped", "drop_connection", {"endpoint": "token"}, "net.unreachable"),
    ("token-stall", "delay", {"endpoint": "token", "seconds": 3}, "net.timeout"),
    ("token-not-oauth", "status", {"endpoint": "token", "code": 200, "body": "<html>proxy login</html>"},
     "token.unexpected"),
    ("authorize-500", "status", {"endpoint": "authorize", "code": 500}, "authorize.http_error"),
]


@pytest.mark.parametrize(("fault", "params", "code"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_fault_gives_its_finding(tmp_path, idp, fault, params, code):
    idp.set_fault(fault, profile="generic", **params)
    started = time.monotonic()
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp)
    assert time.monotonic() - started < 15  # bounded timeouts on every request
    found = finding(document, code)
    assert status == (2 if found["severity"] == "error" else 1)
    assert found["backend"] == "oidc" and found["problem"] and found["fix"]


def test_tls_without_ca_bundle_points_to_the_ca_fix(tmp_path, idp, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp, ca=False)
    found = finding(document, "tls.verify_failed")
    assert status == 2
    assert "REQUESTS_CA_BUNDLE" in found["fix"] and "Do not set SOCIAL_AUTH_VERIFY_SSL = False" in found["fix"]


def test_requests_ca_bundle_from_the_environment_is_honoured(tmp_path, idp, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", idp.ca_bundle)
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp, ca=False)
    assert status == 0, document["findings"]


def test_unresolvable_host(tmp_path, idp):
    issuer = idp.issuer("generic").replace("127.0.0.1", "idp.invalid")
    status, document = doctor(tmp_path, generic(issuer), idp)
    assert status == 2 and "idp.invalid" in finding(document, "dns.unresolved")["problem"]


def test_redirect_uri_not_registered(tmp_path, idp):
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp, "--base-url", "https://other.example")
    found = finding(document, "redirect.mismatch")
    assert status == 2 and "https://other.example/oauth/complete/oidc/" in found["fix"]


def test_redirect_uri_not_registered_at_entra(tmp_path, idp):
    status, document = doctor(tmp_path, entra(idp), idp, "--base-url", "https://other.example")
    assert status == 2 and "AADSTS50011" in finding(document, "redirect.mismatch")["problem"]


def test_http_redirect_uri_behind_proxy_is_a_mismatch(tmp_path, idp):
    # The proxy terminates TLS but NetBox thinks it is served over http: the URI NetBox sends is http://.
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp,
                              "--base-url", BASE_URL.replace("https://", "http://"))
    assert status == 2 and {"redirect.mismatch", "redirect.insecure"} <= codes(document)


def test_unknown_client_id(tmp_path, idp):
    text = generic(idp.issuer("generic")).replace(repr(CLIENT), "'not-registered'", 1)
    status, document = doctor(tmp_path, text, idp)
    assert status == 2 and "not-registered" in finding(document, "authorize.invalid_client")["problem"]


def test_entra_wrong_tenant(tmp_path, idp):
    other = idp.profile("entra").tenants["fabrikam"]
    text = entra(idp).replace("TENANT_ID = ", f"TENANT_ID = {other!r} or ")
    status, document = doctor(tmp_path, text, idp)
    assert status == 0, document["findings"]  # fabrikam's own discovery names fabrikam: consistent
    idp.set_fault("discovery_overrides", profile="entra", values={"issuer": f"https://sts.windows.net/{other}/"})
    status, document = doctor(tmp_path, entra(idp), idp)
    assert status == 2 and "discovery.issuer_mismatch" in codes(document)


def test_clock_offset(tmp_path, idp):
    idp.set_fault("clock_offset", seconds=600, profile="generic", endpoint=["token", "discovery"])
    response = requests.get(idp.discovery_url("generic"), verify=idp.ca_bundle, timeout=5)
    assert parsedate_to_datetime(response.headers["Date"]).timestamp() - time.time() > 300  # the skewed clock
    status, document = doctor(tmp_path, generic(idp.issuer("generic")), idp)
    found = finding(document, "clock.skew")
    assert status == 2 and "ahead" in found["problem"] and "NTP" in found["fix"]
