"""The session logic on Django's cache-backed sessions (no server, no database)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from django.contrib.sessions.backends.cache import SessionStore
from django.test import RequestFactory

from netbox_sso import sessions
from netbox_sso.keys import STATE_KEY

ISSUER = "https://idp.example/realms/netbox"


def signed_in_request(user_pk: int = 7):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.session.save()
    request.user = SimpleNamespace(pk=user_pk, is_authenticated=True, get_username=lambda: "bob")
    return request


def record(**extra):
    now = time.time()
    return {
        "user": 7,
        "backend": "oidc",
        "client_id": "netbox",
        "iss": ISSUER,
        "sub": "sub-bob",
        "sid": "sid-1",
        "id_exp": now + 300,
        "at_exp": now + 300,
        "id_token": "header.payload.signature",
        "end_session": f"{ISSUER}/logout",
        **extra,
    }


def test_a_sign_in_stores_the_session_state_without_tokens_in_clear(plugin_config):
    plugin_config({})
    request = signed_in_request()
    sessions.finalize_login(request, record())
    state = request.session[STATE_KEY]
    assert (state["backend"], state["iss"], state["sub"], state["sid"]) == ("oidc", ISSUER, "sub-bob", "sid-1")
    assert state["sealed"] and "header.payload.signature" not in str(state)


def test_the_session_is_capped_at_the_id_token_expiry_when_configured(plugin_config):
    plugin_config({"session_max_age_from_token": True})
    request = signed_in_request()
    sessions.finalize_login(request, record())
    assert 0 < request.session.get_expiry_age() <= 300


def test_a_back_channel_logout_ends_the_indexed_session_by_sid(plugin_config):
    plugin_config({})
    request = signed_in_request()
    sessions.finalize_login(request, record())
    request.session.save()
    key = request.session.session_key
    assert sessions.end_sessions("oidc", ISSUER, None, "sid-1") == 1
    assert not SessionStore(session_key=key).exists(key)


def test_a_login_that_did_not_finish_leaves_no_state(plugin_config):
    plugin_config({})
    request = signed_in_request(user_pk=8)  # another user than the record's: the pipeline stopped
    sessions.finalize_login(request, record())
    assert STATE_KEY not in request.session
