"""devidp's control API answers only loopback hosts and same-origin callers (no DNS rebinding, no CSRF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(SAMPLE_USERS_FILE), profiles=("generic",), state_dir=tmp_path_factory.mktemp("devidp")
    )
    server.start()
    yield server
    server.stop()


def control(idp: DevIdP, **headers: str) -> requests.Response:
    return requests.post(
        f"{idp.base_url}/_devidp/faults",
        json={"name": "status", "code": 503, "endpoint": "jwks"},
        headers=headers,
        timeout=10,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": f"rebound.example:{9000}"},
        {"Origin": "https://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another local site
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_browser_requests_from_other_sites_are_refused(idp, headers):
    answer = control(idp, **headers)
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert requests.get(f"{idp.base_url}/_devidp/faults", timeout=10).json()["faults"] == []


def test_scripts_and_same_origin_pages_may_use_it(idp):
    try:
        assert control(idp).status_code == 200
        assert control(idp, Origin=idp.base_url, **{"Sec-Fetch-Site": "same-origin"}).status_code == 200
        assert control(idp, Host=f"localhost:{idp.port}").status_code == 200
    finally:
        idp.clear_faults()
