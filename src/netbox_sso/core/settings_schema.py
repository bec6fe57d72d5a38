"""Every setting of `PLUGINS_CONFIG['netbox_sso']`: its default, its validator and what it does.

The one owner of the plugin's settings (pure: no Django). Every reader derives from it: the
PluginConfig's `default_settings`, the hardening settings (`netbox_sso.backends.config`), the audit
settings (`netbox_sso.conf`), the mapping parser's known keys (`netbox_sso.core.rules`), `netbox-sso
check` and `explain`, and `docs/configuration.md`, which is generated from this module
(`netbox_sso.core.configuration_docs` renders it):

    python -m netbox_sso.core.configuration_docs      # rewrites docs/configuration.md

(a unit test fails when the file is stale).

Adding a setting is one declaration below (`_plugin(...)` for a top-level key, `_backend(...)` for a key
of a backend's entry under `backends`), then regenerating docs/configuration.md. Its validator (the general
ones live in `netbox_sso.core.settings_validators` and are re-exported here) converts the raw value once, at
start-up, and raises `Invalid(problem, fix)`; the caller adds the setting's path, so the administrator reads
`PLUGINS_CONFIG['netbox_sso']['idp_timeout']: must be a number of seconds, got 'ten'. Fix: ...`.
Keys whose shape is the mapping rules' business (`backends` and everything inside it,
`break_glass_users`) are parsed by `netbox_sso.core.rules.parse_config`, which reports their problems in
the same style; the schema still declares their default and documentation.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from netbox_sso.core.errors import PLUGIN_ROOT, ConfigError, ConfigProblem, setting_path
from netbox_sso.core.reconcile import ReconcileConfigError, parse_reconcile

# The declarations below are built from these; re-exported so `from netbox_sso.core.settings_schema import
# Invalid, ip_networks, ...` keeps working for the readers and tests that validate one value.
from netbox_sso.core.settings_validators import Invalid as Invalid
from netbox_sso.core.settings_validators import Setting as Setting
from netbox_sso.core.settings_validators import Validator as Validator
from netbox_sso.core.settings_validators import boolean as boolean
from netbox_sso.core.settings_validators import http_url as http_url
from netbox_sso.core.settings_validators import ip_networks as ip_networks
from netbox_sso.core.settings_validators import number as number
from netbox_sso.core.settings_validators import one_of as one_of
from netbox_sso.core.settings_validators import optional as optional
from netbox_sso.core.settings_validators import optional_string as optional_string
from netbox_sso.core.settings_validators import or_default as or_default
from netbox_sso.core.settings_validators import string_list as string_list
from netbox_sso.core.settings_validators import type_name as type_name
from netbox_sso.core.settings_validators import within as within

#: The largest `metadata_cache_ttl` (a day): discovery documents and keys must be re-read at least daily.
MAX_CACHE_TTL = 86400
#: Where Microsoft Graph lives when neither `graph_url` nor the discovery document's msgraph_host says.
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
#: Accepted values of `session_max_age_from_token` -> which token's expiry caps the session.
SESSION_CAP_MODES: dict[Any, str | None] = {
    False: None,
    None: None,
    True: "id_token",
    "id_token": "id_token",
    "access_token": "access_token",
}


#: The `netbox-sso check` finding code of an invalid value of a setting declared here.
INVALID_SETTING = "plugin.invalid_setting"


# --- validators of one setting each (the general ones: netbox_sso.core.settings_validators) ----------------


def session_cap(value: Any) -> str | None:
    try:
        return SESSION_CAP_MODES[value]
    except (KeyError, TypeError):
        raise Invalid(f"{value!r} is not a session cap mode", "use True, False, 'id_token' or 'access_token'") from None


def backchannel_mode(value: Any) -> bool | frozenset[str] | None:
    """True, False, None (automatic) or a list of backend names."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list | tuple | set | frozenset) and value and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise Invalid(
        f"must be True, False, None or a list of backend names, got {value!r}",
        "write None (automatic: where the provider advertises it), True, False or e.g. ['oidc']",
    )


# --- the settings ---------------------------------------------------------------------------------------

PLUGIN_SETTINGS: dict[str, Setting] = {}
BACKEND_SETTINGS: dict[str, Setting] = {}
#: Documentation sections, in order.
SECTIONS: dict[str, str] = {}


def _section(title: str, intro: str) -> str:
    SECTIONS[title] = intro
    return title


def _plugin(key: str, default: Any, validate: Validator | None, doc: str, **kw: Any) -> None:
    assert key not in PLUGIN_SETTINGS, key
    PLUGIN_SETTINGS[key] = Setting(key, default, doc, _current, "plugin", validate, **kw)


def _backend(key: str, default: Any, doc: str, **kw: Any) -> None:
    assert key not in BACKEND_SETTINGS, key
    BACKEND_SETTINGS[key] = Setting(key, default, doc, _current, "backend", None, **kw)


_current = _section("Group mapping", "The mapping rules, parsed and checked by `netbox_sso.core.rules`.")
_plugin(
    "backends",
    {},
    None,
    "Mapping rules per social-core backend name ('oidc', 'azuread-oauth2', ...); "
    "the keys of each entry are listed under *Per-backend mapping rules*.",
)
_plugin(
    "break_glass_users",
    [],
    string_list("username"),
    "Local usernames never linked to an SSO identity, "
    "never created from one, and never changed by mapping (case-insensitive).",
)
# break_glass_users is parsed (strictly) by the mapping parser too; the converter above feeds hardening().
_KEYS_PARSED_BY_RULES = frozenset({"backends", "break_glass_users"})

_current = _section("Sign-in hardening", "Checks of every sign-in, for every backend.")
_plugin("clock_leeway", 60, number(unit="seconds"), "Tolerated clock difference for the ID token's exp, nbf and iat.")
_plugin(
    "id_token_max_age",
    600,
    number(unit="seconds", exclusive=True),
    "An ID token issued longer ago than this is refused.",
)
_plugin(
    "idp_timeout",
    10.0,
    number(unit="seconds", exclusive=True),
    "Total time for one call to the identity provider (connect, wait and read together).",
)
_plugin(
    "max_response_bytes",
    1024 * 1024,
    number(unit="bytes", minimum=1, integer=True),
    "Larger answers from the identity provider are refused.",
)
_plugin(
    "max_claim_length",
    1024,
    number(unit="characters", minimum=1, integer=True),
    "A longer string claim refuses the sign-in.",
)
_plugin(
    "metadata_cache_ttl",
    3600,
    within(number(unit="seconds", integer=True), 1, MAX_CACHE_TTL),
    f"How long discovery documents and JWKS are kept in NetBox's cache (Redis); 0 counts as 1, more than "
    f"{MAX_CACHE_TTL} as {MAX_CACHE_TTL}; never served after that, even if a refresh fails.",
)
_plugin(
    "jwks_refetch_interval",
    60,
    within(number(unit="seconds", integer=True), 1),
    "A token signed with a key that is not in the cached JWKS makes at most one refetch per jwks_uri in this "
    "interval, across every instance (a refetch that finds new keys, a real rotation, allows the next one at "
    "once); a failed refetch keeps the cached keys.",
)
_plugin(
    "allow_insecure_http",
    False,
    boolean,
    "WEAKENS: True permits http:// identity-provider URLs off loopback.",
    weakens=True,
)
_plugin(
    "verify_discovery_issuer",
    True,
    boolean,
    "False WEAKENS: accepts a discovery document whose issuer differs from the configured one (the ID "
    "token's iss is then checked against the discovery issuer).",
    weakens=True,
)

_current = _section("Identity", "How an SSO identity becomes a NetBox account (`netbox_sso.pipeline.identity`).")
_plugin(
    "username_claim",
    "preferred_username",
    or_default(optional_string("claim name"), "preferred_username"),
    "Claim the NetBox username comes from; fallback the email's local part when the email is verified (else "
    "the whole address), then sub. Never the display name.",
)
_plugin(
    "reserved_usernames",
    [],
    string_list("username"),
    "Usernames refused for SSO accounts, in addition to the built-in list.",
)
_plugin(
    "local_login",
    "all",
    one_of("all", "break_glass_only"),
    "Who may sign in with a NetBox password (login form, API token provisioning): 'all' (NetBox's "
    "behaviour) or 'break_glass_only' (only `break_glass_users`, so a password cannot bypass the "
    "provider's MFA and required groups). Every password sign-in is audited either way ([accounts.md](accounts.md)).",
)

_current = _section("Microsoft Entra ID", "Settings of the Entra ID backends (`azuread-oauth2` and variants).")
_plugin(
    "entra_allowed_tenants",
    [],
    string_list("tenant ID"),
    "Tenants allowed besides SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID; required when that is common/organizations.",
)
_plugin(
    "graph_url",
    None,
    optional(http_url),
    "Microsoft Graph's address for the groups overage (national clouds, e.g. 'https://graph.microsoft.us').",
    default_doc=f"the discovery document's `msgraph_host`, else `{DEFAULT_GRAPH_URL}`",
)

_current = _section("Tokens at rest", "What is kept of the provider's tokens.")
_plugin(
    "store_tokens",
    False,
    boolean,
    "Keep access and refresh tokens in extra_data, encrypted with a key derived from SECRET_KEY. "
    "Off: they are not stored at all.",
)

_current = _section(
    "Sessions and logout", "Sessions that follow the provider (`netbox_sso.sessions`, [sessions.md](sessions.md))."
)
_plugin(
    "session_max_age_from_token",
    False,
    session_cap,
    "True or 'id_token' caps a NetBox session at the ID token's exp, 'access_token' at the access token's "
    "expiry (never beyond SESSION_COOKIE_AGE).",
)
_plugin(
    "refresh_tokens",
    False,
    boolean,
    "Keep the refresh token (encrypted) in the session and refresh before the access token expires; "
    "mapping is re-evaluated with the fresh claims; a refused refresh ends the session.",
)
_plugin("refresh_margin", 60, number(unit="seconds"), "Refresh when the access token expires within this time.")
# Django's Redis cache rounds timeouts down to whole seconds; 0 would mean "no lock at all".
_plugin(
    "refresh_interval",
    60,
    within(number(unit="seconds", integer=True), 1),
    "At most one refresh attempt per session per interval (at least 1).",
)
_plugin(
    "rp_logout",
    True,
    boolean,
    "NetBox's logout also ends the session at the provider (RP-initiated logout) when the provider "
    "advertises an end_session_endpoint.",
)
_plugin(
    "post_logout_redirect_uri",
    None,
    optional_string("https://netbox.example.com/"),
    "Where the provider sends the browser after RP-initiated logout.",
    default_doc="the absolute LOGOUT_REDIRECT_URL, e.g. `https://<netbox>/`",
)
_plugin(
    "backchannel_logout",
    None,
    backchannel_mode,
    "Accept OIDC Back-Channel Logout tokens at /oauth/backchannel-logout/<backend>/. None (automatic): for "
    "backends whose discovery document advertises backchannel_logout_supported, never for Entra ID and Okta "
    "(they send none); True: every backend; False: none; a list: the backends named.",
    default_doc="`None` (automatic)",
)
_plugin(
    "login_redirect_backend",
    None,
    optional_string("oidc"),
    "Send anonymous visitors of the login page straight to this backend; /login/?local=1 still shows the "
    "password form (break-glass accounts).",
)

_current = _section(
    "API tokens",
    "NetBox's REST API and GraphQL with identity-provider access tokens ([api-tokens.md](api-tokens.md)); "
    "each entry is checked in full by `netbox_sso.core.access_tokens.parse_api_tokens` at start-up.",
)


def backend_blocks(value: Any) -> dict[str, Any]:
    """A dict of backend name -> dict (the entries' keys are `core.access_tokens`' to check)."""
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise Invalid(
            f"must be a dict of backend name -> settings, got {type_name(value)}",
            "write {'oidc': {'read_scopes': ['netbox.read'], ...}}",
        )
    return dict(value)


_plugin(
    "api_tokens",
    {},
    backend_blocks,
    "Backend name -> which of its access tokens NetBox's API accepts: 'audiences' (default: the client id; "
    "Entra ID also api://<client id>), 'read_scopes' / 'write_scopes' (scope or app-role values; at least "
    "one), 'create_users' (False), 'service_accounts' (client id -> NetBox username), 'service_mapping' "
    "(a backends-style block mapping a service token's roles to groups). Empty: no provider token is "
    "accepted.",
)

_current = _section("Audit and diagnostics", "The audit trail ([audit.md](audit.md)).")
_plugin(
    "audit_retention_days",
    90,
    number(unit="days", integer=True),
    "SSO events older than this are deleted by housekeeping (0: keep forever).",
)
_plugin(
    "audit_permission_denied_window",
    15,
    number(unit="minutes"),
    "Minutes after an SSO login during which a 403 is recorded.",
)
_plugin(
    "debug_claims",
    False,
    boolean,
    "Record the (redacted) claims of every SSO login as a claims_captured event (input for `netbox-sso explain`).",
)
_plugin(
    "audit_throttle_window",
    60,
    number(unit="seconds", minimum=1, integer=True),
    "Failures of unauthenticated requests (SSO callbacks, password sign-ins) are recorded per client, event, "
    "backend and reason at most `audit_throttle_burst` times in each window of this many seconds; the rest "
    "are counted (metric and one aggregated event) ([audit.md](audit.md)).",
)
_plugin(
    "audit_throttle_burst",
    20,
    number(unit="events", minimum=1, integer=True),
    "How many such failures per client, event, backend and reason each window records as events.",
)
_plugin(
    "trusted_proxies",
    [],
    ip_networks,
    "Reverse proxies (IP addresses or CIDR networks) whose forwarded-for headers (NetBox's "
    "HTTP_CLIENT_IP_HEADERS) are believed, read right to left past the proxies, for the client address of "
    "audit events and throttles. Empty: the peer address, whatever a request's X-Forwarded-For says "
    "([audit.md](audit.md)).",
)

_current = _section(
    "Directory reconciliation",
    "Deactivating the accounts of users gone from, or disabled in, a provider's directory, for providers that "
    "do not push SCIM ([provisioning.md](provisioning.md#6-keycloak-authentik-and-other-providers-without-scim-push)); "
    "each entry is checked in full by `netbox_sso.core.reconcile.parse_reconcile`.",
)


def reconcile_sources(value: Any) -> dict[str, Any]:
    """Backend name -> its directory source (`netbox_sso.core.reconcile.SourceConfig`)."""
    try:
        return parse_reconcile(value)
    except ReconcileConfigError as error:
        raise Invalid(f"{error.key}: {error.problem}" if error.key else error.problem, error.fix) from None


_plugin(
    "reconcile",
    {},
    reconcile_sources,
    "Backend name -> its directory: {'source': 'keycloak' (Admin REST API; 'client_id'/'client_secret' of a "
    "service-account client with view-users, default the sign-in client) or 'authentik' ('api_token'; "
    "'subject_mode', default 'hashed_user_id'), 'url' (default: from the issuer), 'dry_run' (False), "
    "'max_fraction' (0.1: a run deactivating more of the linked active accounts aborts), 'always_allow' (2: "
    "this many are allowed whatever the fraction), 'disabled' (True: disabled users too), 'token_action' "
    "('disable', 'expire' or 'delete'), 'page_size' (100), 'max_users' (100000)}. Empty: no reconciliation.",
)
_plugin(
    "reconcile_interval",
    0,
    number(unit="minutes", integer=True),
    "Run the reconciliation of every `reconcile` backend as a NetBox system job this often (needs `netbox "
    "rqworker`); 0: never scheduled (run `netbox sso_reconcile` yourself).",
)

_current = _section(
    "Per-backend mapping rules",
    "Keys of `PLUGINS_CONFIG['netbox_sso']['backends'][<backend>]`, "
    "parsed and checked by `netbox_sso.core.rules` (see its docstring for the full format).",
)
_backend(
    "groups_claim",
    "groups",
    "Where the groups are: a claim name, a dotted path ('realm_access.roles') or "
    "a list of keys (['resource_access', 'netbox.app', 'roles']).",
)
_backend(
    "groups_sources",
    None,
    "Where the claim is read, in precedence order: 'id_token', 'userinfo', 'graph' (Entra ID only).",
    default_doc="`['id_token', 'graph']` for Entra ID backends, else `['id_token', 'userinfo']`",
)
_backend(
    "normalize",
    {},
    "How claim values and rule keys are compared: {'case': 'preserve' | 'lower', 'strip_prefixes': [...]}.",
)
_backend("group_map", {}, "IdP value -> NetBox group name or list of names.")
_backend(
    "group_patterns",
    [],
    "[{'match': glob or 'regex': regex, 'groups': [...]}]: globs match the whole value, regexes use re.search.",
)
_backend(
    "superuser_groups",
    None,
    "IdP values that grant is_superuser; superuser is revoked when the user "
    "has none. Absent: superuser is never changed (an empty list is an error).",
)
_backend("required_groups", [], "Refuse the login unless the user has one of these IdP values.")
_backend("default_groups", [], "NetBox groups added on a user's first login (besides REMOTE_AUTH_DEFAULT_GROUPS).")
_backend("missing_claim", "keep", "When the groups claim is absent: 'keep' (change nothing, warn) or 'refuse'.")
_backend("create_groups", False, "Create mapped NetBox groups that do not exist.")
_backend(
    "permissions",
    {},
    "Permissions as code: NetBox group -> [{'name', 'actions', 'object_types', "
    "'constraints', 'description', 'enabled'}] (ObjectPermission rows).",
)


# --- derived views --------------------------------------------------------------------------------------

#: Top-level keys parsed by the mapping rules parser (core.rules), and every top-level key.
MAPPING_KEYS: tuple[str, ...] = tuple(key for key in PLUGIN_SETTINGS if key in _KEYS_PARSED_BY_RULES)
TOP_LEVEL_KEYS: tuple[str, ...] = tuple(PLUGIN_SETTINGS)
BACKEND_KEYS: tuple[str, ...] = tuple(BACKEND_SETTINGS)


def section_keys(section: str) -> tuple[str, ...]:
    """The top-level keys of one documentation section, in declaration order."""
    return tuple(key for key, setting in PLUGIN_SETTINGS.items() if setting.section == section)


def defaults(keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Fresh copies of the defaults of `keys` (every top-level key when None)."""
    chosen = PLUGIN_SETTINGS if keys is None else {key: PLUGIN_SETTINGS[key] for key in keys}
    return {key: copy.deepcopy(setting.default) for key, setting in chosen.items()}


def check_values(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Validate the top-level keys the schema owns (not the mapping rules): (values, problems).

    Unknown keys are not reported here (the mapping parser reports them with a "did you mean").
    """
    values: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for key, setting in PLUGIN_SETTINGS.items():
        if key in _KEYS_PARSED_BY_RULES:
            continue
        try:
            values[key] = setting.convert(raw.get(key))
        except Invalid as error:
            problems.append(ConfigProblem(setting_path(PLUGIN_ROOT, key), error.problem, error.fix, INVALID_SETTING))
    return values, problems


def resolve(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every top-level setting in effect (defaults filled in, values converted); ConfigError if invalid."""
    raw = raw or {}
    values, problems = check_values(raw)
    for key in _KEYS_PARSED_BY_RULES:
        try:
            values[key] = PLUGIN_SETTINGS[key].convert(raw.get(key))
        except Invalid as error:
            problems.append(ConfigProblem(setting_path(PLUGIN_ROOT, key), error.problem, error.fix))
    if problems:
        raise ConfigError(problems)
    return values
