"""The administrator's SOCIAL_AUTH_PIPELINE gets our steps without being edited."""

from __future__ import annotations

import pytest

from netbox_sso.pipeline.assemble import (
    APPLY_MAPPING,
    NETBOX_DEFAULT_GROUPS_STEP,
    REFERENCE_ENTRA_STEP,
    RESOLVE_GROUPS,
    assemble_pipeline,
)

NETBOX_DEFAULT = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    NETBOX_DEFAULT_GROUPS_STEP,
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
)


def test_without_mapping_the_pipeline_is_unchanged():
    assert assemble_pipeline(NETBOX_DEFAULT, mapping_enabled=False) == (NETBOX_DEFAULT, [])


def test_mapping_inserts_resolve_before_create_and_apply_after_details():
    steps, notices = assemble_pipeline(NETBOX_DEFAULT, mapping_enabled=True)
    assert steps.index(RESOLVE_GROUPS) == steps.index("social_core.pipeline.user.create_user") - 1
    assert steps[-1] == APPLY_MAPPING
    assert NETBOX_DEFAULT_GROUPS_STEP not in steps
    assert len(notices) == 3


def test_reference_entra_step_is_translated():
    reference = (*NETBOX_DEFAULT, REFERENCE_ENTRA_STEP)
    steps, notices = assemble_pipeline(reference, mapping_enabled=False)
    assert REFERENCE_ENTRA_STEP not in steps
    assert RESOLVE_GROUPS in steps and APPLY_MAPPING in steps
    assert any(REFERENCE_ENTRA_STEP in notice for notice in notices)


def test_assembly_is_idempotent():
    once, _ = assemble_pipeline(NETBOX_DEFAULT, mapping_enabled=True)
    twice, notices = assemble_pipeline(once, mapping_enabled=True)
    assert twice == once and notices == []


def test_steps_in_the_wrong_order_are_refused_with_the_fix():
    wrong = (APPLY_MAPPING, *NETBOX_DEFAULT, RESOLVE_GROUPS)
    with pytest.raises(ValueError, match="before create_user"):
        assemble_pipeline(wrong, mapping_enabled=True)


def test_database_rules_get_the_mapping_steps_but_keep_netbox_default_groups_without_configured_mapping():
    steps, _ = assemble_pipeline(NETBOX_DEFAULT, mapping_enabled=False, database_rules=True)
    assert steps.index(RESOLVE_GROUPS) < steps.index("social_core.pipeline.user.create_user")
    assert steps[-1] == APPLY_MAPPING
    assert NETBOX_DEFAULT_GROUPS_STEP in steps
    configured, _ = assemble_pipeline(NETBOX_DEFAULT, mapping_enabled=True, database_rules=True)
    assert NETBOX_DEFAULT_GROUPS_STEP not in configured
