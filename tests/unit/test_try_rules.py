"""The Try-it page reads claims as `netbox-sso explain` does, from pasted JSON or a captured login."""

from __future__ import annotations

import pytest

from netbox_sso.try_rules import MAX_CLAIMS_BYTES, event_claims, parse_claims


def test_a_captured_login_s_details_are_its_claims_per_source():
    sources = event_claims({"id_token": {"sub": "x", "groups": ["a"]}, "userinfo": None})
    assert sources == {"id_token": {"sub": "x", "groups": ["a"]}, "userinfo": None}


def test_an_event_without_claims_is_reported():
    with pytest.raises(ValueError, match="no captured claims"):
        event_claims(None)


def test_flat_pasted_claims_are_the_id_token():
    assert parse_claims('{"sub": "x", "groups": ["a"]}') == {"id_token": {"sub": "x", "groups": ["a"]}}


@pytest.mark.parametrize(
    ("text", "words"), [("{", "not valid JSON"), ("[1]", "JSON object"), (" " * (MAX_CLAIMS_BYTES + 1), "larger than")]
)
def test_bad_pasted_claims_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse_claims(text)
