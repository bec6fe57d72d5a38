"""Checks of the backends and their social-core settings: names, required settings, endpoint forms, TLS."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from netbox_sso.core.endpoints import WELL_KNOWN_SUFFIX, normalize_oidc_endpoint
from netbox_sso.core.oidc_checks import is_loopback_host
from netbox_sso.core.weakening import find_weakenings
from netbox_sso.diagnostics.checks.context import PLACEHOLDER, Context, finding, is_set
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import HARDENED_SPECS, NetBoxSettings, known_backend_paths, setting_prefix, suggest

MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
#: Entra backends that always used the `common` tenant in stock social-core (TENANT_ID ignored).
STOCK_COMMON_TENANT = frozenset({"azuread-oauth2", "azuread-oauth2-v2"})
_OKTA_PATH = re.compile(r"^/oauth2(?:/[^/]+)?/?$")
#: Backend setting suffixes worth a "did you mean" when a near spelling is used instead.
IMPORTANT_SUFFIXES = (
    "KEY",
    "SECRET",
    "OIDC_ENDPOINT",
    "TENANT_ID",
    "API_URL",
    "AUTHORITY_HOST",
    "SCOPE",
    "VERIFY_SSL",
    "ID_TOKEN_ISSUER",
    "RESOURCE",
    "USE_PKCE",
    "IGNORE_DEFAULT_SCOPE",
    "AUTH_EXTRA_ARGUMENTS",
)
_KIND_SETTINGS = {"generic": ["OIDC_ENDPOINT"], "okta": ["API_URL"], "entra": ["TENANT_ID"]}


def check_backends_exist(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    raw = settings.get("REMOTE_AUTH_BACKEND")
    if raw is not None and not isinstance(raw, str | list | tuple):
        yield finding(
            "config.invalid_type",
            "error",
            "REMOTE_AUTH_BACKEND",
            f"must be a class path or a list of them, got {type(raw).__name__}",
            "write REMOTE_AUTH_BACKEND = 'social_core.backends.open_id_connect.OpenIdConnectAuth'",
        )
        return
    unknown = False
    for backend in settings.backends():
        if backend.spec is None:
            unknown = True
            close = suggest(backend.path, known_backend_paths())
            yield finding(
                "backend.unknown",
                "error",
                backend.setting,
                f"{backend.path!r} is not an authentication backend class (no such module or class); NetBox "
                "fails at the first sign-in" + (f"; did you mean {close!r}?" if close else ""),
                f"use {close!r}"
                if close
                else "use one of the reference's classes: social_core.backends.open_id_connect.OpenIdConnectAuth, "
                "social_core.backends.azuread.AzureADOAuth2, social_core.backends.okta_openidconnect.OktaOpenIdConnect",
            )
        elif backend.kind == "social-core":
            yield finding(
                "backend.not_hardened",
                "info",
                backend.setting,
                f"{backend.path} ({backend.name!r}) is social-core's class as is: netbox-sso hardens only the OIDC, "
                "Entra ID and Okta backends, and its group mapping works with any",
                "",
                backend.name,
            )
    if not ctx.sso and not unknown:
        yield finding(
            "backend.none",
            "warning",
            "REMOTE_AUTH_BACKEND",
            "no single sign-on backend is enabled, so NetBox shows no SSO button",
            "set REMOTE_AUTH_BACKEND to your provider's class (see the reference's blocks)",
        )
    elif not settings.plugin_enabled:
        yield finding(
            "plugin.not_enabled",
            "warning",
            "PLUGINS",
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
            if is_set(value):
                continue
            what = {
                "KEY": "client ID",
                "SECRET": "client secret",
                "OIDC_ENDPOINT": "issuer URL",
                "API_URL": "authorization server URL",
                "TENANT_ID": "directory (tenant) ID",
            }[suffix]
            consequence = {
                "TENANT_ID": "netbox-sso then uses the 'common' endpoint and refuses every login (no tenant is "
                "allowed); stock NetBox would accept any tenant",
            }.get(suffix, "sign-in fails")
            yield finding(
                "setting.missing",
                "error",
                name,
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
            yield finding(
                "setting.wrong_backend",
                "warning",
                key,
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
            suffix = name[len(prefix) :]
            if suffix in IMPORTANT_SUFFIXES:
                continue
            close = suggest(suffix, list(IMPORTANT_SUFFIXES), cutoff=0.75)
            if close:
                yield finding(
                    "setting.unknown",
                    "warning",
                    name,
                    f"social-core reads no setting named {name}; did you mean {prefix + close!r}?",
                    f"rename it to {prefix + close}",
                    backend.name,
                )


def check_entra(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for backend in ctx.sso:
        if backend.kind != "entra":
            continue
        name, tenant = settings.backend_setting(backend, "TENANT_ID")
        if is_set(tenant) and backend.name in STOCK_COMMON_TENANT:
            if settings.plugin_enabled:
                yield finding(
                    "entra.tenant_ignored_by_stock",
                    "info",
                    name,
                    f"stock {backend.name} ignores {name} (it signs in through 'common' and accepts any tenant); "
                    "netbox-sso enforces it: only this tenant's users can sign in",
                    "",
                    backend.name,
                )
            else:
                yield finding(
                    "entra.tenant_ignored_by_stock",
                    "warning",
                    name,
                    f"stock {backend.name} ignores {name}: it signs in through 'common' and accepts users of "
                    "any Microsoft Entra tenant",
                    "enable netbox-sso (PLUGINS = ['netbox_sso']), which enforces the tenant",
                    backend.name,
                )
        allowed = settings.plugin_config.get("entra_allowed_tenants") or ()
        if is_set(tenant) and str(tenant).strip().lower() in MULTI_TENANT and not allowed:
            yield finding(
                "entra.multi_tenant",
                "error",
                name,
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
        if not is_set(value):
            continue
        if not isinstance(value, str):
            yield finding(
                "config.invalid_type",
                "error",
                name,
                f"must be a URL string, got {type(value).__name__}",
                f"write {name} = 'https://<provider-domain>/'",
                backend.name,
            )
            continue
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield finding(
                "oidc.endpoint_invalid",
                "error",
                name,
                f"{value!r} is not an https URL",
                f"write {name} = 'https://<provider-domain>/<issuer path>' (the issuer, as in the provider's "
                "discovery document)",
                backend.name,
            )
            continue
        if parts.scheme == "http":
            yield from _insecure(settings, name, value, backend.name)
        issuer = normalize_oidc_endpoint(value)
        if value.strip() != issuer:
            form = "the discovery-document URL" if value.rstrip("/").endswith(WELL_KNOWN_SUFFIX) else "a trailing slash"
            if settings.plugin_enabled:
                yield finding(
                    "oidc.endpoint_form",
                    "info",
                    name,
                    f"{name} is {form}; netbox-sso uses the issuer {issuer!r} (stock NetBox appends "
                    "/.well-known/openid-configuration to the value as is, gets 404 and answers HTTP 500)",
                    "",
                    backend.name,
                )
            else:
                yield finding(
                    "oidc.endpoint_form",
                    "error",
                    name,
                    f"{name} is {form}: stock social-core appends /.well-known/openid-configuration to it, gets 404 "
                    "and NetBox answers HTTP 500 ('Unable to begin single sign-on')",
                    f"set {name} = {issuer!r} (the issuer), or enable netbox-sso, which accepts both forms",
                    backend.name,
                )


def check_okta(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    config = ctx.config
    for backend in ctx.sso:
        if backend.kind != "okta":
            continue
        name, value = settings.backend_setting(backend, "API_URL")
        if isinstance(value, str) and value:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname or not _OKTA_PATH.match(parts.path or "/"):
                yield finding(
                    "okta.api_url_form",
                    "error",
                    name,
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
            yield finding(
                "okta.groups_scope",
                "info",
                scope_name,
                "Okta releases the groups claim only for the 'groups' scope; netbox-sso adds it at start-up "
                "because groups are mapped for okta-openidconnect",
                "",
                backend.name,
            )
        else:
            yield finding(
                "okta.groups_scope",
                "warning",
                scope_name,
                "Okta releases the groups claim only for the 'groups' scope, which is not requested: groups never sync",
                f"set {scope_name} = ['groups']",
                backend.name,
            )


def _insecure(settings: NetBoxSettings, name: str, value: str, backend: str) -> Iterator[Finding]:
    host = urlsplit(value if "://" in value else f"http://{value}").hostname or ""
    if is_loopback_host(host):
        return
    weakened = bool(settings.plugin_config.get("allow_insecure_http"))
    yield finding(
        "url.insecure_http",
        "warning" if weakened else "error",
        name,
        f"{value!r} uses plain http on {host!r}: the client secret and tokens travel in clear"
        + (" (allowed by allow_insecure_http)" if weakened else "; netbox-sso refuses it"),
        "use the provider's https URL",
        backend,
    )


def check_verify_ssl(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, value in settings.values.items():
        if name.startswith("SOCIAL_AUTH_") and name.endswith("VERIFY_SSL") and value is False:
            yield finding(
                "tls.verify_disabled",
                "warning",
                name,
                f"{name} = False: the identity provider's certificate is not verified, so anyone on the path can "
                "impersonate it and mint identities",
                f"remove {name} and make NetBox trust the provider's CA instead: set REQUESTS_CA_BUNDLE=/path/to/"
                "ca-bundle.pem in NetBox's environment (a bundle with the system CAs plus your internal CA)",
            )


def check_weakening_settings(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    """ID_KEY, PKCE plain or off, SANITIZE_REDIRECTS off (VERIFY_SSL: check_verify_ssl)."""
    for weakening in find_weakenings(settings.values, [backend.name for backend in ctx.sso]):
        if not weakening.setting.endswith("VERIFY_SSL"):
            yield finding("setting.weakening", "warning", weakening.setting, weakening.problem, weakening.fix)


def check_placeholders(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, value in settings.values.items():
        if not (name.startswith("SOCIAL_AUTH_") or name in ("REMOTE_AUTH_BACKEND", "PLUGINS_CONFIG")):
            continue
        for where, text in _strings(value, name):
            match = PLACEHOLDER.search(text)
            if match:
                yield finding(
                    "config.placeholder",
                    "error",
                    where,
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
