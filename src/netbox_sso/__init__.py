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

    class NetBoxSSOConfig(PluginConfig):
        name = "netbox_sso"
        verbose_name = "Single sign-on (OIDC)"
        description = "Hardened OpenID Connect single sign-on with claim-based group mapping"
        version = __version__
        author = "netbox-sso"
        base_url = "sso"
        min_version = "4.7.0"
        max_version = "4.7.99"
        default_settings = {}
        # Every SSO failure under /oauth/ becomes a login-page message and an audit line (never HTTP 500).
        middleware = ["netbox_sso.middleware.SSOFailureMiddleware"]
        required_settings = []

        def ready(self) -> None:
            super().ready()
            from netbox_sso.startup import harden_settings

            harden_settings()

    config = NetBoxSSOConfig
