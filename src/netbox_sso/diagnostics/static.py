"""The checks of `netbox-sso check`: read the configuration, never the network, never Django.

`run_checks(settings)` returns every finding at once, so an administrator fixes a configuration in one
pass. Each check is a small function named after what it checks; the order of `CHECKS` is the order of
the report within one severity.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netbox_sso.core.endpoints import WELL_KNOWN_SUFFIX, normalize_oidc_endpoint
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.oidc_checks import is_loopback_host
from netbox_sso.core.rules import SSOConfig, check_backends, parse_config
from netbox_sso.core.weakening import find_weakenings
from netbox_sso.diagnostics.findings import Finding, Severity
from netbox_sso.diagnostics.settings import (
    HARDENED_SPECS,
    Backend,
    NetBoxSettings,
    known_backend_paths,
    setting_prefix,
    suggest,
)
from netbox_sso.pipeline.assemble import (
    ASSOCIATE_BY_EMAIL,
    OTHER_KNOWN_STEPS,
    REFERENCE_ENTRA_STEP,
    REQUIRED_ROLES,
    STEP_ROLES,
    assemble,
)

#: Extremes of SESSION_COOKIE_AGE (seconds): shorter logs users out mid-task (and loops them through the
#: identity provider); longer keeps a session alive long after the provider disabled the account.
MIN_SESSION_AGE = 300
MAX_SESSION_AGE = 30 * 86400
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
#: Entra backends that always used the `common` tenant in stock social-core (TENANT_ID ignored).
STOCK_COMMON_TENANT = frozenset({"azuread-oauth2", "azuread-oauth2-v2"})
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9-]*>")
_OKTA_PATH = re.compile(r"^/oauth2(?:/[^/]+)?/?$")
#: Backend setting suffixes worth a "did you mean" when a near spelling is used instead.
IMPORTANT_SUFFIXES = (
    "KEY", "SECRET", "OIDC_ENDPOINT", "TENANT_ID", "API_URL", "AUTHORITY_HOST", "SCOPE", "VERIFY_SSL",
    "ID_TOKEN_ISSUER", "RESOURCE", "USE_PKCE", "IGNORE_DEFAULT_SCOPE", "AUTH_EXTRA_ARGUMENTS",
)

def _finding(code: str, severity: Severity, setting: str, problem: str, fix: str = "", backend: str = "") -> Finding:
    return Finding(code, severity, setting, problem, fix, backend)


def _is_set(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()


_KIND_SETTINGS = {"generic": ["OIDC_ENDPOINT"], "okta": ["API_URL"], "entra": ["TENANT_ID"]}


# --- backends ---------------------------------------------------------------------------------------------


def check_backends_exist(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    raw = settings.get("REMOTE_AUTH_BACKEND")
    if raw is not None and not isinstance(raw, str | list | tuple):
        yield _finding("config.invalid_type", "error", "REMOTE_AUTH_BACKEND",
                       f"must be a class path or a list of them, got {type(raw).__name__}",
                       "write REMOTE_AUTH_BACKEND = 'social_core.backends.open_id_connect.OpenIdConnectAuth'")
        return
    unknown = False
    for backend in settings.backends():
        if backend.spec is None:
            unknown = True
            close = suggest(backend.path, known_backend_paths())
            yield _finding(
                "backend.unknown", "error", backend.setting,
                f"{backend.path!r} is not an authentication backend class (no such module or class); NetBox "
                "fails at the first sign-in" + (f"; did you mean {close!r}?" if close else ""),
                f"use {close!r}" if close else
                "use one of the reference's classes: social_core.backends.open_id_connect.OpenIdConnectAuth, "
                "social_core.backends.azuread.AzureADOAuth2, social_core.backends.okta_openidconnect.OktaOpenIdConnect",
            )
        elif backend.kind == "social-core":
            yield _finding(
                "backend.not_hardened", "info", backend.setting,
                f"{backend.path} ({backend.name!r}) is social-core's class as is: netbox-sso hardens only the OIDC, "
                "Entra ID and Okta backends, and its group mapping works with any",
                "", backend.name,
            )
    if not ctx.sso and not unknown:
        yield _finding(
            "backend.none", "warning", "REMOTE_AUTH_BACKEND",
            "no single sign-on backend is enabled, so NetBox shows no SSO button",
            "set REMOTE_AUTH_BACKEND to your provider's class (see the reference's blocks)",
        )
    elif not settings.plugin_enabled:
        yield _finding(
            "plugin.not_enabled", "warning", "PLUGINS",
            "'netbox_sso' is not in PLUGINS: the stock social-core backends run unhardened (any Entra tenant "
            "accepted, the discovery-URL form answers HTTP 500) and no group mapping applies",
            "add it: PLUGINS = ['netbox_sso']",
        )


def check_required_settings(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for backend in ctx.sso:
        needed = ["KEY", "SECRET"]
        needed += _KIND_SETTINGS.get(backend.kind or "", [])
        if backend.name == "oidc" and backend.kind == "social-core":
            needed.append("OIDC_ENDPOINT")
        for suffix in needed:
            name, value = settings.backend_setting(backend, suffix)
            if _is_set(value):
                continue
            what = {"KEY": "client ID", "SECRET": "client secret", "OIDC_ENDPOINT": "issuer URL",
                    "API_URL": "authorization server URL", "TENANT_ID": "directory (tenant) ID"}[suffix]
            consequence = {
                "TENANT_ID": "netbox-sso then uses the 'common' endpoint and refuses every login (no tenant is "
                "allowed); stock NetBox would accept any tenant",
            }.get(suffix, "sign-in fails")
            yield _finding(
                "setting.missing", "error", name,
                f"{backend.name} needs its {what}; {name} is not set ({consequence})",
                f"set {name} = '<{what.replace(' ', '-')}>' (from the provider's app registration)",
                backend.name,
            )


def check_backend_settings_names(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    enabled = {backend.name for backend in ctx.sso}
    if any(backend.spec is None for backend in settings.backends()):
        enabled.add("")  # a misspelled backend is reported as such; which settings it meant is unknown
    for spec in HARDENED_SPECS.values() if "" not in enabled else ():
        key = setting_prefix(spec.name) + "KEY"
        if spec.name not in enabled and key in settings.values:
            yield _finding(
                "setting.wrong_backend", "warning", key,
                f"{key} configures backend {spec.name!r}, which REMOTE_AUTH_BACKEND does not enable"
                + (f" (enabled: {', '.join(sorted(enabled))})" if enabled else ""),
                "make REMOTE_AUTH_BACKEND match your provider, or rename the settings to the enabled backend's",
                spec.name,
            )
    for backend in ctx.sso:
        prefix = backend.prefix
        for name in settings.values:
            if not name.startswith(prefix):
                continue
            suffix = name[len(prefix):]
            if suffix in IMPORTANT_SUFFIXES:
                continue
            close = suggest(suffix, list(IMPORTANT_SUFFIXES), cutoff=0.75)
            if close:
                yield _finding(
                    "setting.unknown", "warning", name,
                    f"social-core reads no setting named {name}; did you mean {prefix + close!r}?",
                    f"rename it to {prefix + close}", backend.name,
                )


def check_entra(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for backend in ctx.sso:
        if backend.kind != "entra":
            continue
        name, tenant = settings.backend_setting(backend, "TENANT_ID")
        if _is_set(tenant) and backend.name in STOCK_COMMON_TENANT:
            if settings.plugin_enabled:
                yield _finding(
                    "entra.tenant_ignored_by_stock", "info", name,
                    f"stock {backend.name} ignores {name} (it signs in through 'common' and accepts any tenant); "
                    "netbox-sso enforces it: only this tenant's users can sign in",
                    "", backend.name,
                )
            else:
                yield _finding(
                    "entra.tenant_ignored_by_stock", "warning", name,
                    f"stock {backend.name} ignores {name}: it signs in through 'common' and accepts users of "
                    "any Microsoft Entra tenant",
                    "enable netbox-sso (PLUGINS = ['netbox_sso']), which enforces the tenant",
                    backend.name,
                )
        allowed = settings.plugin_config.get("entra_allowed_tenants") or ()
        if _is_set(tenant) and str(tenant).strip().lower() in MULTI_TENANT and not allowed:
            yield _finding(
                "entra.multi_tenant", "error", name,
                f"{name} = {tenant!r} admits no tenant in netbox-sso: every login is refused until the allowed "
                "tenants are listed",
                f"set {name} to your directory (tenant) ID, or list tenant IDs in "
                "PLUGINS_CONFIG['netbox_sso']['entra_allowed_tenants']",
                backend.name,
            )
        host_name, host = settings.backend_setting(backend, "AUTHORITY_HOST")
        if isinstance(host, str) and host.startswith("http://"):
            yield from _insecure(settings, host_name, host, backend.name)


def check_oidc_endpoint(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for backend in ctx.sso:
        if backend.name != "oidc":
            continue
        name, value = settings.backend_setting(backend, "OIDC_ENDPOINT")
        if not _is_set(value):
            continue
        if not isinstance(value, str):
            yield _finding("config.invalid_type", "error", name, f"must be a URL string, got {type(value).__name__}",
                           f"write {name} = 'https://<provider-domain>/'", backend.name)
            continue
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield _finding(
                "oidc.endpoint_invalid", "error", name, f"{value!r} is not an https URL",
                f"write {name} = 'https://<provider-domain>/<issuer path>' (the issuer, as in the provider's "
                "discovery document)", backend.name,
            )
            continue
        if parts.scheme == "http":
            yield from _insecure(settings, name, value, backend.name)
        issuer = normalize_oidc_endpoint(value)
        if value.strip() != issuer:
            form = "the discovery-document URL" if value.rstrip("/").endswith(WELL_KNOWN_SUFFIX) else "a trailing slash"
            if settings.plugin_enabled:
                yield _finding(
                    "oidc.endpoint_form", "info", name,
                    f"{name} is {form}; netbox-sso uses the issuer {issuer!r} (stock NetBox appends "
                    "/.well-known/openid-configuration to the value as is, gets 404 and answers HTTP 500)",
                    "", backend.name,
                )
            else:
                yield _finding(
                    "oidc.endpoint_form", "error", name,
                    f"{name} is {form}: stock social-core appends /.well-known/openid-configuration to it, gets 404 "
                    "and NetBox answers HTTP 500 ('Unable to begin single sign-on')",
                    f"set {name} = {issuer!r} (the issuer), or enable netbox-sso, which accepts both forms",
                    backend.name,
                )


def check_okta(settings: NetBoxSettings, ctx: Context, config: SSOConfig | None) -> Iterator[Finding]:
    for backend in ctx.sso:
        if backend.kind != "okta":
            continue
        name, value = settings.backend_setting(backend, "API_URL")
        if isinstance(value, str) and value:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname or not _OKTA_PATH.match(parts.path or "/"):
                yield _finding(
                    "okta.api_url_form", "error", name,
                    f"{value!r} is not an Okta authorization server URL: it must end /oauth2/ (the org server) or "
                    "/oauth2/<auth-server-id>/ (a custom server)",
                    f"write {name} = 'https://<okta-domain>/oauth2/' or 'https://<okta-domain>/oauth2/default/'",
                    backend.name,
                )
            elif parts.scheme == "http":
                yield from _insecure(settings, name, value, backend.name)
        if config is None or config.rules_for(backend.name) is None:
            continue
        scope_name, scope = settings.backend_setting(backend, "SCOPE")
        if "groups" in (scope or ()):
            continue
        if settings.plugin_enabled:
            yield _finding(
                "okta.groups_scope", "info", scope_name,
                "Okta releases the groups claim only for the 'groups' scope; netbox-sso adds it at start-up "
                "because groups are mapped for okta-openidconnect",
                "", backend.name,
            )
        else:
            yield _finding(
                "okta.groups_scope", "warning", scope_name,
                "Okta releases the groups claim only for the 'groups' scope, which is not requested: groups "
                "never sync", f"set {scope_name} = ['groups']", backend.name,
            )


def _insecure(settings: NetBoxSettings, name: str, value: str, backend: str) -> Iterator[Finding]:
    host = urlsplit(value if "://" in value else f"http://{value}").hostname or ""
    if is_loopback_host(host):
        return
    weakened = bool(settings.plugin_config.get("allow_insecure_http"))
    yield _finding(
        "url.insecure_http", "warning" if weakened else "error", name,
        f"{value!r} uses plain http on {host!r}: the client secret and tokens travel in clear"
        + (" (allowed by allow_insecure_http)" if weakened else "; netbox-sso refuses it"),
        "use the provider's https URL", backend,
    )


def check_verify_ssl(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, value in settings.values.items():
        if name.startswith("SOCIAL_AUTH_") and name.endswith("VERIFY_SSL") and value is False:
            yield _finding(
                "tls.verify_disabled", "warning", name,
                f"{name} = False: the identity provider's certificate is not verified, so anyone on the path can "
                "impersonate it and mint identities",
                f"remove {name} and make NetBox trust the provider's CA instead: set REQUESTS_CA_BUNDLE=/path/to/"
                "ca-bundle.pem in NetBox's environment (a bundle with the system CAs plus your internal CA)",
            )


def check_weakening_settings(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    """ID_KEY, PKCE plain or off, SANITIZE_REDIRECTS off (VERIFY_SSL: check_verify_ssl)."""
    for weakening in find_weakenings(settings.values, [backend.name for backend in ctx.sso]):
        if not weakening.setting.endswith("VERIFY_SSL"):
            yield _finding("setting.weakening", "warning", weakening.setting, weakening.problem, weakening.fix)


def check_placeholders(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, value in settings.values.items():
        if not (name.startswith("SOCIAL_AUTH_") or name in ("REMOTE_AUTH_BACKEND", "PLUGINS_CONFIG")):
            continue
        for where, text in _strings(value, name):
            match = _PLACEHOLDER.search(text)
            if match:
                yield _finding(
                    "config.placeholder", "error", where,
                    f"still holds the manual's placeholder {match.group(0)}",
                    "replace it with your value (from the provider's app registration)",
                )
                break


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, f"{path}[{key!r}]")
            yield from _strings(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


# --- pipeline ---------------------------------------------------------------------------------------------


def check_pipeline(settings: NetBoxSettings, ctx: Context, config: SSOConfig | None) -> Iterator[Finding]:
    raw = settings.get("SOCIAL_AUTH_PIPELINE")
    if raw is None:
        return
    name = "SOCIAL_AUTH_PIPELINE"
    if isinstance(raw, str) or not isinstance(raw, list | tuple) or not all(isinstance(s, str) for s in raw):
        yield _finding("config.invalid_type", "error", name, "must be a tuple of dotted step paths",
                       "copy NetBox's default pipeline and edit it")
        return
    steps = list(raw)
    for step in sorted({s for s in steps if steps.count(s) > 1}):
        yield _finding("pipeline.duplicate_step", "error", name, f"{step} is listed {steps.count(step)} times",
                       "list each step once")
    known = known_pipeline_steps()
    for step in steps:
        if step in known:
            continue
        if step.startswith(("social_core.", "netbox_sso.", "netbox.")) or not _module_exists(step):
            close = suggest(step, sorted(known))
            yield _finding(
                "pipeline.unknown_step", "error", f"{name}[{steps.index(step)}]",
                f"{step!r} does not exist; every sign-in fails" + (f"; did you mean {close!r}?" if close else ""),
                f"use {close!r}" if close else "remove it or install the package that provides it",
            )
    positions: dict[str, int] = {}
    for role, paths in STEP_ROLES:
        found = [index for index, step in enumerate(steps) if step in paths]
        if found:
            positions[role] = found[0]
    for role, _paths in STEP_ROLES:
        if role in positions:
            continue
        if role in REQUIRED_ROLES or (role == "get_username" and "create_user" in positions):
            yield _finding(
                "pipeline.missing_step", "error", name,
                f"the {role} step is missing: " + ("create_user has no username" if role == "get_username"
                                                    else "no one can sign in"),
                f"add social_core.pipeline.{'user' if role == 'get_username' else 'social_auth'}.{role} "
                "(NetBox's default pipeline has it)",
            )
        else:
            effect = {"create_user": "new users are never created (only accounts already linked can sign in)",
                      "load_extra_data": "tokens and expiry are not kept",
                      "user_details": "names and email addresses are never updated from the provider"}[role]
            yield _finding("pipeline.missing_step", "warning", name, f"the {role} step is missing: {effect}",
                           f"add the {role} step unless that is intended")
    ordered = [role for role, _ in STEP_ROLES if role in positions]
    for before, after in itertools.pairwise(ordered):
        if positions[before] > positions[after]:
            yield _finding(
                "pipeline.order", "error", name,
                f"{before} must run before {after}, but is listed after it",
                "order the steps as NetBox's default pipeline: social_details, social_uid, social_user, "
                "get_username, create_user, associate_user, load_extra_data, user_details",
            )
    for step in steps:
        if step in ASSOCIATE_BY_EMAIL:
            if settings.plugin_enabled:
                yield _finding(
                    "pipeline.associate_by_email", "info", name,
                    "associate_by_email links a sign-in to an existing account with the same email; netbox-sso "
                    "replaces it with a safe version (verified email only, never superusers or break-glass "
                    "accounts)", "",
                )
            else:
                yield _finding(
                    "pipeline.associate_by_email", "error", name,
                    "associate_by_email links a sign-in to any existing account with the same email, verified or "
                    "not (account takeover, 'nOAuth')",
                    "remove it, or enable netbox-sso, which makes it safe",
                )
    if REFERENCE_ENTRA_STEP in steps:
        yield _finding(
            "pipeline.reference_step", "info" if settings.plugin_enabled else "error", name,
            f"{REFERENCE_ENTRA_STEP} is not an installed module; "
            + ("netbox-sso translates it into its own group-mapping steps at start-up" if settings.plugin_enabled
               else "every sign-in fails with ImportError"),
            "" if settings.plugin_enabled else "enable netbox-sso (PLUGINS = ['netbox_sso'])",
        )
    try:
        assemble(steps, mapping_enabled=bool(config and config.backends))
    except ValueError as error:
        yield _finding("pipeline.order", "error", name, str(error), "list the mapping steps as described")


def _module_exists(step: str) -> bool:
    module = step.rpartition(".")[0]
    try:
        return bool(module) and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def known_pipeline_steps() -> frozenset[str]:
    """social-core's pipeline functions (read from its source), NetBox's handler and ours."""
    steps = set(OTHER_KNOWN_STEPS)
    for _role, paths in STEP_ROLES:
        steps |= paths
    spec = importlib.util.find_spec("social_core.pipeline")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        for file in Path(directory).glob("*.py"):
            try:
                tree = ast.parse(file.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            steps |= {f"social_core.pipeline.{file.stem}.{node.name}" for node in tree.body
                      if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}
    return frozenset(steps)


# --- mapping ----------------------------------------------------------------------------------------------


def parse_mapping(settings: NetBoxSettings) -> tuple[SSOConfig | None, list[Finding]]:
    """The mapping rules as NetBox would load them, and every problem as a finding."""
    plugins = settings.get("PLUGINS_CONFIG")
    if plugins is not None and not isinstance(plugins, Mapping):
        return None, [_finding("config.invalid_type", "error", "PLUGINS_CONFIG",
                               f"must be a dict, got {type(plugins).__name__}", "write PLUGINS_CONFIG = {...}")]
    defaults = settings.get("REMOTE_AUTH_DEFAULT_GROUPS") or ()
    if isinstance(defaults, str) or not isinstance(defaults, list | tuple):
        return None, [_finding("config.invalid_type", "error", "REMOTE_AUTH_DEFAULT_GROUPS",
                               f"must be a list of group names, got {defaults!r}",
                               "write e.g. REMOTE_AUTH_DEFAULT_GROUPS = ['Viewers']")]
    try:
        config = parse_config(
            (plugins or {}).get("netbox_sso"),
            pipeline_config=settings.get("SOCIAL_AUTH_PIPELINE_CONFIG"),
            remote_auth_default_groups=tuple(defaults),
        )
    except ConfigError as error:
        return None, [_finding("mapping.invalid", "error", p.path, p.problem, p.fix) for p in error.problems]
    findings = [_finding(w.code, "warning", w.path, w.message, w.fix) for w in config.warnings]
    return config, findings


def check_mapping_backends(settings: NetBoxSettings, ctx: Context, config: SSOConfig | None) -> Iterator[Finding]:
    if config is None or not ctx.sso:
        return
    for warning in check_backends(config, [backend.name for backend in ctx.sso]):
        yield _finding(warning.code, "warning", warning.path, warning.message, warning.fix)
    defaults = settings.get("REMOTE_AUTH_DEFAULT_GROUPS") or ()
    for backend in ctx.sso:
        if config.rules_for(backend.name) is None and not defaults:
            yield _finding(
                "mapping.absent", "info", f"PLUGINS_CONFIG['netbox_sso']['backends'][{backend.name!r}]",
                f"users signing in through {backend.name} get no groups and no permissions: they see 'You do not "
                "have permission' until an administrator assigns groups",
                "map the provider's groups to NetBox groups (group_map, superuser_groups) or set "
                "REMOTE_AUTH_DEFAULT_GROUPS", backend.name,
            )


def mapped_groups(config: SSOConfig) -> dict[str, tuple[str, bool]]:
    """NetBox group -> (the setting naming it, whether netbox-sso creates it)."""
    found: dict[str, tuple[str, bool]] = {}
    for rules in config.backends.values():
        targets: set[str] = set(rules.managed_groups) | set(rules.default_groups)
        for group in sorted(targets):
            created = found.get(group, ("", False))[1] or rules.create_groups
            found[group] = (rules.setting, created)
    return found


def check_groups_exist(
    config: SSOConfig | None, existing: Collection[str] | None, error: str = ""
) -> Iterator[Finding]:
    """Mapped NetBox groups that do not exist (only with `--database`)."""
    if config is None:
        return
    if existing is None:
        yield _finding("groups.unchecked", "info", "DATABASES", f"mapped groups not checked: {error}",
                       "run check where NetBox's database is reachable")
        return
    for group, (setting, created) in sorted(mapped_groups(config).items()):
        if group in existing:
            continue
        if created:
            yield _finding("groups.missing", "info", setting,
                           f"NetBox group {group!r} does not exist yet; create_groups makes it at the first login "
                           "that needs it", "")
        else:
            yield _finding("groups.missing", "warning", setting,
                           f"NetBox group {group!r} does not exist, so mapping to it does nothing (and is logged)",
                           f"create the group {group!r} in NetBox (Admin > Groups), or set 'create_groups': True")


def netbox_group_names(settings: NetBoxSettings, timeout: float = 5.0) -> set[str]:
    """users_group names from NetBox's PostgreSQL database (DATABASES['default'] or legacy DATABASE)."""
    import psycopg  # NetBox's own driver; imported here so `check` without --database never needs it

    databases = settings.get("DATABASES")
    db = databases.get("default") if isinstance(databases, Mapping) else settings.get("DATABASE")
    if not isinstance(db, Mapping):
        raise ValueError("DATABASES['default'] is not set")
    params = {"dbname": db.get("NAME"), "user": db.get("USER"), "password": db.get("PASSWORD"),
              "host": db.get("HOST") or None, "port": db.get("PORT") or None, "connect_timeout": max(1, int(timeout))}
    with psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")}) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM users_group")}


# --- sessions and secrets ---------------------------------------------------------------------------------


def check_session_age(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    # NetBox copies LOGIN_TIMEOUT into SESSION_COOKIE_AGE when set (netbox/settings.py).
    name = "LOGIN_TIMEOUT" if settings.get("LOGIN_TIMEOUT") is not None else "SESSION_COOKIE_AGE"
    value = settings.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        yield _finding("config.invalid_type", "error", name, f"must be a number of seconds, got {value!r}",
                       f"write e.g. {name} = 86400")
        return
    if value < MIN_SESSION_AGE:
        yield _finding(
            "session.cookie_age", "warning", name,
            f"{name} = {value:g} s: sessions end after less than {MIN_SESSION_AGE // 60} minutes, so users are sent "
            "back through the identity provider mid-task", f"use at least {MIN_SESSION_AGE} (the reference shows 3600)",
        )
    elif value > MAX_SESSION_AGE:
        yield _finding(
            "session.cookie_age", "warning", name,
            f"{name} = {value:g} s ({value / 86400:.0f} days): a session outlives the account's disabling at the "
            "identity provider by that long (NetBox does not refresh tokens)",
            f"use at most {MAX_SESSION_AGE // 86400} days; the reference suggests 86400 (24 hours)",
        )


def check_cleartext_secrets(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, line in sorted(settings.literal_strings.items(), key=lambda item: item[1]):
        is_secret = name == "SECRET_KEY" or (name.startswith("SOCIAL_AUTH_") and name.endswith("_SECRET"))
        value = settings.get(name)
        if not is_secret or not isinstance(value, str) or not value or _PLACEHOLDER.search(value):
            continue
        yield _finding(
            "secret.cleartext", "warning", name,
            f"{name} is written in clear in {settings.path.name} (line {line}): anyone who can read the file, a "
            "backup or the repository holding it has it",
            f"read it from the environment or a file readable by NetBox only: {name} = os.environ['{name}'] or "
            f"{name} = Path('/etc/netbox/{name.lower()}').read_text().strip()",
        )


# --- driver -----------------------------------------------------------------------------------------------


class Context:
    """What several checks need: the enabled SSO backends."""

    def __init__(self, settings: NetBoxSettings) -> None:
        self.sso: list[Backend] = settings.sso_backends() if _backends_readable(settings) else []


def _backends_readable(settings: NetBoxSettings) -> bool:
    return isinstance(settings.get("REMOTE_AUTH_BACKEND", ""), str | list | tuple)


SimpleCheck = Callable[[NetBoxSettings, Context], Iterator[Finding]]
CHECKS: tuple[SimpleCheck, ...] = (
    check_backends_exist,
    check_placeholders,
    check_required_settings,
    check_backend_settings_names,
    check_entra,
    check_oidc_endpoint,
    check_verify_ssl,
    check_weakening_settings,
    check_session_age,
    check_cleartext_secrets,
)


def run_checks(
    settings: NetBoxSettings,
    *,
    existing_groups: Collection[str] | None = None,
    groups_error: str | None = None,
) -> list[Finding]:
    """Every static finding. `existing_groups` (from the database) or `groups_error` enables the group check."""
    ctx = Context(settings)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(settings, ctx))
    config, mapping = parse_mapping(settings)
    findings.extend(mapping)
    findings.extend(check_okta(settings, ctx, config))
    findings.extend(check_pipeline(settings, ctx, config))
    findings.extend(check_mapping_backends(settings, ctx, config))
    if existing_groups is not None or groups_error is not None:
        findings.extend(check_groups_exist(config, existing_groups, groups_error or ""))
    return findings
