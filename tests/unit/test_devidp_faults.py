"""devidp faults, key rotation and TLS, observed the way a relying party sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from click.testing import CliRunner

from netbox_sso.cli import main
from netbox_sso.devidp import DevIdP
from netbox_sso.devidp.rp import RelyingParty

REDIRECT = "http://127.0.0.1:9/cb"
USERS = [{"username": "alice", "claims": {"email": "alice@example.com", "groups": ["admins"]}}]


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(users=USERS, state_dir=tmp_path_factory.mktemp("devidp"))
    server.start()
    server.register_client("rp", "secret", redirect_uris=[REDIRECT])
    yield server
    server.stop()


@pytest.fixture
def rp(idp: DevIdP) -> Iterator[RelyingParty]:
    idp.clear_faults()
    yield RelyingParty(idp.discovery_url("generic"), "rp", "secret", REDIRECT)
    idp.clear_faults()


def raw_id_token(rp: RelyingParty) -> str:
    return rp.code_flow("alice", verify=False).tokens["id_token"]


def test_rotation_publishes_old_and_new_kid(idp: DevIdP, rp: RelyingParty) -> None:
    before = raw_id_token(rp)
    old_kid = jwt.get_unverified_header(before)["kid"]
    new_kid = idp.rotate_keys("generic")["generic"]
    kids = {k.key_id for k in rp.jwks().keys}
    assert {old_kid, new_kid} <= kids
    after = raw_id_token(rp)
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    rp.verify_id_token(before)  # still verifiable during the grace period
    rp.verify_id_token(after)
    idp.rotate_keys(drop_previous=True)
    assert len(rp.jwks().keys) == 1
    with pytest.raises(jwt.InvalidTokenError):
        rp.verify_id_token(after)


def test_keys_persist_in_state_dir(tmp_path: Path) -> None:
    first = DevIdP(users=USERS, state_dir=tmp_path)
    kid = first.keys["generic"].kid
    assert DevIdP(users=USERS, state_dir=tmp_path).keys["generic"].kid == kid


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("none", jwt.InvalidTokenError),
        ("hs256_with_public_key", jwt.InvalidTokenError),
        ("wrong_key", jwt.InvalidSignatureError),
        ("no_kid", jwt.InvalidTokenError),
    ],
)
def test_sign_faults_are_rejected_by_a_relying_party(idp: DevIdP, rp: RelyingParty, mode: str, error: type) -> None:
    idp.set_fault("sign", mode=mode)
    token = raw_id_token(rp)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == {"none": "none", "hs256_with_public_key": "HS256"}.get(mode, "RS256")
    assert ("kid" in header) == (mode not in ("none", "no_kid"))
    with pytest.raises(error):
        rp.verify_id_token(token)


def test_id_token_claim_overrides_and_removal(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("id_token_claims", claims={"iss": "https://evil.example", "nonce": None, "aud": ["rp", "other"]})
    claims = jwt.decode(raw_id_token(rp), options={"verify_signature": False})
    assert claims["iss"] == "https://evil.example" and "nonce" not in claims and claims["aud"] == ["rp", "other"]


def test_clock_offset_shifts_token_times(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("clock_offset", seconds=300)
    claims = jwt.decode(raw_id_token(rp), options={"verify_signature": False})
    assert claims["iat"] >= time.time() + 290
    with pytest.raises(jwt.ImmatureSignatureError):
        rp.verify_id_token(raw_id_token(rp))


def test_userinfo_and_oversized_claims(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("userinfo_claims", claims={"sub": None, "email": "evil@example.com"})
    idp.set_fault("oversized_claim", name="given_name", length=100_000, target="userinfo")
    tokens = rp.code_flow("alice").tokens
    info = rp.http.get(rp.config["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    body = info.json()
    assert "sub" not in body and body["email"] == "evil@example.com" and len(body["given_name"]) == 100_000


def test_discovery_overrides_and_malformed_json(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("discovery_overrides", values={"issuer": "https://wrong.example", "jwks_uri": None})
    doc = requests.get(rp.discovery_url, timeout=5).json()
    assert doc["issuer"] == "https://wrong.example" and "jwks_uri" not in doc
    idp.set_fault("malformed_json", endpoint="discovery")
    with pytest.raises(ValueError):
        requests.get(rp.discovery_url, timeout=5).json()


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("empty", lambda r: r.json() == {"keys": []}),
        ("no_keys_field", lambda r: "keys" not in r.json()),
        ("malformed", lambda r: r.status_code == 200 and r.text.startswith('{"keys"')),
    ],
)
def test_jwks_faults(idp: DevIdP, rp: RelyingParty, mode: str, check: object) -> None:
    idp.set_fault("jwks", mode=mode)
    resp = requests.get(rp.config["jwks_uri"], timeout=5)
    assert check(resp)  # type: ignore[operator]


def test_status_delay_drop_and_times(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("status", code=503, endpoint="token", times=1)
    url, verifier = rp.authorize_url()
    code = rp.callback_params(rp.sign_in(url, "alice"))["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    assert rp.token(data).status_code == 503
    assert rp.token(data).status_code == 200  # `times=1` used up; the code was not consumed by the fault
    idp.set_fault("delay", seconds=0.3, endpoint="jwks")
    start = time.monotonic()
    requests.get(rp.config["jwks_uri"], timeout=5)
    assert time.monotonic() - start >= 0.3
    with pytest.raises(requests.Timeout):
        requests.get(rp.config["jwks_uri"], timeout=0.1)
    idp.set_fault("drop_connection", endpoint="userinfo")
    with pytest.raises(requests.ConnectionError):
        requests.get(rp.config["userinfo_endpoint"], timeout=5)


def test_token_response_and_access_token_overrides(idp: DevIdP, rp: RelyingParty) -> None:
    idp.set_fault("token_response", values={"id_token": None, "token_type": "mac"})
    idp.set_fault("access_token_claims", claims={"aud": "someone-else"})
    tokens = rp.code_flow("alice").tokens
    assert "id_token" not in tokens and tokens["token_type"] == "mac"
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["aud"] == "someone-else"


def test_fault_validation(idp: DevIdP) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        idp.set_fault("gremlins")
    with pytest.raises(ValueError, match="mode"):
        idp.set_fault("sign", mode="rot13")
    with pytest.raises(ValueError, match="missing"):
        idp.set_fault("delay")


def test_tls_with_local_ca(tmp_path: Path) -> None:
    with DevIdP(users=USERS, tls=True, state_dir=tmp_path) as server:
        server.register_client("rp", "secret", redirect_uris=[REDIRECT])
        assert server.base_url.startswith("https://127.0.0.1:")
        ca = server.ca_bundle
        assert ca is not None and Path(ca).read_text().startswith("-----BEGIN CERTIFICATE-----")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.discovery_url("generic"), timeout=5, verify=True)
        rp = RelyingParty(server.discovery_url("generic"), "rp", "secret", REDIRECT, verify=ca)
        assert rp.code_flow("alice").id_claims["iss"] == server.issuer("generic")
    cert = (tmp_path / "tls" / "server.pem").read_bytes()
    with DevIdP(users=USERS, tls=True, state_dir=tmp_path) as again:  # reused, not regenerated
        assert (tmp_path / "tls" / "server.pem").read_bytes() == cert
        assert requests.get(again.discovery_url("generic"), timeout=5, verify=again.ca_bundle).ok


def test_cli_refuses_non_loopback_host() -> None:
    result = CliRunner().invoke(main, ["devidp", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code != 0 and "allow-non-loopback" in result.output
    with pytest.raises(ValueError, match="loopback"):
        DevIdP(host="0.0.0.0")
