"""The client address of audit events and throttles is never the caller's choice (netbox_sso.audit)."""

from __future__ import annotations

from ipaddress import ip_network
from types import SimpleNamespace

import pytest

from netbox_sso import audit
from netbox_sso.core.settings_schema import Invalid, ip_networks

NETBOX_HEADERS = ("HTTP_X_REAL_IP", "HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")


@pytest.fixture()
def proxies(monkeypatch):
    def trust(*networks: str, headers: tuple[str, ...] = NETBOX_HEADERS) -> None:
        monkeypatch.setattr(audit, "_trusted_proxies", lambda: tuple(ip_network(n) for n in networks))
        monkeypatch.setattr("django.conf.settings", SimpleNamespace(HTTP_CLIENT_IP_HEADERS=headers))

    return trust


def request(peer: str, **headers: str) -> SimpleNamespace:
    return SimpleNamespace(META={"REMOTE_ADDR": peer, **headers})


def test_without_trusted_proxies_forwarded_headers_are_ignored(proxies):
    proxies()
    forged = request("198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_REAL_IP="203.0.113.10")
    assert audit.client_address(forged) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(proxies):
    proxies("10.0.0.0/8", headers=("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"))
    # The client wrote "192.0.2.66" itself; the proxies appended the address they saw.
    chain = request("10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.66, 203.0.113.9, 10.0.0.1")
    assert audit.client_address(chain) == "203.0.113.9"
    rotated = request("10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.67, 203.0.113.9:5000, 10.0.0.1")
    assert audit.client_address(rotated) == "203.0.113.9"


def test_a_request_not_from_a_trusted_proxy_keeps_its_peer_address(proxies):
    proxies("10.0.0.0/8")
    assert audit.client_address(request("203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.3")) == "203.0.113.9"


def test_netbox_header_order_and_unreadable_entries(proxies):
    proxies("10.0.0.0/8", "2001:db8::/32")
    assert (
        audit.client_address(request("10.0.0.2", HTTP_X_REAL_IP="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.1"))
        == "203.0.113.5"
    )
    assert (
        audit.client_address(request("2001:db8::2", HTTP_X_FORWARDED_FOR="[2001:db8:1::9]:443, nonsense"))
        == "2001:db8::2"
    )
    assert audit.client_address(request("10.0.0.2")) == "10.0.0.2"


def test_trusted_proxies_setting_must_name_addresses_or_networks():
    assert ip_networks(["10.0.0.5", "192.0.2.0/28"]) == (ip_network("10.0.0.5/32"), ip_network("192.0.2.0/28"))
    with pytest.raises(Invalid, match=r"'proxy\.example' is not an IP address"):
        ip_networks(["proxy.example"])
