"""The status page's view of the settings, derived from the settings schema."""

from __future__ import annotations

from netbox_sso import status


def test_the_status_page_lists_only_settings_changed_from_their_default(plugin_config):
    plugin_config(
        {
            "idp_timeout": 5,
            "clock_leeway": 60,
            "allow_insecure_http": True,
            "backends": {"oidc": {"group_map": {"a": "A"}}},
        }
    )
    changed = {entry["key"]: entry for entry in status.changed_settings()}
    assert set(changed) == {"idp_timeout", "allow_insecure_http"}
    assert changed["idp_timeout"]["value"] == 5.0 and changed["idp_timeout"]["default"] == "10.0"
    assert changed["allow_insecure_http"]["weakens"] and not changed["idp_timeout"]["weakens"]


def test_with_every_default_nothing_is_listed(plugin_config):
    plugin_config({})
    assert status.changed_settings() == []
