"""Hardened generic OpenID Connect backend (backend name `oidc`, as social-core's)."""

from __future__ import annotations

from social_core.backends.open_id_connect import OpenIdConnectAuth

from netbox_sso.backends.hardening import HardenedOIDCMixin
from netbox_sso.core.endpoints import normalize_oidc_endpoint


class OpenIdConnect(HardenedOIDCMixin, OpenIdConnectAuth):
    """social-core's generic OIDC backend with the hardening of `HardenedOIDCMixin`.

    Accepts every endpoint form administrators paste (issuer or discovery URL, trailing slash or not).
    """

    name = "oidc"

    def oidc_endpoint(self) -> str:
        return normalize_oidc_endpoint(super().oidc_endpoint() or "")
