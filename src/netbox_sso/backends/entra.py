"""Hardened Microsoft Entra ID backends under social-core's backend names and redirect URIs.

The reference configures `social_core.backends.azuread.AzureADOAuth2` (`azuread-oauth2`), which always
uses the `common` tenant, ignores SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID, accepts any tenant's token,
sends neither nonce nor PKCE and keys users on the mutable upn. These classes keep the name, the
redirect URI and the settings (KEY, SECRET, TENANT_ID, AUTHORITY_HOST, RESOURCE) and instead:
- use the tenant's own endpoints from its discovery document (v1, or v2 for the -v2 backends);
- accept only the configured tenant, plus `PLUGINS_CONFIG['netbox_sso']['entra_allowed_tenants']`
  (the only way to admit several tenants when TENANT_ID is common/organizations);
- check iss against that tenant's issuer, send nonce and PKCE (S256), verify like every OIDC backend;
- key users on tid+oid; accounts linked under the old upn key move on their next login.
"""

from __future__ import annotations

from typing import Any

from social_core.backends.open_id_connect import OpenIdConnectAuth

from netbox_sso.backends.hardening import HardenedOIDCMixin
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core.endpoints import entra_discovery_url
from netbox_sso.providers import entra

DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"


class EntraID(HardenedOIDCMixin, OpenIdConnectAuth):
    """Entra ID v1 endpoints (`/{tenant}/oauth2/authorize`), as `azuread-oauth2`."""

    name = "azuread-oauth2"
    PROVIDER_KIND = "entra"
    # Entra ID sends no back-channel logout tokens (front-channel only); refresh notices a disabled user.
    SENDS_BACKCHANNEL_LOGOUT = False
    V2 = False
    DEFAULT_SCOPE = ["openid", "profile", "email"]
    #: Fallback username claims after the configured one (v1 tokens carry upn, not preferred_username).
    USERNAME_FALLBACK_CLAIMS: tuple[str, ...] = ("upn",)

    # ---- tenant and discovery ----------------------------------------------------------------------------
    def tenant(self) -> str:
        return str(self.setting("TENANT_ID") or "common").strip()

    def oidc_endpoint(self) -> str:
        return entra_discovery_url(
            str(self.setting("AUTHORITY_HOST") or DEFAULT_AUTHORITY_HOST), self.tenant(), v2=self.V2
        )

    def oidc_config_url(self) -> str:
        return self.oidc_endpoint()

    def expected_issuer(self) -> str:
        return str(self.setting("ID_TOKEN_ISSUER") or self.oidc_config()["issuer"])

    def discovery_issuer(self, document: dict[str, Any]) -> str:
        """The tenant's discovery must name that tenant (or the template, for common/organizations)."""
        issuer = str(document.get("issuer") or "")
        named = entra.tenant_of_issuer(issuer)
        configured = self.tenant()
        if named is None:
            raise checks.InvalidDiscoveryError("issuer", f"{issuer!r} is not a Microsoft Entra issuer")
        if entra.is_multi_tenant(configured):
            if named != entra.TENANT_TEMPLATE:
                raise checks.InvalidDiscoveryError("issuer", "multi-tenant discovery must use {tenantid}")
        elif named == entra.TENANT_TEMPLATE or (_looks_like_guid(configured) and named.lower() != configured.lower()):
            raise checks.InvalidDiscoveryError("issuer", f"{issuer!r} is not tenant {configured}'s issuer")
        return issuer

    def id_token_issuer(self) -> str:
        return self.expected_issuer()

    def authorization_response_issuer(self) -> str | None:
        issuer = self.expected_issuer()
        return None if entra.TENANT_TEMPLATE in issuer else issuer

    def allowed_tenants(self) -> set[str]:
        allowed = {t.lower() for t in self.hardening.entra_allowed_tenants}
        home = entra.tenant_of_issuer(self.expected_issuer())
        if home and home != entra.TENANT_TEMPLATE:
            allowed.add(home.lower())
        return allowed

    # ---- tokens ------------------------------------------------------------------------------------------
    def validate_provider_claims(self, claims: dict[str, Any]) -> None:
        allowed = self.allowed_tenants()
        if not allowed:
            raise checks.ForeignTenantError(
                "tid", "TENANT_ID is multi-tenant and PLUGINS_CONFIG['netbox_sso']['entra_allowed_tenants'] is empty"
            )
        checks.validate_tenant(claims, allowed)
        if not claims.get("oid"):
            raise checks.MissingClaimError("oid")

    def issuer_for_claims(self, claims: dict[str, Any]) -> str:
        return entra.issuer_for_tenant(self.expected_issuer(), str(claims["tid"]))

    def logout_token_issuer(self, claims: dict[str, Any]) -> str:
        checks.validate_tenant(claims, self.allowed_tenants())
        return self.issuer_for_claims(claims)

    def user_data(self, access_token: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        # The validated ID token has every claim we use; Entra's userinfo adds nothing (and never groups).
        return {}

    def auth_extra_arguments(self) -> dict[str, str]:
        arguments = super().auth_extra_arguments()
        resource = self.setting("RESOURCE")
        if resource and not self.V2:
            arguments["resource"] = str(resource)
        return arguments

    # ---- identity ----------------------------------------------------------------------------------------
    def get_user_id(self, details: dict[str, Any], response: dict[str, Any]) -> str:
        claims = self.id_token or {}
        return entra.user_key(str(claims["tid"]), str(claims["oid"]))

    #: The claim social-core's class of the same backend name keyed users on.
    LEGACY_ID_KEY = "upn"

    def legacy_uids(self, details: Any, claims: dict[str, Any]) -> list[str]:
        """social-core keyed users on LEGACY_ID_KEY (upn; sub or preferred_username for the tenant
        backends), or on the claim SOCIAL_AUTH_<BACKEND>_ID_KEY named."""
        names = dict.fromkeys((str(self.setting("ID_KEY") or self.LEGACY_ID_KEY), self.LEGACY_ID_KEY))
        return [str(claims[name]) for name in names if claims.get(name)]

    def stable_uid(self, recorded: dict[str, str]) -> str | None:
        if recorded.get("tid") and recorded.get("oid"):
            return entra.user_key(recorded["tid"], recorded["oid"])
        return None

    def get_user_details(self, response: dict[str, Any]) -> dict[str, Any]:
        details = super().get_user_details(response)
        claims = self.id_token or {}
        # Never the display name (social-core's choice) and never upn as email (not a mailbox, unverified).
        details["username"] = claims.get("preferred_username") or claims.get("upn")
        details["email"] = claims.get("email") or ""
        return details


class EntraIDv2(EntraID):
    """Entra ID v2 endpoints (`/{tenant}/oauth2/v2.0/...`), as `azuread-oauth2-v2`."""

    name = "azuread-oauth2-v2"
    V2 = True
    REFRESH_NEEDS_OFFLINE_ACCESS = True
    DEFAULT_SCOPE = ["openid", "profile", "email", "User.Read"]
    USERNAME_FALLBACK_CLAIMS = ()


class EntraIDTenant(EntraID):
    """As social-core's `azuread-tenant-oauth2` (which keyed users on sub)."""

    name = "azuread-tenant-oauth2"
    LEGACY_ID_KEY = "sub"


class EntraIDv2Tenant(EntraIDv2):
    """As social-core's `azuread-v2-tenant-oauth2` (which keyed users on preferred_username)."""

    name = "azuread-v2-tenant-oauth2"
    LEGACY_ID_KEY = "preferred_username"


def _looks_like_guid(value: str) -> bool:
    parts = value.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12]
