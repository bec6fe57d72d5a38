"""Fit netbox-sso's pipeline steps into the administrator's SOCIAL_AUTH_PIPELINE (pure, no Django).

Administrators paste the reference manual's pipeline verbatim, or keep NetBox's default. We never make
them edit it: at start-up the pipeline is rewritten and every change is returned as a notice for the log.

- `nbc_auth_extensions.azure_authentication.azuread_map_groups` (the reference's proprietary step) is
  translated into our two steps; no module of that name is installed (we do not squat on its namespace).
- When mapping rules are configured and our steps are missing, they are inserted: `resolve_groups` right
  before `create_user` (claims are read and the login refused before any row is written) and
  `apply_mapping` after `user_details`.
- NetBox's `user_default_groups_handler` re-adds REMOTE_AUTH_DEFAULT_GROUPS at every login, undoing an
  administrator's removal; with mapping on, `apply_mapping` adds them on first login only, so the stock
  handler is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

RESOLVE_GROUPS = "netbox_sso.pipeline.groups.resolve_groups"
APPLY_MAPPING = "netbox_sso.pipeline.groups.apply_mapping"
REFERENCE_ENTRA_STEP = "nbc_auth_extensions.azure_authentication.azuread_map_groups"
NETBOX_DEFAULT_GROUPS_STEP = "netbox.authentication.user_default_groups_handler"
CREATE_USER = "social_core.pipeline.user.create_user"
USER_DETAILS = "social_core.pipeline.user.user_details"


def assemble_pipeline(pipeline: Sequence[str], *, mapping_enabled: bool,
                      database_rules: bool = False) -> tuple[tuple[str, ...], list[str]]:
    """Return the pipeline with our steps in place, and one notice per change made.

    `database_rules`: rules may be added in NetBox at run time (netbox_sso.models.MappingRule), so our two
    steps are inserted even when configuration.py maps nothing; NetBox's default-groups step is then kept
    (it is dropped only when configuration.py maps groups, as before).
    """
    steps = list(pipeline)
    notices: list[str] = []
    if REFERENCE_ENTRA_STEP in steps:
        steps.remove(REFERENCE_ENTRA_STEP)
        notices.append(f"SOCIAL_AUTH_PIPELINE: {REFERENCE_ENTRA_STEP} is provided by netbox-sso as "
                       f"{RESOLVE_GROUPS} + {APPLY_MAPPING}")
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
        notices.append(f"SOCIAL_AUTH_PIPELINE: {NETBOX_DEFAULT_GROUPS_STEP} removed; netbox-sso adds "
                       "REMOTE_AUTH_DEFAULT_GROUPS on a user's first login only, so removals by an "
                       "administrator stick")
    if steps.index(RESOLVE_GROUPS) > steps.index(APPLY_MAPPING):
        raise ValueError(f"SOCIAL_AUTH_PIPELINE lists {APPLY_MAPPING} before {RESOLVE_GROUPS}; list "
                         f"{RESOLVE_GROUPS} before create_user and {APPLY_MAPPING} after user_details")
    return tuple(steps), notices
