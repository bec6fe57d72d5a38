"""The audit throttle of refused API tokens: keyed on an address the caller cannot choose."""

from __future__ import annotations

from typing import Any

from django.test import RequestFactory, override_settings

from netbox_sso import audit
from netbox_sso.api_tokens import authentication
from netbox_sso.core.access_tokens import BearerRefusal

#: NetBox's default: the leftmost X-Forwarded-For entry, which the client writes itself.
NETBOX_CLIENT_IP_HEADERS = ("HTTP_X_REAL_IP", "HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")


def test_a_client_rotating_x_forwarded_for_gets_one_audit_row_per_reason_and_window(monkeypatch):
    rows: list[dict[str, Any]] = []
    monkeypatch.setattr(audit, "record", lambda event, **fields: rows.append({"event": event, **fields}))
    factory = RequestFactory()
    with override_settings(HTTP_CLIENT_IP_HEADERS=NETBOX_CLIENT_IP_HEADERS):
        for n in range(20):
            request = factory.get("/api/dcim/sites/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            authentication.record_refusal(request, BearerRefusal("malformed", "not a well-formed JWT"))
    assert [row["event"] for row in rows] == ["api_token_refused"]


def test_invalid_mapping_rules_refuse_a_valid_token_with_503_not_a_server_error(monkeypatch):
    from types import SimpleNamespace

    from netbox_sso.core.errors import ConfigError, ConfigProblem
    from netbox_sso.rule_set import MappingRulesInvalid

    rows: list[dict[str, Any]] = []
    monkeypatch.setattr(audit, "record", lambda event, **fields: rows.append({"event": event, **fields}))
    verified = SimpleNamespace(backend=SimpleNamespace(name="oidc"))
    monkeypatch.setattr(authentication, "verify", lambda token, request: verified)

    def invalid_rules(verified: Any, request: Any) -> Any:
        raise MappingRulesInvalid(ConfigError(ConfigProblem("PLUGINS_CONFIG['netbox_sso']", "bad", "fix it")))

    monkeypatch.setattr(authentication.accounts, "account_for", invalid_rules)
    import sys

    monkeypatch.setitem(sys.modules, "users.models", SimpleNamespace(Token=object))  # NetBox's, not loaded here
    request = RequestFactory().get("/api/dcim/sites/", REMOTE_ADDR="203.0.113.8")
    try:
        authentication.authenticate_token("eyJ.e30.c2ln", request)
    except BearerRefusal as refusal:
        assert (refusal.status, refusal.reason, refusal.backend) == (503, "invalid_mapping_rules", "oidc")
    else:
        raise AssertionError("a token was accepted while the mapping rules are invalid")
    assert [(row["event"], row["reason"]) for row in rows] == [("api_token_refused", "invalid_mapping_rules")]


def test_an_unreadable_discovery_while_routing_a_token_is_a_503_refusal_not_a_server_error(monkeypatch):
    # With verify_discovery_issuer off, a generic backend's issuer comes from its discovery document.
    from types import SimpleNamespace

    from netbox_sso.api_tokens import verify as verify_module
    from netbox_sso.core.oidc_errors import ProviderUnavailableError

    def unreachable() -> str:
        raise ProviderUnavailableError("discovery", "HTTP 503")

    backend = SimpleNamespace(name="oidc", id_token_issuer=unreachable)
    monkeypatch.setattr(verify_module, "policies", lambda: {"oidc": object()})
    monkeypatch.setattr(verify_module, "load", lambda name, request=None: backend)
    token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln"  # {"iss": "https://idp.example"}
    try:
        verify_module.verify(token)
    except BearerRefusal as refusal:
        assert (refusal.status, refusal.backend) == (503, "oidc")
    else:
        raise AssertionError("a token was routed to a backend whose issuer is unknown")
