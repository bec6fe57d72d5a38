"""Endpoint forms administrators paste, normalised (netbox_sso.core.endpoints)."""

from __future__ import annotations

import pytest

from netbox_sso.core import endpoints as e


@pytest.mark.parametrize(
    "pasted",
    [
        "https://idp.example/realms/x",
        "https://idp.example/realms/x/",
        "https://idp.example/realms/x/.well-known/openid-configuration",
        "https://idp.example/realms/x/.well-known/openid-configuration/",
        "  https://idp.example/realms/x//  ",
    ],
)
def test_issuer_from_every_form(pasted):
    assert e.normalize_oidc_endpoint(pasted) == "https://idp.example/realms/x"
    assert e.discovery_url(pasted) == "https://idp.example/realms/x/.well-known/openid-configuration"


@pytest.mark.parametrize(
    ("api_url", "issuer"),
    [
        ("https://org.okta.com/oauth2/", "https://org.okta.com"),
        ("https://org.okta.com/oauth2", "https://org.okta.com"),
        ("https://org.okta.com/oauth2/default/", "https://org.okta.com/oauth2/default"),
        ("https://org.okta.com/oauth2/aus123", "https://org.okta.com/oauth2/aus123"),
    ],
)
def test_okta_issuer(api_url, issuer):
    assert e.okta_issuer(api_url) == issuer


def test_entra_urls():
    assert e.entra_base_url("login.microsoftonline.com", "tid-1") == "https://login.microsoftonline.com/tid-1"
    assert e.entra_base_url("https://127.0.0.1:9000/entra/", "/tid-1/") == "https://127.0.0.1:9000/entra/tid-1"
    assert (
        e.entra_discovery_url("login.microsoftonline.com", "t", v2=False)
        == "https://login.microsoftonline.com/t/.well-known/openid-configuration"
    )
    assert (
        e.entra_discovery_url("login.microsoftonline.com", "t", v2=True)
        == "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"
    )
