"""The one owner of the sign-in pipeline: netbox-sso's steps fitted into SOCIAL_AUTH_PIPELINE (pure, no Django).

Administrators paste the reference manual's pipeline verbatim, or keep NetBox's default. We never make
them edit it: `assemble()` returns the pipeline with our steps in place and one notice per change, and
start-up (`netbox_sso.startup`) applies it once and logs the notices. `netbox-sso check` reads the same
tables (`STEP_ROLES`, `known_steps`) and runs the same `assemble()`, so what check says is what start-up
does.

- `nbc_auth_extensions.azure_authentication.azuread_map_groups` (the reference's proprietary step) is
  translated into our two steps; no module of that name is installed (we do not squat on its namespace).
- When mapping rules are configured and our steps are missing, they are inserted: `resolve_groups` right
  before `create_user` (claims are read and the login refused before any row is written) and
  `apply_mapping` after `user_details`.
- NetBox's `user_default_groups_handler` re-adds REMOTE_AUTH_DEFAULT_GROUPS at every login, undoing an
  administrator's removal; with mapping on, `apply_mapping` adds them on first login only, so the stock
  handler is dropped.
- social-core's identity steps are swapped for safe ones with the same role (`HARDENED_STEPS`, see
  `netbox_sso.pipeline.identity`), `migrate_legacy_uid` follows `social_uid`, and
  `refuse_linking_signed_in_privileged` follows `social_user`.
- With `debug_claims` on, `capture_claims` follows `social_details` (before any step can refuse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RESOLVE_GROUPS = "netbox_sso.pipeline.groups.resolve_groups"
APPLY_MAPPING = "netbox_sso.pipeline.groups.apply_mapping"
REFERENCE_ENTRA_STEP = "nbc_auth_extensions.azure_authentication.azuread_map_groups"
NETBOX_DEFAULT_GROUPS_STEP = "netbox.authentication.user_default_groups_handler"
CREATE_USER = "social_core.pipeline.user.create_user"
USER_DETAILS = "social_core.pipeline.user.user_details"
SOCIAL_DETAILS = "social_core.pipeline.social_auth.social_details"
SOCIAL_UID = "social_core.pipeline.social_auth.social_uid"
SOCIAL_USER = "social_core.pipeline.social_auth.social_user"
MIGRATE_LEGACY_UID = "netbox_sso.pipeline.identity.migrate_legacy_uid"
#: Never links an identity to a signed-in superuser or break-glass account (netbox_sso.pipeline.identity).
GUARD_SIGNED_IN = "netbox_sso.pipeline.identity.refuse_linking_signed_in_privileged"
CAPTURE_CLAIMS = "netbox_sso.pipeline.capture.capture_claims"

_SA = "social_core.pipeline.social_auth."
_USER = "social_core.pipeline.user."
_OURS = "netbox_sso.pipeline.identity."
#: Stock social-core pipeline step -> ours with the same role (see netbox_sso.pipeline.identity).
HARDENED_STEPS: dict[str, str] = {
    _SA + "associate_by_email": _OURS + "associate_by_email",
    _USER + "get_username": _OURS + "get_username",
    _USER + "create_user": _OURS + "create_user",
    _SA + "associate_user": _OURS + "associate_user",
}
#: The roles of a sign-in pipeline in the order they must run, each with the steps that fill it.
STEP_ROLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("social_details", frozenset({SOCIAL_DETAILS})),
    ("social_uid", frozenset({SOCIAL_UID})),
    ("social_user", frozenset({SOCIAL_USER})),
    ("get_username", frozenset({_USER + "get_username", _OURS + "get_username"})),
    ("create_user", frozenset({CREATE_USER, _OURS + "create_user"})),
    ("associate_user", frozenset({_SA + "associate_user", _OURS + "associate_user"})),
    ("load_extra_data", frozenset({_SA + "load_extra_data"})),
    ("user_details", frozenset({USER_DETAILS})),
)
#: Roles without which no one can sign in.
REQUIRED_ROLES = frozenset({"social_details", "social_uid", "social_user", "associate_user"})
ASSOCIATE_BY_EMAIL = frozenset({_SA + "associate_by_email", _OURS + "associate_by_email"})
#: Steps that fill no role but are known: NetBox's handler, the reference's step and ours.
OTHER_KNOWN_STEPS = frozenset(
    {
        NETBOX_DEFAULT_GROUPS_STEP,
        RESOLVE_GROUPS,
        APPLY_MAPPING,
        REFERENCE_ENTRA_STEP,
        MIGRATE_LEGACY_UID,
        _OURS + "associate_by_email",
        GUARD_SIGNED_IN,
        CAPTURE_CLAIMS,
    }
)


@dataclass(frozen=True)
class Assembly:
    """The pipeline in effect and what was changed to get it (one notice per change, for the log)."""

    steps: tuple[str, ...]
    notices: tuple[str, ...]


def assemble(
    pipeline: Sequence[str], *, mapping_enabled: bool, database_rules: bool = False, capture_claims: bool = False
) -> Assembly:
    """The whole pipeline netbox-sso runs: mapping steps, hardened identity steps, claims capture.

    Raises ValueError (with the fix) when the administrator's pipeline lists our steps in the wrong order.
    """
    steps, notices = assemble_pipeline(pipeline, mapping_enabled=mapping_enabled, database_rules=database_rules)
    hardened = [HARDENED_STEPS.get(step, step) for step in steps]
    notices.extend(
        f"SOCIAL_AUTH_PIPELINE: {stock} replaced by {ours}" for stock, ours in HARDENED_STEPS.items() if stock in steps
    )
    if SOCIAL_UID in hardened and MIGRATE_LEGACY_UID not in hardened:
        hardened.insert(hardened.index(SOCIAL_UID) + 1, MIGRATE_LEGACY_UID)
        notices.append(f"SOCIAL_AUTH_PIPELINE: inserted {MIGRATE_LEGACY_UID} after social_uid")
    if SOCIAL_USER in hardened and GUARD_SIGNED_IN not in hardened:
        hardened.insert(hardened.index(SOCIAL_USER) + 1, GUARD_SIGNED_IN)
        notices.append(f"SOCIAL_AUTH_PIPELINE: inserted {GUARD_SIGNED_IN} after social_user")
    if capture_claims and CAPTURE_CLAIMS not in hardened:
        # Right after social-core reads the details: before any step can refuse the login.
        hardened.insert(hardened.index(SOCIAL_DETAILS) + 1 if SOCIAL_DETAILS in hardened else 0, CAPTURE_CLAIMS)
        notices.append(f"SOCIAL_AUTH_PIPELINE: inserted {CAPTURE_CLAIMS} after social_details (debug_claims)")
    return Assembly(tuple(hardened), tuple(notices))


def assemble_pipeline(
    pipeline: Sequence[str], *, mapping_enabled: bool, database_rules: bool = False
) -> tuple[tuple[str, ...], list[str]]:
    """The group-mapping part of `assemble()`: the pipeline with our mapping steps, one notice per change.

    `database_rules`: rules may be added in NetBox at run time (netbox_sso.models.MappingRule), so our two
    steps are inserted even when configuration.py maps nothing; NetBox's default-groups step is then kept
    (it is dropped only when configuration.py maps groups, as before).
    """
    steps = list(pipeline)
    notices: list[str] = []
    if REFERENCE_ENTRA_STEP in steps:
        steps.remove(REFERENCE_ENTRA_STEP)
        notices.append(
            f"SOCIAL_AUTH_PIPELINE: {REFERENCE_ENTRA_STEP} is provided by netbox-sso as "
            f"{RESOLVE_GROUPS} + {APPLY_MAPPING}"
        )
        mapping_enabled = True
    if not mapping_enabled and not database_rules:
        return tuple(steps), notices
    if RESOLVE_GROUPS not in steps:
        anchor = steps.index(CREATE_USER) if CREATE_USER in steps else len(steps)
        steps.insert(anchor, RESOLVE_GROUPS)
        notices.append(f"SOCIAL_AUTH_PIPELINE: inserted {RESOLVE_GROUPS} before create_user")
    if APPLY_MAPPING not in steps:
        anchor = steps.index(USER_DETAILS) + 1 if USER_DETAILS in steps else len(steps)
        steps.insert(anchor, APPLY_MAPPING)
        notices.append(f"SOCIAL_AUTH_PIPELINE: inserted {APPLY_MAPPING} after user_details")
    if NETBOX_DEFAULT_GROUPS_STEP in steps and mapping_enabled:
        steps.remove(NETBOX_DEFAULT_GROUPS_STEP)
        notices.append(
            f"SOCIAL_AUTH_PIPELINE: {NETBOX_DEFAULT_GROUPS_STEP} removed; netbox-sso adds "
            "REMOTE_AUTH_DEFAULT_GROUPS on a user's first login only, so removals by an "
            "administrator stick"
        )
    if steps.index(RESOLVE_GROUPS) > steps.index(APPLY_MAPPING):
        raise ValueError(
            f"SOCIAL_AUTH_PIPELINE lists {APPLY_MAPPING} before {RESOLVE_GROUPS}; list "
            f"{RESOLVE_GROUPS} before create_user and {APPLY_MAPPING} after user_details"
        )
    return tuple(steps), notices
