"""The reference manual's legacy format, `SOCIAL_AUTH_PIPELINE_CONFIG`, translated into native rules.

    SOCIAL_AUTH_PIPELINE_CONFIG = {
        'AZUREAD_USER_FLAGS_BY_GROUP': {'is_superuser': ['<object-id>'], 'is_staff': ['<object-id>']},
        'AZUREAD_GROUP_MAP': {'<object-id>': '<netbox-group-name>'},
    }

becomes rules for backend 'azuread-oauth2': groups claim 'groups' from the ID token, then Graph on
overage; case-insensitive matching (object IDs are GUIDs); groups must already exist (create_groups
False), as the reference says. `is_staff` does not exist on NetBox >= 4.5: accepted, ignored, reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netbox_sso.core.claims import MAX_VALUE_LENGTH, ClaimPath, Normalization
from netbox_sso.core.errors import LEGACY_ROOT, setting_path
from netbox_sso.core.rules.model import LEGACY_BACKEND, BackendRules, SettingNames

if TYPE_CHECKING:
    from netbox_sso.core.rules.parse import Parser

LEGACY_KEYS = ("AZUREAD_USER_FLAGS_BY_GROUP", "AZUREAD_GROUP_MAP")
LEGACY_FLAG_KEYS = ("is_superuser", "is_staff")


def parse_legacy(parser: Parser, value: Any, extra_defaults: frozenset[str]) -> BackendRules | None:
    """The reference's SOCIAL_AUTH_PIPELINE_CONFIG as native rules for azuread-oauth2 (None: not configured)."""
    data = parser.mapping(value, LEGACY_ROOT, "write it as the reference manual shows (a dict)")
    if data is None:
        return None
    parser.unknown_keys(data, LEGACY_ROOT, LEGACY_KEYS, ())
    if not any(key in data for key in LEGACY_KEYS):
        return None
    before = len(parser.problems)
    norm = Normalization(case="lower")  # object IDs are GUIDs: case-insensitive (RFC 9562 section 4)
    flags_path = setting_path(LEGACY_ROOT, "AZUREAD_USER_FLAGS_BY_GROUP")
    flags = (
        parser.mapping(
            data.get("AZUREAD_USER_FLAGS_BY_GROUP", {}),
            flags_path,
            "write {'is_superuser': ['<object-id>']}",
        )
        or {}
    )
    parser.unknown_keys(flags, flags_path, LEGACY_FLAG_KEYS, ())
    superuser: frozenset[str] | None = None
    su_path = setting_path(flags_path, "is_superuser")
    if flags.get("is_superuser") is not None:
        superuser = parser.idp_values(flags["is_superuser"], su_path, norm) or None
        if superuser is None and flags["is_superuser"] == []:
            parser.warn(su_path, "is empty: superuser is left unchanged (nothing grants or revokes it)")
    if "is_staff" in flags:
        parser.warn(
            setting_path(flags_path, "is_staff"),
            "NetBox 4.5 and later have no staff flag (is_staff was removed); these groups are accepted "
            "and ignored. Grant access with NetBox groups and permissions (AZUREAD_GROUP_MAP) or "
            "is_superuser, "
            "and remove 'is_staff' to silence this warning",
            code="mapping.is_staff",
            fix="remove 'is_staff'; grant access with NetBox groups (AZUREAD_GROUP_MAP) and their permissions",
        )
        parser.strings(
            flags["is_staff"],
            setting_path(flags_path, "is_staff"),
            what="object ID",
            max_length=MAX_VALUE_LENGTH,
        )
    map_path = setting_path(LEGACY_ROOT, "AZUREAD_GROUP_MAP")
    mapped = parser.group_map(data.get("AZUREAD_GROUP_MAP", {}), map_path, norm)
    if len(parser.problems) > before or mapped is None:
        return None
    names = SettingNames.legacy()
    rules = BackendRules(
        backend=LEGACY_BACKEND,
        groups_claim=ClaimPath.parse("groups"),
        groups_sources=("id_token", "graph"),
        normalize=norm,
        group_map=mapped[0],
        superuser_groups=superuser,
        default_groups=extra_defaults,
        missing_claim="keep",
        create_groups=False,  # the reference: "NetBox groups must already exist before mapping"
        names=names,
        map_keys=mapped[1],
    )
    parser.backend_warnings(rules, LEGACY_ROOT, raw_keys=list(mapped[1].values()))
    return rules
