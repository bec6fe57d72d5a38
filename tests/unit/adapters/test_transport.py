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
