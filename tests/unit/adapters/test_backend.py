"""The hardened OIDC backend over social-core's test strategy and a fake transport (no server)."""

from __future__ import annotations

import pytest

from netbox_sso.backends.oidc import OpenIdConnect
from netbox_sso.core import oidc_checks
from netbox_sso.core.errors import ConfigError

ISSUER = "https://idp.example/realms/netbox"
DISCOVERY_URL = f"{ISSUER}/.well-known/openid-configuration"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
    "userinfo_endpoint": f"{ISSUER}/protocol/openid-connect/userinfo",
    "response_types_supported": ["code"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
}


def backend(strategy, endpoint: str = ISSUER) -> OpenIdConnect:
    strategy.set_settings(
        {
            "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT": endpoint,
            "SOCIAL_AUTH_OIDC_KEY": "netbox",
            "SOCIAL_AUTH_OIDC_SECRET": "s3cret",
        }
    )
    return OpenIdConnect(strategy, redirect_uri="/oauth/complete/oidc/")


@pytest.mark.parametrize("endpoint", [ISSUER, f"{ISSUER}/", DISCOVERY_URL, f"{DISCOVERY_URL}/"])
def test_every_form_of_the_endpoint_setting_means_the_same_issuer(strategy, endpoint):
    oidc = backend(strategy, endpoint)
    assert oidc.expected_issuer() == ISSUER
    assert oidc.oidc_config_url() == DISCOVERY_URL


def test_discovery_is_fetched_once_and_shared_through_the_cache(strategy, provider):
    provider.routes[DISCOVERY_URL] = (200, DISCOVERY)
    assert backend(strategy).oidc_config()["token_endpoint"] == DISCOVERY["token_endpoint"]
    assert backend(strategy).oidc_config()["issuer"] == ISSUER  # a new backend: the next request
    assert provider.calls == [DISCOVERY_URL]


def test_a_discovery_document_naming_another_issuer_is_refused(strategy, provider):
    provider.routes[DISCOVERY_URL] = (200, {**DISCOVERY, "issuer": "https://evil.example/"})
    with pytest.raises(oidc_checks.InvalidDiscoveryError) as raised:
        backend(strategy).oidc_config()
    assert raised.value.code == "invalid_discovery" and raised.value.subject == "issuer"


def test_a_provider_error_is_a_typed_error_with_the_http_status(strategy, provider):
    provider.routes[DISCOVERY_URL] = (503, {"error": "temporarily_unavailable"})
    with pytest.raises(oidc_checks.ProviderUnavailableError) as raised:
        backend(strategy).oidc_config()
    assert "HTTP 503 temporarily_unavailable" in raised.value.user_message()


def test_plain_http_off_loopback_is_refused_before_any_call(strategy, provider):
    with pytest.raises(oidc_checks.InsecureEndpointError):
        backend(strategy, "http://idp.example/realms/netbox").oidc_config()
    assert provider.calls == []


def test_an_invalid_hardening_setting_is_reported_with_its_path_before_any_call(strategy, provider, plugin_config):
    plugin_config({"idp_timeout": "soon"})
    with pytest.raises(ConfigError, match=r"\['idp_timeout'\]: must be a number of seconds"):
        backend(strategy).oidc_config()
    assert provider.calls == []
