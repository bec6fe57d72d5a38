"""Plaintext tokens stock social-core left in extra_data are scrubbed, keeping the identity's identifiers."""

from __future__ import annotations

import jwt
import pytest

from netbox_sso.backends import tokens
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.settings_schema import resolve
from netbox_sso.core.weakening import find_weakenings

ID_TOKEN = jwt.encode({"sub": "s-1", "oid": "o-1", "tid": "t-1", "name": "Ann"}, "k" * 32, algorithm="HS256")
STOCK = {"access_token": "at", "refresh_token": "rt", "id_token": ID_TOKEN, "token_type": "Bearer", "auth_time": 1}


def test_scrub_removes_every_token_and_keeps_identifiers_only():
    cleaned = tokens.scrub(STOCK, store=False)
    assert cleaned == {
        "token_type": "Bearer",
        "auth_time": 1,
        tokens.SUBJECT_KEY: {"sub": "s-1", "oid": "o-1", "tid": "t-1"},
    }


def test_scrub_leaves_clean_extra_data_alone():
    assert tokens.scrub({"auth_time": 1, tokens.SUBJECT_KEY: {"sub": "s"}}, store=False) is None
    assert tokens.scrub(None, store=False) is None


def test_stored_identifiers_prefer_ours_then_the_stock_id_token_then_stock_oidc_id():
    assert tokens.stored_identifiers({tokens.SUBJECT_KEY: {"sub": "mine"}, "id_token": ID_TOKEN}) == {"sub": "mine"}
    assert tokens.stored_identifiers({"id_token": ID_TOKEN})["oid"] == "o-1"
    assert tokens.stored_identifiers({"id": "stock-sub"}) == {"sub": "stock-sub"}
    assert tokens.stored_identifiers({"id_token": "not-a-jwt"}) == {}


@pytest.mark.parametrize("value,mode", [(None, "all"), ("all", "all"), ("break_glass_only", "break_glass_only")])
def test_local_login_modes(value, mode):
    assert resolve({"local_login": value})["local_login"] == mode


def test_an_unknown_local_login_mode_names_the_setting():
    with pytest.raises(ConfigError, match=r"\['local_login'\].*'breakglass'.*'all' or 'break_glass_only'"):
        resolve({"local_login": "breakglass"})


def test_weakening_settings_are_found_per_backend_and_globally():
    found = find_weakenings(
        {
            "SOCIAL_AUTH_OIDC_ID_KEY": "email",
            "SOCIAL_AUTH_ID_KEY": "sub",
            "SOCIAL_AUTH_OKTA_OPENIDCONNECT_PKCE_CODE_CHALLENGE_METHOD": "plain",
            "SOCIAL_AUTH_SANITIZE_REDIRECTS": False,
            "SOCIAL_AUTH_OIDC_USE_PKCE": False,
            "SOCIAL_AUTH_OIDC_VERIFY_SSL": True,
        },
        ["oidc", "okta-openidconnect"],
    )
    assert [w.setting for w in found] == [
        "SOCIAL_AUTH_OIDC_ID_KEY",
        "SOCIAL_AUTH_OKTA_OPENIDCONNECT_PKCE_CODE_CHALLENGE_METHOD",
        "SOCIAL_AUTH_OIDC_USE_PKCE",
        "SOCIAL_AUTH_SANITIZE_REDIRECTS",
    ]
    assert all(w.setting in w.problem and w.fix for w in found)
