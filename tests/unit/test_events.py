"""One list of audit events: every NetBox choice has a log name, and every log name a choice."""

from __future__ import annotations

from netbox_sso.events import LOG_NAMES


def test_log_names_and_netbox_choices_list_the_same_events():
    from netbox_sso.choices import SSOEventTypeChoices

    assert set(LOG_NAMES) == set(SSOEventTypeChoices.values())
    assert all(name.startswith("sso.") for name in LOG_NAMES.values())
    assert len(set(LOG_NAMES.values())) == len(LOG_NAMES)
