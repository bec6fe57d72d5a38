"""The backends' transport (`ProviderTransport`) over the shared bounded call: the backend's settings reach
requests, HTTP errors become typed errors, calls are counted in the sign-in metrics."""

from __future__ import annotations

from typing import Any

import pytest

from netbox_sso import metrics
from netbox_sso.core import oidc_checks
from tests.unit.adapters.test_backend import DISCOVERY, DISCOVERY_URL, backend


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every call the metrics saw: (endpoint label, error)."""
    calls: list[tuple[str, str | None]] = []

    def observe(backend: str, endpoint: str, seconds: float, error: str | None = None) -> None:
        calls.append((endpoint, error))

    monkeypatch.setattr(metrics, "observe_idp_call", observe)
    return calls


def test_the_backends_proxies_and_certificate_settings_reach_every_call(strategy, provider):
    oidc = backend(strategy)
    strategy.set_settings(
        {"SOCIAL_AUTH_OIDC_PROXIES": {"https": "http://proxy.example:3128"}, "SOCIAL_AUTH_VERIFY_SSL": "/ca.pem"}
    )
    provider.routes[DISCOVERY_URL] = (200, DISCOVERY)
    oidc.oidc_config()
    (sent,) = provider.sent
    assert sent["proxies"] == {"https": "http://proxy.example:3128"} and sent["verify"] == "/ca.pem"


def test_a_refusal_is_counted_with_its_code_and_raised_typed(strategy, provider, observed):
    provider.routes[DISCOVERY_URL] = (200, DISCOVERY)
    oidc = backend(strategy)
    oidc.oidc_config()
    provider.routes[DISCOVERY["token_endpoint"]] = (400, {"error": "invalid_grant"})
    with pytest.raises(oidc_checks.ProviderUnavailableError) as raised:
        oidc.request(DISCOVERY["token_endpoint"], method="POST", data={"code": "c"})
    assert raised.value.status == 400
    assert observed == [("discovery", None), ("token", raised.value.code)]


def test_get_json_takes_social_cores_positional_method(strategy, provider):
    provider.routes[DISCOVERY["token_endpoint"]] = (200, {"access_token": "a"})
    answer: dict[str, Any] = backend(strategy).get_json(DISCOVERY["token_endpoint"], "POST", data={"code": "c"})
    assert answer == {"access_token": "a"} and provider.sent[0]["data"] == {"code": "c"}


PING = "https://sso.example.com"
PING_DISCOVERY = {
    **DISCOVERY,
    "issuer": PING,
    "token_endpoint": f"{PING}/as/token.oauth2",
    "userinfo_endpoint": f"{PING}/idp/userinfo.openid",
    "jwks_uri": f"{PING}/pf/JWKS",
    "authorization_endpoint": f"{PING}/as/authorization.oauth2",
}


def test_calls_are_labelled_from_the_discovery_document_the_request_already_read(strategy, provider, observed):
    # PingFederate's endpoint paths end in no word the labels know: only discovery tells what they are.
    provider.routes[f"{PING}/.well-known/openid-configuration"] = (200, PING_DISCOVERY)
    provider.routes[PING_DISCOVERY["userinfo_endpoint"]] = (200, {"sub": "u1"})
    provider.routes[PING_DISCOVERY["token_endpoint"]] = (200, {"access_token": "a"})
    oidc = backend(strategy, PING)
    oidc.id_token = {"sub": "u1"}
    oidc.get_json(oidc.access_token_url(), method="POST", data={"code": "c"})
    oidc.user_data("access-token")
    assert observed == [("discovery", None), ("token", None), ("userinfo", None)]


def test_a_call_before_discovery_is_read_does_not_fetch_it_to_label(strategy, provider, observed):
    provider.routes[PING_DISCOVERY["userinfo_endpoint"]] = (200, {"sub": "u1"})
    backend(strategy, PING).request(PING_DISCOVERY["userinfo_endpoint"])
    assert provider.calls == [PING_DISCOVERY["userinfo_endpoint"]] and observed == [("other", None)]


def test_entras_userinfo_on_the_graph_host_is_userinfo_not_graph():
    discovery = {"userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo"}
    assert metrics.idp_endpoint("https://graph.microsoft.com/oidc/userinfo", discovery) == "userinfo"
    assert metrics.idp_endpoint("https://graph.microsoft.com/v1.0/me/transitiveMemberOf", discovery) == "graph"
