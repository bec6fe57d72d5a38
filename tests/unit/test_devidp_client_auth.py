"""devidp's token endpoint refuses client credentials in each provider's own words (Entra's AADSTS codes and
error_codes, Okta's API error format for an unknown client, Keycloak's "Invalid client or Invalid client
credentials"), answers a code it never issued as each provider does, and can play an expired secret."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from netbox_sso.devidp import DevIdP

REDIRECT = "http://127.0.0.1:9/cb"
SECRET = "right-secret"
PROFILES = ("generic", "keycloak", "okta", "entra", "authentik")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(profiles=PROFILES, state_dir=tmp_path_factory.mktemp("devidp"))
    server.start()
    server.register_client("rp", SECRET, redirect_uris=[REDIRECT])
    server.register_client("old", SECRET, redirect_uris=[REDIRECT], secret_expired=True)
    server.register_client("okta-only", SECRET, redirect_uris=[REDIRECT], profiles=["okta"])
    yield server
    server.stop()


def token_url(idp: DevIdP, profile: str) -> str:
    if profile == "entra":
        return idp.profile("entra").url("token", {"tenant": idp.profile("entra").home_tenant_id})
    return idp.profile(profile).url("token")


def exchange(
    idp: DevIdP, profile: str, client_id: str | None, secret: str | None, *, basic: bool = False, code: str = "made-up"
) -> requests.Response:
    data: dict[str, Any] = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    auth = None
    if basic and client_id is not None:
        auth = (client_id, secret or "")
    else:
        data.update({k: v for k, v in (("client_id", client_id), ("client_secret", secret)) if v is not None})
    return requests.post(token_url(idp, profile), data=data, auth=auth, timeout=10)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("basic", [False, True], ids=["client_secret_post", "client_secret_basic"])
def test_right_credentials_with_a_made_up_code_get_invalid_grant(idp, profile, basic):
    answer = exchange(idp, profile, "rp", SECRET, basic=basic)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_made_up_code_answers_per_provider(idp):
    assert exchange(idp, "generic", "rp", SECRET).json()["error_description"] == "unknown authorization code"
    assert exchange(idp, "keycloak", "rp", SECRET).json()["error_description"] == "Code not valid"
    assert exchange(idp, "okta", "rp", SECRET).json()["error_description"] == (
        "The authorization code is invalid or has expired."
    )
    entra = exchange(idp, "entra", "rp", SECRET).json()
    assert entra["error_codes"] == [9002313]
    assert entra["error_description"].startswith("AADSTS9002313: Invalid request. Request is malformed or invalid.")


def test_entra_answers_with_aadsts_codes_and_its_error_format(idp):
    wrong = exchange(idp, "entra", "rp", "nope")
    body = wrong.json()
    assert wrong.status_code == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret "
        "being sent in the request is the client secret value, not the "
        "client secret ID, for a secret added to app 'rp'.\r\nTrace ID: "
    )
    assert re.search(
        r"\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", body["error_description"]
    )
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"

    expired = exchange(idp, "entra", "old", SECRET, basic=True)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_client"
    assert expired.json()["error_codes"] == [7000222]
    assert (
        "AADSTS7000222: The provided client secret keys for app 'old' are expired."
        in (expired.json()["error_description"])
    )

    unknown = exchange(idp, "entra", "nobody", SECRET)
    assert unknown.status_code == 400 and unknown.json()["error"] == "unauthorized_client"
    assert unknown.json()["error_codes"] == [700016]
    assert (
        "Application with identifier 'nobody' was not found in the directory 'contoso'"
        in (unknown.json()["error_description"])
    )

    missing = exchange(idp, "entra", "rp", None)
    assert missing.status_code == 401 and missing.json()["error_codes"] == [7000218]


def test_okta_answers_an_unknown_client_in_its_api_error_format(idp):
    unknown = exchange(idp, "okta", "nobody", SECRET)
    assert unknown.status_code == 401
    body = unknown.json()
    assert body["errorCode"] == "invalid_client" and body["errorSummary"] == "Invalid value for 'client_id' parameter."
    assert body["errorId"].startswith("oae") and body["errorCauses"] == [] and "error" not in body
    wrong = exchange(idp, "okta", "rp", "nope", basic=True)
    assert wrong.status_code == 401 and wrong.json() == {
        "error": "invalid_client",
        "error_description": "The client secret supplied for a confidential client is invalid.",
    }
    # Okta secrets do not expire; a deactivated one is refused like a wrong one.
    assert exchange(idp, "okta", "old", SECRET).json()["error_description"] == wrong.json()["error_description"]
    assert exchange(idp, "okta", "rp", None).json()["error_description"] == "No client credentials found."


def test_keycloak_answers_invalid_client_credentials(idp):
    wrong = exchange(idp, "keycloak", "rp", "nope")
    assert wrong.status_code == 401 and wrong.json() == {
        "error": "unauthorized_client",
        "error_description": "Invalid client or Invalid client credentials",
    }
    unknown = exchange(idp, "keycloak", "nobody", SECRET, basic=True)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    assert exchange(idp, "keycloak", "rp", None).json()["error_description"] == "Client secret not provided in request"


def test_authentik_answers_rfc_6749_descriptions_with_http_400(idp):
    for client_id, secret in (("rp", "nope"), ("nobody", SECRET)):
        answer = exchange(idp, "authentik", client_id, secret)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"
        assert answer.json()["error_description"].startswith("Client authentication failed (e.g., unknown client")
    assert (
        exchange(idp, "authentik", "rp", SECRET)
        .json()["error_description"]
        .startswith("The provided authorization grant or refresh token is invalid")
    )


def test_generic_answers_rfc_6749_invalid_client_with_a_basic_challenge(idp):
    for client_id, secret in (("rp", "nope"), ("nobody", SECRET), ("old", SECRET)):
        answer = exchange(idp, "generic", client_id, secret, basic=True)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert "expired" in exchange(idp, "generic", "old", SECRET).json()["error_description"]


def test_client_registered_for_other_profiles_is_unknown_here(idp):
    assert exchange(idp, "okta", "okta-only", SECRET).json()["error"] == "invalid_grant"
    assert exchange(idp, "entra", "okta-only", SECRET).json()["error_codes"] == [700016]


def test_expired_secret_is_set_through_the_control_api(idp):
    answer = requests.post(
        f"{idp.base_url}/_devidp/clients",
        timeout=10,
        json={"client_id": "rotated", "client_secret": SECRET, "redirect_uris": [REDIRECT], "secret_expired": True},
    )
    assert answer.ok
    assert exchange(idp, "entra", "rotated", SECRET).json()["error_codes"] == [7000222]
