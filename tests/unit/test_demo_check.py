"""The demo never starts NetBox on a configuration that `netbox-sso check` rejects."""

from __future__ import annotations

import pytest

from netbox_sso.devstack.demo import demo_configuration, refuse_unless_check_passes

BASE = "ALLOWED_HOSTS = ['*']\nSECRET_KEY = 'x' * 50\nPLUGINS = ['netbox_sso']\n"


def test_the_demo_configuration_passes(tmp_path):
    path = tmp_path / "configuration.py"
    path.write_text(BASE + demo_configuration("http://127.0.0.1:9000/generic"))
    said: list[str] = []
    refuse_unless_check_passes(path, said.append)
    assert said == [f"check: {path} passes netbox-sso check"]


def test_a_rejected_configuration_is_not_applied(tmp_path):
    path = tmp_path / "configuration.py"
    broken = demo_configuration("http://127.0.0.1:9000/generic").replace("OpenIdConnectAuth", "OpenIDConnectAuth")
    path.write_text(BASE + broken)
    said: list[str] = []
    with pytest.raises(SystemExit, match="rejects"):
        refuse_unless_check_passes(path, said.append)
    assert any("backend.unknown" in line for line in said)
