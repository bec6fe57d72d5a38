"""Hardened Okta backend under social-core's name `okta-openidconnect`.

social-core's OktaOpenIdConnect fetches discovery on every use (three fetches per callback), keys users
on preferred_username (mutable: it is the Okta login) and sends no PKCE. This class keeps the name, the
redirect URI and SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL, and adds the hardening of every OIDC backend:
discovery and JWKS cached in NetBox's cache, issuer derived from API_URL and checked, PKCE, nonce bound to
the login, users keyed on sub (accounts linked under preferred_username move on their next login).
"""

from __future__ import annotations

from typing import Any

from social_core.backends.okta_openidconnect import OktaOpenIdConnect

from netbox_sso.backends.hardening import HardenedOIDCMixin
from netbox_sso.core.endpoints import discovery_url, okta_issuer


class Okta(HardenedOIDCMixin, OktaOpenIdConnect):
    name = "okta-openidconnect"
    ID_KEY = "sub"
    # Okta issues a refresh token only for the offline_access scope (and the app's Refresh Token grant).
    REFRESH_NEEDS_OFFLINE_ACCESS = True
    # Okta sends no back-channel logout tokens (refresh notices a deactivated user instead).
    SENDS_BACKCHANNEL_LOGOUT = False

    def expected_issuer(self) -> str:
        configured = self.setting("ID_TOKEN_ISSUER")
        return str(configured) if configured else okta_issuer(str(self.setting("API_URL") or ""))

    def oidc_config_url(self) -> str:
        return discovery_url(self.expected_issuer())

    def legacy_uids(self, details: Any, claims: dict[str, Any]) -> list[str]:
        """social-core's OktaOpenIdConnect keyed users on preferred_username."""
        names = dict.fromkeys((str(self.setting("ID_KEY") or "preferred_username"), "preferred_username"))
        return [str(claims[name]) for name in names if claims.get(name)]
