"""Every setting of `PLUGINS_CONFIG['netbox_sso']`: its default, its validator and what it does.

The one owner of the plugin's settings (pure: no Django). Every reader derives from it: the
PluginConfig's `default_settings`, the hardening settings (`netbox_sso.backends.config`), the audit
settings (`netbox_sso.conf`), the mapping parser's known keys (`netbox_sso.core.rules`), `netbox-sso
check` and `explain`, and `docs/configuration.md`, which is generated from this module:

    python -m netbox_sso.core.configuration_docs      # rewrites docs/configuration.md

(a unit test fails when the file is stale).

Adding a setting is one declaration below (`_plugin(...)` for a top-level key, `_backend(...)` for a key
of a backend's entry under `backends`), then regenerating docs/configuration.md. Its validator converts
the raw value once, at start-up, and raises `Invalid(problem, fix)`; the caller adds the setting's path,
so the administrator reads
`PLUGINS_CONFIG['netbox_sso']['idp_timeout']: must be a number of seconds, got 'ten'. Fix: ...`.
Keys whose shape is the mapping rules' business (`backends` and everything inside it,
`break_glass_users`) are parsed by `netbox_sso.core.rules.parse_config`, which reports their problems in
the same style; the schema still declares their default and documentation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netbox_sso.core.errors import PLUGIN_ROOT, ConfigError, ConfigProblem, setting_path

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


class Invalid(ValueError):
    """Raised by a validator: what is wrong with the value and how to fix it (the path is added later)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class Setting:
    """One key of PLUGINS_CONFIG['netbox_sso'] (scope 'plugin') or of a backend's entry (scope 'backend')."""

    key: str
    default: Any
    doc: str
    section: str
    scope: str = "plugin"
    #: Converts and checks a raw value; None when `netbox_sso.core.rules` parses the key.
    validate: Validator | None = None
    #: How the default reads in the documentation, when the value alone would not say it.
    default_doc: str | None = None
    #: True when a non-default value weakens sign-in security (said at WARNING on start-up).
    weakens: bool = False

    @property
    def parsed_by_rules(self) -> bool:
        return self.validate is None

    def convert(self, value: Any) -> Any:
        """The value in effect: the default when absent (None), else the validated value."""
        if value is None:
            value = copy.deepcopy(self.default)
        return value if self.validate is None else self.validate(value)


# --- validators -----------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "dict", list: "list", tuple: "tuple", str: "string", bool: "bool", int: "int"}.get(
        type(value), type(value).__name__
    )


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"must be True or False, got {value!r}", "write True or False (no quotes)")


def number(*, unit: str, minimum: float = 0, exclusive: bool = False, integer: bool = False) -> Validator:
    """A number (or a numeric string, as read from an environment variable) not below `minimum`."""

    def validate(value: Any) -> float | int:
        converted: float | int | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            converted = value
        elif isinstance(value, str):
            try:
                converted = float(value.strip())
            except ValueError:
                converted = None
        what = "a whole number" if integer else "a number"
        if converted is None or converted != converted:  # NaN
            raise Invalid(f"must be {what} of {unit}, got {value!r}", f"write e.g. {int(minimum) + 10} (no quotes)")
        if converted < minimum or (exclusive and converted == minimum):
            bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
            raise Invalid(f"must be {bound} {unit}, got {value!r}", f"write a value {bound}")
        return int(converted) if integer else float(converted)

    return validate


def string_list(what: str) -> Validator:
    """A list of non-empty strings; a single string is a list of one."""

    def validate(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple | set | frozenset):
            raise Invalid(f"must be a list of strings ({what}), got {_type_name(value)}", f"write e.g. ['{what}']")
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise Invalid(f"item {index} must be a non-empty string ({what}), got {item!r}", "quote it")
        return tuple(items)

    return validate


def optional_string(what: str) -> Validator:
    """A non-empty string, or None (an empty string counts as None)."""

    def validate(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f"must be a string ({what}) or None, got {_type_name(value)}", f"write e.g. '{what}'")
        return value

    return validate


def one_of(*choices: str) -> Validator:
    """One of `choices` (strings)."""

    def validate(value: Any) -> str:
        if value not in choices:
            raise Invalid(
                f"{value!r} is not one of {', '.join(repr(c) for c in choices)}",
                f"use {' or '.join(repr(c) for c in choices)}",
            )
        return str(value)

    return validate


def session_cap(value: Any) -> str | None:
    try:
        return SESSION_CAP_MODES[value]
    except (KeyError, TypeError):
        raise Invalid(f"{value!r} is not a session cap mode", "use True, False, 'id_token' or 'access_token'") from None


def http_url(value: Any) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"must be an https URL, got {value!r}", "write e.g. 'https://graph.microsoft.us'")
    return str(value).rstrip("/")


def ip_networks(value: Any) -> tuple[IPv4Network | IPv6Network, ...]:
    """IP addresses or CIDR networks, as networks (an address is a network of one)."""
    networks = []
    for item in string_list("IP address or CIDR network")(value):
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise Invalid(
                f"{item!r} is not an IP address or CIDR network",
                "list your reverse proxies' addresses, e.g. ['10.0.0.5', '192.0.2.0/28']",
            ) from None
    return tuple(networks)


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


def optional(validator: Validator) -> Validator:
    """The validator, with None (the default) kept as None."""
    return lambda value: None if value is None else validator(value)


def within(validator: Validator, low: int, high: int | None = None) -> Validator:
    """The validator's number brought within [low, high] (a bound, not an error: kept from 0.1)."""
    return lambda value: max(low, validator(value) if high is None else min(validator(value), high))


def or_default(validator: Validator, default: Any) -> Validator:
    """The validator's value, or `default` when it is empty."""
    return lambda value: validator(value) or default


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
            f"must be a dict of backend name -> settings, got {_type_name(value)}",
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


# --- documentation --------------------------------------------------------------------------------------

DOCS_PATH = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def _default_text(setting: Setting) -> str:
    if setting.default_doc:
        return setting.default_doc
    return f"`{setting.default!r}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """docs/configuration.md: every setting, grouped by section, with its default and what it does."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m netbox_sso.core.configuration_docs` from "
        "src/netbox_sso/core/settings_schema.py; do not edit by hand. -->",
        "",
        "Every key of `PLUGINS_CONFIG['netbox_sso']` in NetBox's `configuration.py`. All are optional. Values are "
        "validated once, when NetBox starts: a wrong value stops NetBox with the setting's path, the problem and "
        "the fix (`netbox-sso check` reports the same without starting NetBox).",
        "",
        "```python",
        "PLUGINS = ['netbox_sso']",
        "PLUGINS_CONFIG = {'netbox_sso': {",
        "    'idp_timeout': 10,",
        "    'backends': {'oidc': {'group_map': {'netbox-admins': 'Admins'}}},",
        "}}",
        "```",
    ]
    for section, intro in SECTIONS.items():
        rows = [s for s in (*PLUGIN_SETTINGS.values(), *BACKEND_SETTINGS.values()) if s.section == section]
        lines += ["", f"## {section}", "", intro, "", "| Setting | Default | What it does |", "| --- | --- | --- |"]
        lines += [f"| `{s.key}` | {_cell(_default_text(s))} | {_cell(s.doc)} |" for s in rows]
    return "\n".join(lines) + "\n"
