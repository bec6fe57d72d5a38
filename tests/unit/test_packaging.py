"""What the wheel carries: the plugin, the CLI and devidp; not the demo/test stack."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_the_plugin_and_devidp_but_not_devstack():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(where=str(ROOT / find["where"][0]), exclude=find.get("exclude", ())))
    assert {
        "netbox_sso",
        "netbox_sso.core.rules",
        "netbox_sso.diagnostics.checks",
        "netbox_sso.devidp",
        "netbox_sso.cli",
    } <= packages
    assert not {name for name in packages if name.startswith("netbox_sso.devstack")}
