"""The audit trail never writes a token or secret, and caps sizes (netbox_sso.audit, no Django needed)."""

from __future__ import annotations

import json
import logging

from netbox_sso import audit

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_secret_keys_are_replaced_at_any_depth():
    clean = audit.redact(
        {
            "access_token": "a",
            "refresh_token": "r",
            "client_secret": "s",
            "code": "c",
            "nested": [{"id_token": JWT, "Password": "p", "graph_api_token": "g"}],
            "sub": "alice",
        }
    )
    assert clean == {
        "access_token": "[redacted]",
        "refresh_token": "[redacted]",
        "client_secret": "[redacted]",
        "code": "[redacted]",
        "sub": "alice",
        "nested": [{"id_token": "[redacted]", "Password": "[redacted]", "graph_api_token": "[redacted]"}],
    }


def test_decoded_claims_under_a_source_name_are_kept():
    """The claims document's "id_token" source is decoded claims, not a token."""
    clean = audit.redact({"id_token": {"sub": "alice", "groups": ["a"]}, "userinfo": None})
    assert clean == {"id_token": {"sub": "alice", "groups": ["a"]}, "userinfo": None}


def test_jwts_and_bearer_tokens_are_removed_from_any_string():
    text = audit.redact_text(f"token rejected: {JWT} (Authorization: Bearer abcdefgh12345678)")
    assert "eyJ" not in text and "abcdefgh" not in text
    assert "[redacted jwt]" in text and "Bearer [redacted]" in text
    assert audit.redact({"claim": JWT}) == {"claim": "[redacted jwt]"}


def test_sizes_are_capped():
    clean = audit.redact({"groups": [f"g{i}" for i in range(audit.MAX_ITEMS + 7)], "name": "x" * 5000})
    assert len(clean["groups"]) == audit.MAX_ITEMS + 1 and clean["groups"][-1] == "… 7 more"
    assert clean["name"].startswith("x" * audit.MAX_STRING) and clean["name"].endswith("[+4000 chars]")
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["d"] = {}
        node = node["d"]
    assert "[too deep]" in json.dumps(audit.redact(deep))


def test_oversized_details_are_replaced_by_a_note():
    details = {f"k{i}": "v" * 900 for i in range(200)}
    capped = audit._capped_details(details)
    assert capped is not None and "exceed" in capped["truncated"] and len(capped["keys"]) == 50


def test_json_formatter_puts_event_fields_at_the_top_level():
    payload = {"event": "sso.login.failed", "type": "login_failure", "outcome": "failure", "backend": "oidc"}
    record = logging.LogRecord("netbox_sso.audit", logging.WARNING, __file__, 1, json.dumps(payload), None, None)
    record.sso_event = payload
    document = json.loads(audit.JsonFormatter().format(record))
    assert document["event"] == "sso.login.failed" and document["level"] == "WARNING"
    assert document["logger"] == "netbox_sso.audit" and "time" in document


def test_json_formatter_redacts_plain_messages():
    record = logging.LogRecord("netbox_sso", logging.INFO, __file__, 1, "got %s", (JWT,), None)
    assert "eyJ" not in audit.JsonFormatter().format(record)


def test_idp_endpoint_labels_are_bounded():
    from netbox_sso.metrics import idp_endpoint

    discovery = {"token_endpoint": "https://idp/t", "userinfo_endpoint": "https://idp/u", "jwks_uri": "https://idp/k"}
    assert idp_endpoint("https://idp/realms/x/.well-known/openid-configuration") == "discovery"
    assert [idp_endpoint(f"https://idp/{p}", discovery) for p in "tuk"] == ["token", "userinfo", "jwks"]
    assert idp_endpoint("https://graph.microsoft.com/v1.0/me/transitiveMemberOf") == "graph"
    assert idp_endpoint("https://idp/anything-else", discovery) == "other"


def test_text_cut_to_fit_a_column_keeps_the_note_inside_the_width():
    for length in (299, 300, 301, 310, 1_000, 123_456):
        text = audit.redact_text("m" * length, audit.MAX_MESSAGE, fit=True)
        assert len(text) <= audit.MAX_MESSAGE, length
        if length > audit.MAX_MESSAGE:
            kept = text.index("…")
            assert text.endswith(f"[+{length - kept} chars]")


def test_nul_characters_which_postgresql_refuses_are_replaced():
    assert audit.redact_text("a\x00b") == "a\ufffdb"
    assert audit.redact({"k\x00": ["v\x00"]}) == {"k\ufffd": ["v\ufffd"]}
