"""Start-up adaptation of NetBox's settings (runs in the plugin's ready()).

Administrators paste the reference manual's configuration verbatim, naming social-core's stock backend
classes and, for Entra ID, a proprietary pipeline step. We swap each stock class for its hardened subclass
(same backend name, same redirect URI, same settings), fit our pipeline steps in, validate the mapping
rules, and say each change once in the log, so the pasted configuration becomes safe without editing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from netbox_sso.core.errors import ConfigError
from netbox_sso.pipeline.assemble import assemble_pipeline

logger = logging.getLogger("netbox_sso")

#: Stock social-core class path -> our hardened subclass with the same backend name.
HARDENED_BACKENDS: dict[str, str] = {
    "social_core.backends.open_id_connect.OpenIdConnectAuth": "netbox_sso.backends.oidc.OpenIdConnect",
}


def harden_settings() -> None:
    """Swap stock backends, validate the rules and assemble the pipeline."""
    backends = list(settings.AUTHENTICATION_BACKENDS)
    for index, path in enumerate(backends):
        replacement = HARDENED_BACKENDS.get(path)
        if replacement:
            backends[index] = replacement
            logger.info("netbox-sso: using hardened backend %s in place of %s", replacement, path)
    settings.AUTHENTICATION_BACKENDS = backends

    from netbox_sso.conf import sso_config

    try:
        config = sso_config()
    except ConfigError as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    for warning in config.warnings:
        logger.warning("netbox-sso: %s", warning)

    try:
        pipeline, notices = assemble_pipeline(settings.SOCIAL_AUTH_PIPELINE, mapping_enabled=bool(config.backends))
    except ValueError as error:
        raise ImproperlyConfigured(f"netbox-sso: {error}") from error
    settings.SOCIAL_AUTH_PIPELINE = pipeline
    for notice in notices:
        logger.info("netbox-sso: %s", notice)
