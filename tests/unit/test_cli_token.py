"""`netbox-sso token`: the device authorization grant against devidp, the token cache, the refusals."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner

from netbox_sso.cli import main
from netbox_sso.cli.token import DeviceRequest, TokenError, device_flow, read_cached, write_cached
from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE),
        profiles=("generic",),
        tls=True,
        state_dir=tmp_path_factory.mktemp("devidp"),
    )
    server.start()
    server.register_client("netbox-cli", None)
    server.device_interval = 0
    yield server
    server.stop()


def request_for(idp: DevIdP, **changes) -> DeviceRequest:
    values = {
        "issuer": idp.issuer("generic"),
        "client_id": "netbox-cli",
        "scope": "openid netbox.read",
        "resource": "netbox-api",
        "verify": idp.ca_bundle or True,
    }
    values.update(changes)
    return DeviceRequest(**values)


def test_device_flow_waits_for_approval_and_returns_the_access_token(idp: DevIdP) -> None:
    shown: list[dict] = []
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the person approves while the tool waits
        polls.append(seconds)
        assert idp.approve_device(shown[0]["user_code"], "alice") is None

    tokens = device_flow(request_for(idp), prompt=shown.append, sleep=sleep)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "netbox-api" and claims["client_id"] == "netbox-cli"
    assert claims["scope"] == "openid netbox.read" and polls == [0.0]
    assert shown[0]["verification_uri_complete"].endswith(shown[0]["user_code"])


def test_a_denied_code_is_a_clear_error(idp: DevIdP) -> None:
    def deny(body: dict) -> None:
        record = idp.device_codes.pending(body["user_code"])
        assert record is not None
        idp.device_codes.decide(record, None)

    with pytest.raises(TokenError, match="access_denied"):
        device_flow(request_for(idp), prompt=deny, sleep=lambda _s: None)


def test_an_unknown_client_is_a_clear_error(idp: DevIdP) -> None:
    with pytest.raises(TokenError, match="device authorization refused: invalid_client"):
        device_flow(request_for(idp, client_id="nobody"), prompt=lambda _b: None)


def test_a_plain_http_issuer_off_loopback_is_refused() -> None:
    with pytest.raises(Exception, match="not an https URL"):
        device_flow(DeviceRequest("http://idp.example.com", "cli", "openid"), prompt=lambda _b: None)


def test_cache_is_private_reused_while_fresh_and_forgets_expired_tokens(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    write_cached(path, "k", {"access_token": "tok", "expires_at": 1000.0, "refresh_token": "never"}, 0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "never" not in path.read_text()
    assert read_cached(path, "k", 900) == "tok"
    assert read_cached(path, "k", 950) is None  # less than a minute left
    write_cached(path, "other", {"access_token": "t2", "expires_at": 5000.0}, 2000)
    assert set(json.loads(path.read_text())) == {"other"}


def test_the_command_prints_the_token_on_stdout_and_the_code_on_stderr(
    idp: DevIdP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netbox_sso.cli import token as module

    show = module._show

    def show_and_approve(body: dict) -> None:  # the person approves as soon as the code is shown
        show(body)
        assert idp.approve_device(body["user_code"], "bob") is None

    monkeypatch.setattr(module, "_show", show_and_approve)
    runner = CliRunner()
    args = [
        "token",
        "--issuer",
        idp.issuer("generic"),
        "--client-id",
        "netbox-cli",
        "--resource",
        "netbox-api",
        "--ca-bundle",
        str(idp.ca_bundle),
        "--cache",
        str(tmp_path / "tokens.json"),
    ]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "netbox-api"
    assert "confirm the code" in first.stderr
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and again.stdout.strip() == token and again.stderr == ""
