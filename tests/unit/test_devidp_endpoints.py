"""devidp's endpoint table: every endpoint method is reachable through it, and nothing else is."""

from __future__ import annotations

from netbox_sso.devidp.server import ENDPOINTS, DevIdP


def test_the_endpoint_table_names_every_endpoint_method_of_devidp():
    methods = {name for name in dir(DevIdP) if name.startswith("_ep_")}
    assert set(ENDPOINTS.values()) == methods
    assert all(callable(getattr(DevIdP, method)) for method in ENDPOINTS.values())
