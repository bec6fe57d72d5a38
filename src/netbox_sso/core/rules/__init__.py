"""Mapping rules: the native format, the reference's legacy format, validation and compilation.

Modules: `model` (the compiled rules), `matching` (group patterns and their index), `shapes` (generic
value checks), `parse` (the native format, `parse_config`), `legacy` (the reference's format).

Native format (`PLUGINS_CONFIG['netbox_sso']` in NetBox's configuration.py)::

    PLUGINS_CONFIG = {'netbox_sso': {
        'break_glass_users': ['admin'],          # local accounts that mapping never changes
        'backends': {                            # keyed by social-core backend name; several at once
            'oidc': {
                'groups_claim': 'groups',        # dotted string (exact key first, then dot path) or a
                                                 # list of keys: ['resource_access', 'netbox.app', 'roles']
                'groups_sources': ['id_token', 'userinfo'],   # precedence; 'graph' for Entra ID only
                'normalize': {'case': 'lower', 'strip_prefixes': ['/']},   # 'preserve' (default) | 'lower'
                'group_map': {'netbox-admins': ['Admins'], 'ops': 'Operators'},   # IdP value -> group(s)
                'group_patterns': [{'match': 'team-*', 'groups': ['Teams']},      # glob, whole value
                                   {'regex': '^site-[a-z]+$', 'groups': 'Site staff'}],  # re.search
                'superuser_groups': ['netbox-admins'],   # grant is_superuser; revoke when in none
                'required_groups': ['netbox-users'],     # refuse login unless one is present
                'default_groups': ['Viewers'],           # NetBox groups added on a user's first login
                'missing_claim': 'keep',                 # 'keep' (change nothing, warn) | 'refuse'
                'create_groups': False,                  # create mapped NetBox groups that do not exist
                'permissions': {'Operators': [           # "permissions as code" (ObjectPermission rows)
                    {'name': 'ops-dcim', 'actions': ['view', 'change'],
                     'object_types': ['dcim.site', 'dcim.device'], 'constraints': None,
                     'description': '', 'enabled': True}]},
            },
        },
    }}

Every key is optional. Defaults: groups_claim 'groups'; groups_sources ['id_token', 'graph'] for Entra
ID backends (names starting 'azuread' or 'microsoft', or containing 'entra') and ['id_token', 'userinfo']
otherwise; case 'preserve'; missing_claim 'keep'; create_groups False. `superuser_groups` absent (or None)
means superuser is never changed; an empty list is an error (it would revoke every superuser).
NetBox's REMOTE_AUTH_DEFAULT_GROUPS are added to every backend's default_groups.

Rule keys (group_map keys, superuser_groups, required_groups) are normalized like claim values at parse
time, so they may be written in either form (`'/netbox/admins'` or `'netbox/admins'`). Patterns match
the normalized value; with case 'lower' they are compiled case-insensitive. Globs (fnmatch: `*`, `?`,
`[...]`) must match the whole value; regexes use `re.search`, so anchor them with `^...$`.

Legacy format (the reference manual's `SOCIAL_AUTH_PIPELINE_CONFIG`)::

    SOCIAL_AUTH_PIPELINE_CONFIG = {
        'AZUREAD_USER_FLAGS_BY_GROUP': {'is_superuser': ['<object-id>'], 'is_staff': ['<object-id>']},
        'AZUREAD_GROUP_MAP': {'<object-id>': '<netbox-group-name>'},
    }

is translated into native rules for backend 'azuread-oauth2': groups claim 'groups' from the ID token,
then Graph on overage; case-insensitive matching (object IDs are GUIDs); groups must already exist
(create_groups False), as the reference says. `is_staff` does not exist on NetBox >= 4.5: accepted,
ignored, reported in `SSOConfig.warnings`. Native rules and the legacy config for the same backend are an
error: one source of truth.

Unknown keys are errors with a "did you mean" suggestion. Every key is declared in
`netbox_sso.core.settings_schema`; the top-level keys outside the mapping rules (hardening, sessions,
audit) are validated here with the schema's validators, so one call reports every problem. Callers may
declare further keys (`other_top_level_keys`, `other_backend_keys`), accepted without parsing.

Matching is compiled here, once: exact values go into a dict; wildcard-free globs into a dict; globs
and `^literal...` regexes are indexed by literal prefix; only patterns with no literal prefix are
scanned, behind one combined regex that skips values none of them can match.
"""

from netbox_sso.core.rules.legacy import LEGACY_FLAG_KEYS, LEGACY_KEYS
from netbox_sso.core.rules.matching import GroupPattern, PatternIndex, _regex_literal_prefix
from netbox_sso.core.rules.model import (
    LEGACY_BACKEND,
    MAX_GROUP_NAME_LENGTH,
    MAX_PERMISSION_NAME_LENGTH,
    BackendRules,
    PermissionSpec,
    SettingNames,
    SSOConfig,
    is_entra_backend,
)
from netbox_sso.core.rules.parse import (
    BACKEND_KEYS,
    CASES,
    MISSING_CLAIM_MODES,
    NORMALIZE_KEYS,
    PATTERN_KEYS,
    PERMISSION_KEYS,
    TOP_LEVEL_KEYS,
    check_backends,
    parse_config,
)

__all__ = [
    "BACKEND_KEYS",
    "CASES",
    "LEGACY_BACKEND",
    "LEGACY_FLAG_KEYS",
    "LEGACY_KEYS",
    "MAX_GROUP_NAME_LENGTH",
    "MAX_PERMISSION_NAME_LENGTH",
    "MISSING_CLAIM_MODES",
    "NORMALIZE_KEYS",
    "PATTERN_KEYS",
    "PERMISSION_KEYS",
    "TOP_LEVEL_KEYS",
    "BackendRules",
    "GroupPattern",
    "PatternIndex",
    "PermissionSpec",
    "SSOConfig",
    "SettingNames",
    "_regex_literal_prefix",
    "check_backends",
    "is_entra_backend",
    "parse_config",
]
