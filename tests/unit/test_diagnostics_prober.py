"""Doctor's prober on the shared bounded call: it sees the provider the way the backend's sign-in does
(proxies, certificate verification, the https rule), keeps its own findings, and stays out of the sign-in
metrics. requests' `Session.request` is replaced by a recorder: only what would be sent matters here."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from netbox_sso import metrics
from netbox_sso.backends import idp_http
from netbox_sso.diagnostics.prober import Failure, Prober
from netbox_sso.diagnostics.settings import NetBoxSettings
from tests.unit.fake_http import fake_response

ISSUER = "https://idp.example.com/realms/x"


def prober_for(ca_bundle: str | None = None, **values: Any) -> Prober:
    settings = NetBoxSettings(
        Path("c.py"),
        {
            "PLUGINS": ["netbox_sso"],
            "REMOTE_AUTH_BACKEND": "social_core.backends.open_id_connect.OpenIdConnectAuth",
            "SOCIAL_AUTH_OIDC_KEY": "k",
            "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT": ISSUER,
            **values,
        },
    )
    [backend] = settings.sso_backends()
    return Prober(timeout=2.0, ca_bundle=ca_bundle).for_backend(settings, backend)


@pytest.fixture(autouse=True)
def _own_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idp_http, "_local", threading.local())


class Recorder:
    """Records every request that would have been sent (requests' arguments) and answers `status`, `body`."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = 400
        self.body = b'{"error": "invalid_grant"}'

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"url": url, **kwargs})
        return fake_response(self.status, self.body)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(
        requests.Session, "request", lambda session, method, url, **kw: recorder.request(method, url, **kw)
    )
    monkeypatch.setattr(Prober, "resolve", lambda self, host: None)  # every host resolves
    return recorder


def get(prober: Prober, url: str = f"{ISSUER}/.well-known/openid-configuration") -> Any:
    return prober.request("GET", url, setting="SOCIAL_AUTH_OIDC_OIDC_ENDPOINT", backend="oidc", what="discovery")


def test_the_backends_proxies_carry_doctors_requests(sent):
    get(prober_for(SOCIAL_AUTH_OIDC_PROXIES={"https": "http://proxy.example:3128"}))
    assert sent.calls[0]["proxies"] == {"https": "http://proxy.example:3128"}


def test_the_generic_proxies_setting_applies_as_social_core_reads_it(sent):
    get(prober_for(SOCIAL_AUTH_PROXIES={"https": "http://proxy.example:3128"}))
    assert sent.calls[0]["proxies"] == {"https": "http://proxy.example:3128"}


def test_behind_a_proxy_the_host_is_not_resolved_here(monkeypatch):
    monkeypatch.setattr(Prober, "resolve", lambda self, host: pytest.fail("resolved a host the proxy resolves"))
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: (_ for _ in ()).throw(requests.ConnectionError()))
    with pytest.raises(Failure) as failed:
        get(prober_for(SOCIAL_AUTH_OIDC_PROXIES={"https": "http://proxy.example:3128"}))
    assert failed.value.finding.code == "net.unreachable"


@pytest.mark.parametrize(
    ("values", "ca_bundle", "verify"),
    [
        ({}, None, True),
        ({}, "/doctor-ca.pem", "/doctor-ca.pem"),
        ({"SOCIAL_AUTH_OIDC_VERIFY_SSL": "/netbox-ca.pem"}, "/doctor-ca.pem", "/netbox-ca.pem"),
        ({"SOCIAL_AUTH_VERIFY_SSL": False}, "/doctor-ca.pem", False),
        ({"SOCIAL_AUTH_VERIFY_SSL": True}, "/doctor-ca.pem", "/doctor-ca.pem"),
    ],
    ids=["default", "ca-bundle", "backend-ca-path", "verification-off", "verification-on"],
)
def test_certificates_are_verified_as_the_backend_verifies_them(sent, values, ca_bundle, verify):
    get(prober_for(ca_bundle, **values))
    assert sent.calls[0]["verify"] == verify


def test_plain_http_off_loopback_is_the_finding_sign_in_would_hit_and_nothing_is_sent(sent):
    with pytest.raises(Failure) as failed:
        get(prober_for(), "http://idp.example.com/realms/x/.well-known/openid-configuration")
    assert failed.value.finding.code == "url.insecure_http" and failed.value.finding.severity == "error"
    assert sent.calls == []


@pytest.mark.parametrize(
    "values",
    [{"PLUGINS_CONFIG": {"netbox_sso": {"allow_insecure_http": True}}}, {"PLUGINS": []}],
    ids=["allow_insecure_http", "stock-social-core"],
)
def test_plain_http_is_probed_where_sign_in_would_send_it(sent, values):
    get(prober_for(**values), "http://idp.example.com/realms/x/.well-known/openid-configuration")
    assert sent.calls[0]["url"].startswith("http://idp.example.com/")


def test_an_answer_of_any_status_is_returned_with_its_body_and_date_window(sent):
    answer = get(prober_for())
    assert answer.status == 400 and answer.json() == {"error": "invalid_grant"}
    assert answer.sent_at <= answer.received_at


def test_an_answer_over_the_size_cap_is_no_usable_answer_in_time(sent):
    sent.body = b" " * (2 * 1024 * 1024)
    with pytest.raises(Failure) as failed:
        get(prober_for())
    assert failed.value.finding.code == "net.timeout"


def test_doctors_calls_are_not_counted_in_the_sign_in_metrics(sent, monkeypatch):
    counted: list[Any] = []
    monkeypatch.setattr(metrics, "observe_idp_call", lambda *args, **kwargs: counted.append(args))
    get(prober_for())
    assert counted == [] and len(sent.calls) == 1
