"""netbox-sso: complete, hardened OpenID Connect single sign-on for NetBox.

This module holds only the NetBox PluginConfig. The pure core (`netbox_sso.core`), the local identity
provider (`netbox_sso.devidp`) and the command line work without NetBox installed, so the PluginConfig
is defined only when NetBox is importable.
"""

from __future__ import annotations

__version__ = "0.1.0"

try:
    from netbox.plugins import PluginConfig
except ImportError:  # plain Django site, CLI or devidp without NetBox
    PluginConfig = None

if PluginConfig is not None:
    from netbox_sso.core import settings_schema

    class NetBoxSSOConfig(PluginConfig):
        name = "netbox_sso"
        verbose_name = "Single sign-on (OIDC)"
        description = "Hardened OpenID Connect single sign-on with claim-based group mapping"
        version = __version__
        author = "netbox-sso"
        base_url = "sso"
        min_version = "4.7.0"
        max_version = "4.7.99"
        # Every key with its default, validator and documentation: netbox_sso.core.settings_schema
        # (docs/configuration.md); the values are validated in ready(), before the first request.
        default_settings = settings_schema.defaults()
        middleware = [
            # Every SSO failure under /oauth/ becomes a login-page message and an audit event (never HTTP 500).
            "netbox_sso.middleware.SSOFailureMiddleware",
            # Callback latency, user creation during SSO, debug claims, 403 shortly after an SSO login.
            "netbox_sso.audit_middleware.SSOAuditMiddleware",
            # Sessions that follow the provider: lifetime, refresh, RP-initiated and back-channel logout,
            # and the login page's redirect to SSO (netbox_sso.sessions).
            "netbox_sso.sessions.SSOSessionMiddleware",
            # A password sign-in refused by `local_login` gets the reason on the login page.
            "netbox_sso.local_login.LocalLoginMiddleware",
            # /graphql/ with identity-provider access tokens (a no-op unless api_tokens is configured).
            "netbox_sso.api_tokens.graphql.GraphQLBearerMiddleware",
        ]
        required_settings: list[str] = []
        # Mapping rules in GraphQL (mapping_rule, mapping_rule_list); the package holds types, filters and schema.
        graphql_schema = "graphql.schema.schema"

        def ready(self) -> None:
            super().ready()
            from netbox_sso.startup import harden_settings

            harden_settings()

            from netbox_sso import jobs, rule_signals, signals  # noqa: F401 - jobs registers the housekeeping job

            signals.connect()
            rule_signals.connect()
            from django.contrib.auth.signals import user_logged_in

            from netbox_sso.scim.lifecycle import index_login

            # Sessions indexed per user, so SCIM deprovisioning deletes them on every instance.
            user_logged_in.connect(index_login, dispatch_uid="netbox_sso.scim.index_login")

    config = NetBoxSSOConfig
