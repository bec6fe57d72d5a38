"""`netbox-sso doctor` against devidp: green on every profile, every IdP fault devidp can produce gives its
specific finding, and the client ID and secret are proven (or named as the problem) the way each provider
answers; the status page of a real NetBox shows the same."""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

import netbox_sso.cli.doctor  # noqa: F401  (registers the subcommand)
from netbox_sso.cli import main
from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block
from tests.integration.test_okta_keycloak import okta_block

pytestmark = pytest.mark.integration

CLIENT = "netbox-doctor"
SECRET = "doctor-secret-value-3kq~Zp"
#: A second client whose secret devidp treats as past its end date (Entra answers AADSTS7000222).
EXPIRED_CLIENT = "netbox-doctor-expired"
BASE_URL = "https://netbox.doctor.example"
BACKENDS = ("oidc", "azuread-oauth2", "azuread-oauth2-v2", "okta-openidconnect")
OIDC_CLASS = "social_core.backends.open_id_connect.OpenIdConnectAuth"


@pytest.fixture(autouse=True)
def doctor_client(fresh_idp_state):
    uris = [f"{BASE_URL}/oauth/complete/{name}/" for name in BACKENDS]
    fresh_idp_state.register_client(CLIENT, SECRET, redirect_uris=uris)
    fresh_idp_state.register_client(EXPIRED_CLIENT, SECRET, redirect_uris=uris, secret_expired=True)
    return fresh_idp_state


def generic(issuer: str, key: str = CLIENT, secret: str = SECRET) -> str:
    return (
        f"REMOTE_AUTH_BACKEND = {OIDC_CLASS!r}\nSOCIAL_AUTH_OIDC_KEY = {key!r}\n"
        f"SOCIAL_AUTH_OIDC_SECRET = {secret!r}\nSOCIAL_AUTH_OIDC_OIDC_ENDPOINT = {issuer!r}\n"
    )


def okta(idp, server: str | None = None, key: str = CLIENT, secret: str = SECRET) -> str:
    return (
        "REMOTE_AUTH_BACKEND = 'social_core.backends.okta_openidconnect.OktaOpenIdConnect'\n"
        f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY = {key!r}\nSOCIAL_AUTH_OKTA_OPENIDCONNECT_SECRET = {secret!r}\n"
        f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL = {idp.profile('okta').api_url(server)!r}\n"
    )


def entra(idp, cls: str = "AzureADOAuth2", tenant: str | None = None, key: str = CLIENT, secret: str = SECRET) -> str:
    prefix = "SOCIAL_AUTH_AZUREAD_OAUTH2_V2_" if cls.endswith("V2") else "SOCIAL_AUTH_AZUREAD_OAUTH2_"
    tenant = tenant or idp.profile("entra").home_tenant_id
    return (
        f"REMOTE_AUTH_BACKEND = 'social_core.backends.azuread.{cls}'\n{prefix}KEY = {key!r}\n"
        f"{prefix}SECRET = {secret!r}\n{prefix}TENANT_ID = {tenant!r}\n"
        f"{prefix}AUTHORITY_HOST = {idp.profile('entra').authority_host!r}\n"
    )


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


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(lambda idp: generic(idp.issuer("generic")), id="generic"),
        pytest.param(lambda idp: generic(idp.discovery_url("generic")), id="generic-discovery-url-form"),
        pytest.param(lambda idp: generic(idp.issuer("keycloak")), id="keycloak"),
        pytest.param(lambda idp: okta(idp), id="okta-org"),
        pytest.param(lambda idp: okta(idp, "default"), id="okta-custom-default"),
        pytest.param(lambda idp: okta(idp, "aus-netbox"), id="okta-custom-aus-netbox"),
        pytest.param(lambda idp: entra(idp), id="entra-v1"),
        pytest.param(lambda idp: entra(idp, "AzureADOAuth2V2"), id="entra-v2"),
    ],
)
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
    result = CliRunner().invoke(
        main, ["doctor", "--config", str(path), "--ca-bundle", idp.ca_bundle, "--base-url", "https://nb.example.com"]
    )
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
    (
        "discovery-wrong-issuer",
        "discovery_overrides",
        {"values": {"issuer": "https://evil.example/"}},
        "discovery.issuer_mismatch",
    ),
    ("discovery-no-jwks-uri", "discovery_overrides", {"values": {"jwks_uri": None}}, "discovery.missing_field"),
    (
        "discovery-http-token-endpoint",
        "discovery_overrides",
        {"values": {"token_endpoint": "http://idp.example.com/token"}},
        "discovery.insecure_endpoint",
    ),
    ("jwks-malformed", "jwks", {"mode": "malformed"}, "jwks.malformed"),
    ("jwks-empty", "jwks", {"mode": "empty"}, "jwks.empty"),
    ("jwks-no-keys-field", "jwks", {"mode": "no_keys_field"}, "jwks.no_keys_field"),
    ("jwks-500", "status", {"endpoint": "jwks", "code": 500}, "jwks.http_error"),
    ("token-down-503", "status", {"endpoint": "token", "code": 503}, "token.http_error"),
    ("token-dropped", "drop_connection", {"endpoint": "token"}, "net.unreachable"),
    ("token-stall", "delay", {"endpoint": "token", "seconds": 3}, "net.timeout"),
    (
        "token-not-oauth",
        "status",
        {"endpoint": "token", "code": 200, "body": "<html>proxy login</html>"},
        "token.unexpected",
    ),
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
    status, document = doctor(
        tmp_path, generic(idp.issuer("generic")), idp, "--base-url", BASE_URL.replace("https://", "http://")
    )
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


# --- client ID and secret: doctor authenticates as the backend does, with a made-up code --------------------

#: A value shaped like what Entra ID shows as a client secret's *Secret ID* (a GUID), not its Value.
SECRET_ID = "6b1f3c2e-9a4d-4f8e-b7c5-2d0e1a3f4b5c"
WRONG_SECRET = "wrong-secret-value-7Hq~Lm"
#: profile -> configuration(idp, key, secret) of the backend doctor probes.
PROFILE_CONFIGS = {
    "generic": lambda idp, key, secret: generic(idp.issuer("generic"), key, secret),
    "keycloak": lambda idp, key, secret: generic(idp.issuer("keycloak"), key, secret),
    "okta-org": lambda idp, key, secret: okta(idp, None, key, secret),
    "okta-custom": lambda idp, key, secret: okta(idp, "default", key, secret),
    "entra-v1": lambda idp, key, secret: entra(idp, key=key, secret=secret),
    "entra-v2": lambda idp, key, secret: entra(idp, "AzureADOAuth2V2", key=key, secret=secret),
}
#: What each profile's provider says, as the finding code doctor gives: (wrong secret, expired secret,
#: Secret ID, unknown client ID). Entra and Okta tell an unknown client apart; Keycloak and a generic
#: provider only refuse "the client or its credentials"; Okta has no expired state (a deactivated
#: secret is refused like a wrong one).
EXPECTED = {
    "generic": ("credentials.rejected", "credentials.expired_secret", "credentials.rejected", "credentials.rejected"),
    "keycloak": ("credentials.rejected", "credentials.rejected", "credentials.rejected", "credentials.rejected"),
    "okta-org": ("credentials.rejected", "credentials.rejected", "credentials.rejected", "credentials.unknown_client"),
    "okta-custom": (
        "credentials.rejected",
        "credentials.rejected",
        "credentials.rejected",
        "credentials.unknown_client",
    ),
    "entra-v1": (
        "credentials.invalid_secret",
        "credentials.expired_secret",
        "credentials.invalid_secret",
        "credentials.unknown_client",
    ),
    "entra-v2": (
        "credentials.invalid_secret",
        "credentials.expired_secret",
        "credentials.invalid_secret",
        "credentials.unknown_client",
    ),
}


def doctor_run(tmp_path: Path, text: str, idp, *secrets: str) -> tuple[int, dict, str]:
    """doctor --json and the human output; neither may contain a configured secret."""
    status, document = doctor(tmp_path, text, idp)
    human = CliRunner().invoke(
        main,
        [
            "doctor",
            "--config",
            str(tmp_path / "configuration.py"),
            "--timeout",
            "1.5",
            "--ca-bundle",
            idp.ca_bundle,
            "--base-url",
            BASE_URL,
        ],
    )
    assert human.exit_code == status
    for secret in secrets:
        assert secret not in json.dumps(document) and secret not in human.output
    return status, document, human.output


@pytest.mark.parametrize("profile", PROFILE_CONFIGS)
def test_right_client_id_and_secret_say_credentials_ok(tmp_path, idp, profile):
    status, document, human = doctor_run(tmp_path, PROFILE_CONFIGS[profile](idp, CLIENT, SECRET), idp, SECRET)
    assert status == 0, document["findings"]
    [backend] = document["backends"]
    assert backend["probes"]["credentials"] == "ok"
    ok = finding(document, "credentials.ok")
    assert ok["severity"] == "info" and ok["problem"].startswith("credentials ok") and "invalid_grant" in ok["problem"]
    assert "credentials ok" in human


@pytest.mark.parametrize("profile", PROFILE_CONFIGS)
@pytest.mark.parametrize(
    ("case", "index"), [("wrong-secret", 0), ("expired-secret", 1), ("secret-id", 2), ("unknown-client", 3)]
)
def test_bad_credentials_name_the_setting_and_fail(tmp_path, idp, profile, case, index):
    key, secret = {
        "wrong-secret": (CLIENT, WRONG_SECRET),
        "expired-secret": (EXPIRED_CLIENT, SECRET),
        "secret-id": (CLIENT, SECRET_ID),
        "unknown-client": ("netbox-nobody", SECRET),
    }[case]
    status, document, human = doctor_run(tmp_path, PROFILE_CONFIGS[profile](idp, key, secret), idp, secret)
    assert status == 2
    [backend] = document["backends"]
    assert backend["probes"]["credentials"] == "failed" and backend["probes"]["token"] == "ok"
    code = EXPECTED[profile][index]
    found = finding(document, code)
    assert found["severity"] == "error" and found["backend"] == backend["backend"] and found["fix"]
    assert found["setting"].endswith("_KEY" if code == "credentials.unknown_client" else "_SECRET")
    assert "credentials.ok" not in codes(document)
    assert code in human and "credentials failed" in human
    if case == "secret-id" and profile.startswith("entra"):
        assert "copy the secret's Value, not the Secret ID" in found["fix"]
    else:
        assert "shaped like a GUID" not in found["fix"]
    if case == "unknown-client" and code != "credentials.unknown_client":
        # Keycloak and generic providers refuse "the client or its credentials": the authorize probe names the ID.
        assert "netbox-nobody" in finding(document, "authorize.invalid_client")["problem"]


def test_entra_answers_are_quoted_with_their_aadsts_codes(tmp_path, idp):
    _, document, _ = doctor_run(tmp_path, entra(idp, key=EXPIRED_CLIENT), idp, SECRET)
    assert "AADSTS7000222" in finding(document, "credentials.expired_secret")["problem"]
    _, document, _ = doctor_run(tmp_path, entra(idp, key="netbox-nobody"), idp, SECRET)
    assert "AADSTS700016" in finding(document, "credentials.unknown_client")["problem"]


@pytest.mark.parametrize(
    ("method", "sent"), [("client_secret_post", "client_secret_post"), ("client_secret_basic", "client_secret_basic")]
)
def test_configured_token_endpoint_auth_method_is_the_one_probed(tmp_path, idp, method, sent):
    text = generic(idp.issuer("generic")) + f"SOCIAL_AUTH_OIDC_TOKEN_ENDPOINT_AUTH_METHOD = {method!r}\n"
    status, document, _ = doctor_run(tmp_path, text, idp, SECRET)
    assert status == 0 and f"sent as {sent}" in finding(document, "credentials.ok")["problem"]


def test_auth_method_the_backend_cannot_use_is_a_warning(tmp_path, idp):
    text = generic(idp.issuer("generic")) + "SOCIAL_AUTH_OIDC_TOKEN_ENDPOINT_AUTH_METHOD = 'private_key_jwt'\n"
    status, document, _ = doctor_run(tmp_path, text, idp, SECRET)
    assert status == 1
    assert "client_secret_post" in finding(document, "credentials.auth_method")["problem"]
    assert "sent as client_secret_post" in finding(document, "credentials.ok")["problem"]


def test_secret_with_trailing_whitespace_is_pointed_out(tmp_path, idp):
    status, document, _ = doctor_run(tmp_path, generic(idp.issuer("generic"), secret=SECRET + "\n"), idp, SECRET)
    assert status == 2 and "trailing whitespace" in finding(document, "credentials.rejected")["fix"]


def test_token_endpoint_that_is_no_oauth_endpoint_is_inconclusive_never_ok(tmp_path, idp):
    idp.set_fault("status", profile="generic", endpoint="token", code=403, body="forbidden by proxy")
    status, document, _ = doctor_run(tmp_path, generic(idp.issuer("generic")), idp, SECRET)
    assert status == 1 and document["backends"][0]["probes"]["credentials"] == "inconclusive"
    assert "credentials.ok" not in codes(document) and "token.unexpected" in codes(document)


# --- the same on a real NetBox: the status page's "Run doctor now" ------------------------------------------


def signed_in_admin(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{url}/login/",
        timeout=30,
        headers={"Referer": f"{url}/login/"},
        data={"csrfmiddlewaretoken": token, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "next": "/"},
    )
    assert answer.ok and "/login/" not in answer.url, answer.url
    return session


def test_run_doctor_now_on_the_status_page_shows_what_the_cli_shows(netbox_factory, idp):
    # Two backends as an administrator pastes them: generic OIDC with a wrong secret, Okta with the right one.
    config = (
        reference_block(
            "generic_oidc", client_id=CLIENT_ID, client_secret=WRONG_SECRET, provider_domain=idp_domain(idp)
        )
        + okta_block(idp)
        + "\nREMOTE_AUTH_BACKEND = ['social_core.backends.open_id_connect.OpenIdConnectAuth',\n"
        "                       'social_core.backends.okta_openidconnect.OktaOpenIdConnect']\n"
    )
    netbox = netbox_factory(config)
    admin = signed_in_admin(netbox.url)
    status_url = f"{netbox.url}/plugins/sso/status/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', admin.get(status_url, timeout=30).text).group(1)
    ran = admin.post(status_url, data={"csrfmiddlewaretoken": token}, headers={"Referer": status_url}, timeout=120)
    assert ran.ok and ran.url == status_url
    page = ran.text
    shown = set(re.findall(r"<td><code>([a-z-]+)</code></td>\s*<td><code>(credentials\.[a-z_]+)</code></td>", page))
    assert shown == {("oidc", "credentials.rejected"), ("okta-openidconnect", "credentials.ok")}, shown
    assert "SOCIAL_AUTH_OIDC_SECRET" in page and "credentials ok" in page
    assert "credentials failed" in page and "credentials ok" in page  # the per-backend probe badges
    assert WRONG_SECRET not in page and CLIENT_SECRET not in page

    # The CLI on NetBox's own configuration.py, with the same public URL, says the same.
    result = CliRunner().invoke(
        main,
        [
            "doctor",
            "--config",
            str(netbox.config_path),
            "--json",
            "--timeout",
            "5",
            "--ca-bundle",
            idp.ca_bundle,
            "--base-url",
            netbox.url,
        ],
    )
    document = json.loads(result.output)
    assert result.exit_code == 2
    assert {(f["backend"], f["code"]) for f in document["findings"] if f["code"].startswith("credentials.")} == shown
    assert WRONG_SECRET not in result.output and CLIENT_SECRET not in result.output
