"""One owner of the sign-in pipeline: `assemble()` returns the steps and the notices; check reads its tables."""

from __future__ import annotations

from netbox_sso.diagnostics import static
from netbox_sso.pipeline import assemble as owner
from netbox_sso.pipeline.assemble import (
    APPLY_MAPPING,
    CAPTURE_CLAIMS,
    GUARD_SIGNED_IN,
    HARDENED_STEPS,
    MIGRATE_LEGACY_UID,
    NETBOX_DEFAULT_GROUPS_STEP,
    RESOLVE_GROUPS,
    assemble,
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


def test_netbox_default_pipeline_becomes_the_whole_hardened_pipeline_in_one_call():
    assembly = assemble(NETBOX_DEFAULT, mapping_enabled=True, capture_claims=True)
    assert assembly.steps == (
        "social_core.pipeline.social_auth.social_details",
        CAPTURE_CLAIMS,
        "social_core.pipeline.social_auth.social_uid",
        MIGRATE_LEGACY_UID,
        "social_core.pipeline.social_auth.social_user",
        GUARD_SIGNED_IN,
        "netbox_sso.pipeline.identity.get_username",
        RESOLVE_GROUPS,
        "netbox_sso.pipeline.identity.create_user",
        "netbox_sso.pipeline.identity.associate_user",
        "social_core.pipeline.social_auth.load_extra_data",
        "social_core.pipeline.user.user_details",
        APPLY_MAPPING,
    )
    # One notice per change: 3 mapping changes, 3 swapped identity steps, legacy uid, guard, claims capture.
    assert len(assembly.notices) == 9
    assert (
        "SOCIAL_AUTH_PIPELINE: social_core.pipeline.user.create_user replaced by "
        "netbox_sso.pipeline.identity.create_user" in assembly.notices
    )


def test_assembling_an_assembled_pipeline_changes_nothing():
    once = assemble(NETBOX_DEFAULT, mapping_enabled=True, capture_claims=True)
    again = assemble(once.steps, mapping_enabled=True, capture_claims=True)
    assert again.steps == once.steps and again.notices == ()


def test_without_mapping_or_capture_only_identity_steps_are_hardened():
    steps = assemble(NETBOX_DEFAULT, mapping_enabled=False).steps
    assert RESOLVE_GROUPS not in steps and CAPTURE_CLAIMS not in steps
    assert not set(HARDENED_STEPS) & set(steps)
    assert NETBOX_DEFAULT_GROUPS_STEP in steps


def test_check_reads_the_step_roles_of_the_pipeline_owner():
    assert static.STEP_ROLES is owner.STEP_ROLES
    assert static.known_pipeline_steps() >= {
        CAPTURE_CLAIMS,
        MIGRATE_LEGACY_UID,
        GUARD_SIGNED_IN,
        *HARDENED_STEPS.values(),
    }
