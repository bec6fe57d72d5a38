"""Doctor's client-credentials probe, the pure parts: which client authentication the backend sends, how a
token endpoint's answer to a made-up code is read, and the findings (never with a secret in them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from social_core.backends.azuread import AzureADOAuth2
from social_core.backends.okta_openidconnect import OktaOpenIdConnect
from social_core.backends.open_id_connect import OpenIdConnectAuth

from netbox_sso.diagnostics.credentials import (
    ASSERTION_TYPE,
    MADE_UP_CODE,
    ClientAuth,
    classify,
    client_auth,
    looks_like_guid,
    token_request,
    verdict_findings,
)
from netbox_sso.diagnostics.findings import CODES
from netbox_sso.diagnostics.settings import NetBoxSettings
from netbox_sso.diagnostics.symptoms import RESOLUTION_ITEMS, SYMPTOMS

SECRET = "s3cr3t-Value~with.enough_chars"
OIDC = "social_core.backends.open_id_connect.OpenIdConnectAuth"
OKTA = "social_core.backends.okta_openidconnect.OktaOpenIdConnect"
ENTRA = "social_core.backends.azuread.AzureADOAuth2"
PREFIX = {OIDC: "SOCIAL_AUTH_OIDC_", OKTA: "SOCIAL_AUTH_OKTA_OPENIDCONNECT_", ENTRA: "SOCIAL_AUTH_AZUREAD_OAUTH2_"}


def settings_for(path: str, plugin: bool = True, **values: Any) -> NetBoxSettings:
    prefix = PREFIX[path]
    base = {"REMOTE_AUTH_BACKEND": path, f"{prefix}KEY": "client-1", f"{prefix}SECRET": SECRET}
    if plugin:
        base["PLUGINS"] = ["netbox_sso"]
    return NetBoxSettings(Path("configuration.py"), {**base, **{prefix + k: v for k, v in values.items()}})


def auth_for(path: str, discovery: dict | None = None, plugin: bool = True, **values: Any):
    settings = settings_for(path, plugin, **values)
    [backend] = settings.sso_backends()
    return client_auth(settings, backend, discovery or {}, environ={})


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


# --- the answer ------------------------------------------------------------------------------------------

ENTRA_TRAILER = "\r\nTrace ID: 1f0e\r\nCorrelation ID: 9a8b\r\nTimestamp: 2026-12-02 12:00:00Z"


@pytest.mark.parametrize(
    ("status", "answer", "outcome"),
    [
        # Entra ID: AADSTS codes in error_codes and at the start of the description
        (
            401,
            body(
                error="invalid_client",
                error_codes=[7000215],
                error_description="AADSTS7000215: Invalid client secret provided." + ENTRA_TRAILER,
            ),
            "invalid_secret",
        ),
        (
            401,
            body(
                error="invalid_client",
                error_codes=[7000222],
                error_description="AADSTS7000222: The provided client secret keys for app 'x' are expired.",
            ),
            "expired_secret",
        ),
        (
            400,
            body(
                error="unauthorized_client",
                error_codes=[700016],
                error_description="AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.",
            ),
            "unknown_client",
        ),
        (
            401,
            body(error="invalid_client", error_description="AADSTS7000215: Invalid client secret provided."),
            "invalid_secret",
        ),  # the code only in the description
        (
            400,
            body(
                error="invalid_grant",
                error_codes=[9002313],
                error_description="AADSTS9002313: Invalid request. Request is malformed or invalid.",
            ),
            "accepted",
        ),
        # Okta: an unknown client in its API error format, a wrong secret as an OAuth error
        (
            401,
            body(
                errorCode="invalid_client",
                errorSummary="Invalid value for 'client_id' parameter.",
                errorLink="invalid_client",
                errorId="oae1",
                errorCauses=[],
            ),
            "unknown_client",
        ),
        (
            401,
            body(
                error="invalid_client",
                error_description="The client secret supplied for a confidential client is invalid.",
            ),
            "rejected",
        ),
        (
            400,
            body(error="invalid_grant", error_description="The authorization code is invalid or has expired."),
            "accepted",
        ),
        # Keycloak
        (
            401,
            body(error="unauthorized_client", error_description="Invalid client or Invalid client credentials"),
            "rejected",
        ),
        (
            401,
            body(error="invalid_client", error_description="Invalid client or Invalid client credentials"),
            "rejected",
        ),
        (400, body(error="invalid_grant", error_description="Code not valid"), "accepted"),
        # RFC 6749 wording of an expired secret
        (401, body(error="invalid_client", error_description="client secret expired"), "expired_secret"),
        # anything else proves neither way
        (400, body(error="invalid_request", error_description="code_verifier required"), "inconclusive"),
        (400, body(error="unsupported_grant_type"), "inconclusive"),
        (401, body(message="Unauthorized"), "inconclusive"),
        (403, b"<html>forbidden by proxy</html>", "inconclusive"),
        (200, body(access_token="a", token_type="Bearer"), "inconclusive"),
        (200, body(error="invalid_grant"), "inconclusive"),
        (400, b"[]", "inconclusive"),
        (400, b"\xff\xfe", "inconclusive"),
    ],
)
def test_answers_are_read_as_the_providers_mean_them(status, answer, outcome):
    assert classify(status, answer).outcome == outcome


def test_verdict_keeps_the_first_line_and_the_codes():
    verdict = classify(
        401,
        body(
            error="invalid_client",
            error_codes=[7000215],
            error_description="AADSTS7000215: Invalid client secret provided." + ENTRA_TRAILER,
        ),
    )
    assert verdict.description == "AADSTS7000215: Invalid client secret provided."
    assert verdict.codes == (7000215,) and verdict.error == "invalid_client" and verdict.status == 401


def test_secret_id_is_recognised_by_its_guid_shape():
    assert looks_like_guid("6b1f3c2e-9a4d-4f8e-b7c5-2d0e1a3f4b5c")
    assert looks_like_guid(" 6B1F3C2E-9A4D-4F8E-B7C5-2D0E1A3F4B5C\n")
    assert not looks_like_guid("Xy8Q~abcdefghijklmnopqrstuvwxyz0123456789")
    assert not looks_like_guid("6b1f3c2e9a4d4f8eb7c52d0e1a3f4b5c")


# --- how the backend authenticates -----------------------------------------------------------------------


class FakeStrategy:
    """social-core's strategy.setting lookup: SOCIAL_AUTH_<BACKEND>_<NAME>, then SOCIAL_AUTH_<NAME>."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def request_data(self) -> dict[str, str]:
        return {}

    def absolute_uri(self, path: str | None = None) -> str | None:
        return path

    def setting(self, name: str, default: Any = None, backend: Any = None) -> Any:
        prefix = f"SOCIAL_AUTH_{backend.name.upper().replace('-', '_')}_"
        return self.values.get(prefix + name, self.values.get(f"SOCIAL_AUTH_{name}", default))


@pytest.mark.parametrize("cls", [OpenIdConnectAuth, OktaOpenIdConnect])
@pytest.mark.parametrize("configured", [None, "client_secret_basic", "client_secret_post", "private_key_jwt"])
@pytest.mark.parametrize(
    "advertised",
    [
        None,
        [],
        ["client_secret_post"],
        ["client_secret_basic"],
        ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    ],
)
def test_method_is_social_cores_choice(monkeypatch, cls, configured, advertised):
    path = f"{cls.__module__}.{cls.__name__}"
    values = {} if configured is None else {"TOKEN_ENDPOINT_AUTH_METHOD": configured}
    discovery = {} if advertised is None else {"token_endpoint_auth_methods_supported": advertised}
    auth, _ = auth_for(path, discovery, **values)
    backend = cls(FakeStrategy({PREFIX[path] + k: v for k, v in values.items()}))
    monkeypatch.setattr(backend, "oidc_config", lambda: discovery)
    assert (auth.method == "client_secret_basic") == backend.use_basic_auth()


def test_stock_entra_sends_the_secret_in_the_body_and_hardened_follows_discovery():
    stock, _ = auth_for(ENTRA, {"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, plugin=False)
    assert stock.method == "client_secret_post" and not AzureADOAuth2.USE_BASIC_AUTH
    assert stock.form == {"client_id": "client-1", "client_secret": SECRET} and stock.basic is None
    hardened, _ = auth_for(ENTRA, {"token_endpoint_auth_methods_supported": ["client_secret_basic"]})
    assert hardened.method == "client_secret_basic" and hardened.basic == ("client-1", SECRET)


def test_stock_entra_without_secret_sends_its_client_assertion(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.assertion.sig\n")
    settings = settings_for(ENTRA, plugin=False, SECRET="")
    [backend] = settings.sso_backends()
    auth, findings = client_auth(settings, backend, {}, environ={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    assert findings == [] and auth.method == "client_assertion" and auth.secret_setting == "AZURE_FEDERATED_TOKEN_FILE"
    assert auth.form["client_assertion"] == "eyJhbGciOiJSUzI1NiJ9.assertion.sig"
    assert auth.form["client_assertion_type"] == ASSERTION_TYPE
    assert "assertion.sig" not in repr(auth)
    auth, findings = client_auth(settings, backend, {}, environ={})
    assert auth is None and [f.code for f in findings] == ["setting.missing"]


def test_missing_key_or_secret_is_a_missing_setting():
    auth, [finding] = auth_for(OIDC, SECRET="")
    assert auth is None and (finding.code, finding.setting) == ("setting.missing", "SOCIAL_AUTH_OIDC_SECRET")
    auth, [finding] = auth_for(OIDC, KEY=" ")
    assert auth is None and finding.setting == "SOCIAL_AUTH_OIDC_KEY"


def test_method_the_backend_cannot_use_is_a_warning():
    auth, [warning] = auth_for(OIDC, TOKEN_ENDPOINT_AUTH_METHOD="private_key_jwt")
    assert auth.method == "client_secret_post"
    assert (warning.code, warning.severity) == ("credentials.auth_method", "warning")


def test_the_request_is_the_backends_code_exchange_with_a_made_up_code():
    auth, _ = auth_for(OIDC, TOKEN_ENDPOINT_AUTH_METHOD="client_secret_post")
    request = token_request(auth, "https://nb.example/oauth/complete/oidc/", pkce=True)
    assert request["data"]["code"] == MADE_UP_CODE and request["data"]["grant_type"] == "authorization_code"
    assert request["data"]["client_secret"] == SECRET and request["auth"] is None
    assert len(request["data"]["code_verifier"]) >= 43  # RFC 7636 4.1
    assert "code_verifier" not in token_request(auth, "https://nb.example/", pkce=False)["data"]
    assert SECRET not in repr(auth)


# --- findings --------------------------------------------------------------------------------------------


def findings_for(answer: bytes, status: int = 401, path: str = ENTRA, secret: str = SECRET):
    settings = settings_for(path, SECRET=secret)
    [backend] = settings.sso_backends()
    auth, _ = client_auth(settings, backend, {}, environ={})
    return verdict_findings(classify(status, answer), auth, backend, "https://idp.example/token")


def test_accepted_credentials_are_a_note_saying_credentials_ok():
    [ok] = findings_for(body(error="invalid_grant", error_description="Code not valid"), 400, OIDC)
    assert (ok.code, ok.severity) == ("credentials.ok", "info") and ok.problem.startswith("credentials ok")


def test_each_refusal_names_its_setting():
    [wrong] = findings_for(body(error="invalid_client", error_codes=[7000215]))
    assert (wrong.code, wrong.severity, wrong.setting) == (
        "credentials.invalid_secret",
        "error",
        "SOCIAL_AUTH_AZUREAD_OAUTH2_SECRET",
    )
    [expired] = findings_for(body(error="invalid_client", error_codes=[7000222]))
    assert (expired.code, expired.setting) == ("credentials.expired_secret", "SOCIAL_AUTH_AZUREAD_OAUTH2_SECRET")
    [unknown] = findings_for(body(error="unauthorized_client", error_codes=[700016]), 400)
    assert (unknown.code, unknown.setting) == ("credentials.unknown_client", "SOCIAL_AUTH_AZUREAD_OAUTH2_KEY")
    [either] = findings_for(body(error="unauthorized_client", error_description="Invalid client"), 401, OIDC)
    assert (either.code, either.setting) == ("credentials.rejected", "SOCIAL_AUTH_OIDC_SECRET")
    assert "SOCIAL_AUTH_OIDC_KEY" in either.fix
    [unsure] = findings_for(body(error="invalid_request"), 400, OIDC)
    assert (unsure.code, unsure.severity) == ("credentials.inconclusive", "warning")


def test_entra_secret_id_gets_the_value_not_secret_id_hint():
    guid = "6b1f3c2e-9a4d-4f8e-b7c5-2d0e1a3f4b5c"
    [finding] = findings_for(body(error="invalid_client", error_codes=[7000215]), secret=guid)
    assert "copy the secret's Value, not the Secret ID" in finding.fix
    [other] = findings_for(body(error="invalid_client", error_codes=[7000215]))
    assert "shaped like a GUID" not in other.fix
    [generic] = findings_for(body(error="invalid_client"), path=OIDC, secret=guid)
    assert "shaped like a GUID" not in generic.fix  # Keycloak's own secrets used to be GUIDs


def test_no_secret_ever_appears_in_a_finding_even_when_the_provider_echoes_it():
    echoed = body(error="invalid_client", error_description=f"client_secret '{SECRET}' is not valid for client-1")
    for answer, status in (
        (echoed, 401),
        (body(error="invalid_grant", error_description=SECRET), 400),
        (body(error="odd", error_description=SECRET), 400),
    ):
        for finding in findings_for(answer, status, OIDC):
            assert SECRET not in json.dumps(finding.to_dict()), finding
            assert "[redacted]" in finding.problem


def test_an_echoed_secret_cut_by_the_length_limit_leaves_no_part_of_it_in_a_finding():
    # The provider's description is quoted up to a length limit: cut before the secret is cut out, the
    # secret's first characters would survive (the whole secret no longer matches).
    for offset in range(280, 300):
        echoed = body(error="invalid_client", error_description="x" * offset + SECRET + " is not valid")
        [finding] = findings_for(echoed, 401, OIDC)
        text = json.dumps(finding.to_dict())
        assert SECRET[:6] not in text, (offset, finding.problem)


def test_short_values_are_not_cut_out_of_words():
    auth = ClientAuth("client_secret_post", "c", "K", "S", "r", hidden=("ab",))
    assert auth.redact("absent") == "absent"


# --- the Troubleshooting table -----------------------------------------------------------------------------

REFERENCE = Path("/work/shared/reference/netbox-enterprise-oidc.txt")


def test_troubleshooting_item_client_credentials_maps_to_the_credentials_findings():
    if REFERENCE.is_file():  # the reference's wording, when the manual is on this machine
        text = REFERENCE.read_text()
        section = text[text.index("\nNot Logged In After Authentication\n") : text.index("\nGroups Not Syncing\n")]
        assert "Client credentials: Verify client ID and secret are correct" in section
    item = RESOLUTION_ITEMS[("Not Logged In After Authentication", "Client credentials")]
    assert {
        "credentials.invalid_secret",
        "credentials.expired_secret",
        "credentials.unknown_client",
        "credentials.rejected",
        "credentials.inconclusive",
    } <= set(item)
    assert set(item) <= set(SYMPTOMS["Not Logged In After Authentication"])
    assert all(code in CODES for items in RESOLUTION_ITEMS.values() for code in items)
