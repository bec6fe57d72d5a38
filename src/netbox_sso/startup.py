"""Start-up adaptation of NetBox's settings (runs in the plugin's ready()).

Administrators paste the reference manual's configuration verbatim, naming social-core's stock backend
classes and, for Entra ID, a proprietary pipeline step. We swap each stock class for its hardened subclass
(same backend name, same redirect URI, same settings), fit our pipeline steps in, validate the mapping
rules, and say each change once in the log, so the pasted configuration becomes safe without editing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from netbox_sso.backends.catalog import HARDENED_BACKENDS
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.weakening import find_weakenings
from netbox_sso.pipeline.assemble import assemble
from netbox_sso.unavailable import MIDDLEWARE_PATH as UNAVAILABLE_MIDDLEWARE

logger = logging.getLogger("netbox_sso")


def harden_settings() -> None:
    """Swap stock backends, validate every setting and apply the assembled pipeline (pipeline.assemble)."""
    backends = list(settings.AUTHENTICATION_BACKENDS)
    for index, path in enumerate(backends):
        replacement = HARDENED_BACKENDS.get(path)
        if replacement:
            backends[index] = replacement
            logger.info("netbox-sso: using hardened backend %s in place of %s", replacement, path)
    settings.AUTHENTICATION_BACKENDS = backends
    # First in the chain, so it sees the response of NetBox's own middleware failing (Redis or PostgreSQL
    # down); the handler chain is built after the apps are ready, so this takes effect.
    if UNAVAILABLE_MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [UNAVAILABLE_MIDDLEWARE, *settings.MIDDLEWARE]

    from netbox_sso.backends.config import plugin_values
    from netbox_sso.conf import file_config

    # configuration.py's rules only: the database may not be migrated (or reachable) while NetBox starts;
    # database rules are validated when they are saved and merged at login (netbox_sso.rule_set).
    try:
        # Every setting is validated here, once, before the first request (core.settings_schema).
        config = file_config()
        plugin_values()
    except ConfigError as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    for warning in config.warnings:
        logger.warning("netbox-sso: %s", warning)
    from netbox_sso.local_login import restrict_password_backend

    restrict_password_backend()

    debug_claims = bool(plugin_values()["debug_claims"])
    try:
        assembly = assemble(
            settings.SOCIAL_AUTH_PIPELINE,
            mapping_enabled=bool(config.backends),
            database_rules=True,
            capture_claims=debug_claims,
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    settings.SOCIAL_AUTH_PIPELINE = assembly.steps
    for notice in assembly.notices:
        logger.info("netbox-sso: %s", notice)
    if debug_claims:
        logger.warning(
            "netbox-sso: debug_claims is on: the claims of every SSO login (names, identifiers, groups) "
            "are stored as claims_captured events, tokens and secrets redacted; turn it off when done"
        )

    request_groups_scope(config.backends)
    from netbox_sso.sessions import configure_sessions

    configure_sessions()
    use_renaming_session_store()
    install_api_tokens()
    protect_audit_trail()
    warn_weakened()
    preload_login_path()


def preload_login_path() -> None:
    """Import at start-up what a worker's first SSO callback would otherwise import while the user waits.

    social-core imports each SOCIAL_AUTH_PIPELINE step's module when the pipeline first runs, and the
    first RS256 signature check loads cryptography's OpenSSL backend: tens of milliseconds on the first
    login after a worker starts. A step that cannot be imported is left for social-core to report.
    """
    import contextlib

    from social_core.utils import module_member

    for step in settings.SOCIAL_AUTH_PIPELINE:
        with contextlib.suppress(Exception):
            module_member(step)
    with contextlib.suppress(ImportError):
        import cryptography.hazmat.backends.openssl  # noqa: F401
    with contextlib.suppress(ImportError):
        import django.contrib.postgres.expressions  # noqa: F401


def use_renaming_session_store() -> None:
    """Django's database session store -> ours, which writes a login's key change as one UPDATE.

    Same table, same data, same cookie; see `netbox_sso.session_store`. Any other SESSION_ENGINE (NetBox's
    file store with SESSION_FILE_PATH, a cache store) is left as configured.
    """
    from netbox_sso.session_store import DJANGO_DB_ENGINE, ENGINE

    if getattr(settings, "SESSION_ENGINE", DJANGO_DB_ENGINE) == DJANGO_DB_ENGINE:
        settings.SESSION_ENGINE = ENGINE
        logger.info(
            "netbox-sso: SESSION_ENGINE %s -> %s (the same database sessions; a login's new session key "
            "is written in one UPDATE instead of four statements)",
            DJANGO_DB_ENGINE,
            ENGINE,
        )


def install_api_tokens() -> None:
    """Validate PLUGINS_CONFIG['netbox_sso']['api_tokens'] and, when set, accept provider access tokens
    on the REST API (GraphQL: `netbox_sso.api_tokens.graphql`)."""
    from netbox_sso.api_tokens.authentication import install
    from netbox_sso.api_tokens.config import policies

    try:
        configured = policies()
    except ConfigError as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    known = set(load_backend_names())
    for name in configured:
        if name not in known:
            raise ImproperlyConfigured(
                f"netbox-sso: PLUGINS_CONFIG['netbox_sso']['api_tokens'][{name!r}]: no such authentication backend "
                f"is configured. Fix: use one of {', '.join(sorted(known)) or '(none: set REMOTE_AUTH_BACKEND)'}"
            )
    install()


def load_backend_names() -> list[str]:
    from social_core.backends.utils import load_backends

    return list(load_backends(settings.AUTHENTICATION_BACKENDS, force_load=True))


#: The audit trail's model as NetBox's permission settings name it.
AUDIT_MODEL = ("netbox_sso", "ssoevent")


def protect_audit_trail() -> None:
    """SSO events need view permission even under EXEMPT_VIEW_PERMISSIONS = ['*'].

    They name users, their groups, addresses and failures: like NetBox's users and tokens, which NetBox
    keeps out of the wildcard (EXEMPT_EXCLUDE_MODELS). Naming the model itself in EXEMPT_VIEW_PERMISSIONS
    still exempts it: an explicit opt-in, said at WARNING.
    """
    excluded = tuple(getattr(settings, "EXEMPT_EXCLUDE_MODELS", ()))
    if AUDIT_MODEL not in excluded:
        settings.EXEMPT_EXCLUDE_MODELS = (*excluded, AUDIT_MODEL)
    if ".".join(AUDIT_MODEL) in getattr(settings, "EXEMPT_VIEW_PERMISSIONS", ()):
        logger.warning(
            "netbox-sso: EXEMPT_VIEW_PERMISSIONS names netbox_sso.ssoevent: everyone who can reach "
            "NetBox can read the SSO audit trail"
        )


#: Backends whose provider sends groups only when a `groups` scope is requested -> their SCOPE setting.
GROUPS_SCOPE_SETTINGS: dict[str, str] = {"okta-openidconnect": "SOCIAL_AUTH_OKTA_OPENIDCONNECT_SCOPE"}


def request_groups_scope(mapped_backends: Collection[str]) -> None:
    """Okta releases the groups claim only for the `groups` scope: request it when groups are mapped.

    The reference's troubleshooting ("Okta: add groups scope") is the commonest cause of groups not
    syncing; with mapping configured, asking for the scope is never wrong, so we do it and say so.
    """
    for backend, setting in GROUPS_SCOPE_SETTINGS.items():
        if backend not in mapped_backends:
            continue
        scope = list(getattr(settings, setting, None) or [])
        if "groups" not in scope:
            setattr(settings, setting, [*scope, "groups"])
            logger.info("netbox-sso: %s: added the 'groups' scope, because groups are mapped for %s", setting, backend)


def warn_weakened() -> None:
    """Every setting that weakens sign-in is an explicit opt-in, said once at WARNING on start-up."""
    from netbox_sso.backends.config import hardening

    cfg = hardening()
    if cfg.allow_insecure_http:
        logger.warning(
            "netbox-sso: allow_insecure_http is on: identity-provider URLs may use plain http "
            "off loopback (tokens and the client secret can be intercepted)"
        )
    if not cfg.verify_discovery_issuer:
        logger.warning(
            "netbox-sso: verify_discovery_issuer is off: a discovery document naming another issuer is trusted"
        )
    entra = [path for path in settings.AUTHENTICATION_BACKENDS if path.startswith("netbox_sso.backends.entra.")]
    tenant = str(getattr(settings, "SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID", "") or "common").lower()
    if entra and tenant in ("common", "organizations") and not cfg.entra_allowed_tenants:
        logger.warning(
            "netbox-sso: SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID is %r and "
            "PLUGINS_CONFIG['netbox_sso']['entra_allowed_tenants'] is empty: every Entra ID sign-in "
            "will be refused; set TENANT_ID to your tenant ID, or list the allowed tenants",
            tenant,
        )
    from django.utils.module_loading import import_string

    names = []
    for path in settings.AUTHENTICATION_BACKENDS:
        with contextlib.suppress(ImportError):
            names.append(str(getattr(import_string(path), "name", "") or ""))
    values = {name: getattr(settings, name) for name in dir(settings) if name.startswith("SOCIAL_AUTH_")}
    for weakening in find_weakenings(values, [name for name in names if name]):
        logger.warning("netbox-sso: %s (fix: %s)", weakening.problem, weakening.fix)
