"""Which stock social-core backend each hardened backend replaces (pure data, importable without Django).

startup swaps these in AUTHENTICATION_BACKENDS; `netbox-sso check` and the status page read the same map.
"""

from __future__ import annotations

#: Stock social-core class path -> our hardened subclass with the same backend name.
HARDENED_BACKENDS: dict[str, str] = {
    "social_core.backends.open_id_connect.OpenIdConnectAuth": "netbox_sso.backends.oidc.OpenIdConnect",
    "social_core.backends.azuread.AzureADOAuth2": "netbox_sso.backends.entra.EntraID",
    "social_core.backends.azuread.AzureADOAuth2V2": "netbox_sso.backends.entra.EntraIDv2",
    "social_core.backends.azuread_tenant.AzureADTenantOAuth2": "netbox_sso.backends.entra.EntraIDTenant",
    "social_core.backends.azuread_tenant.AzureADV2TenantOAuth2": "netbox_sso.backends.entra.EntraIDv2Tenant",
    "social_core.backends.okta_openidconnect.OktaOpenIdConnect": "netbox_sso.backends.okta.Okta",
}
