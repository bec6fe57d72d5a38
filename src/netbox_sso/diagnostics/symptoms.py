"""The reference manual's Troubleshooting symptoms -> the finding codes that diagnose them.

Each heading of the reference's "Troubleshooting" section is a key; the codes come from `netbox-sso check`
(static) and `netbox-sso doctor` (live). A unit test keeps every heading covered and every code registered.
`RESOLUTION_ITEMS` goes one level down, to a heading's numbered resolution steps (e.g. "Client credentials:
Verify client ID and secret are correct", which doctor's credentials probe answers with the provider's word).
"""

from __future__ import annotations

#: Doctor's client-credentials probe (netbox_sso.diagnostics.credentials): a code exchange authenticated as
#: the backend does, with a made-up code.
CLIENT_CREDENTIALS: tuple[str, ...] = (
    "credentials.invalid_secret",
    "credentials.expired_secret",
    "credentials.unknown_client",
    "credentials.rejected",
    "credentials.inconclusive",
    "credentials.auth_method",
    "setting.missing",
)

SYMPTOMS: dict[str, tuple[str, ...]] = {
    "Redirect URI Mismatch": (
        "redirect.mismatch",
        "redirect.uris",
        "redirect.proxy_https",
        "redirect.insecure",
        "redirect.base_path",
        "redirect.no_base_url",
        "backend.unknown",
        "setting.wrong_backend",
        "authorize.invalid_client",
    ),
    "Not Logged In After Authentication": (
        "backend.unknown",
        "backend.none",
        "setting.missing",
        "setting.wrong_backend",
        "setting.unknown",
        "config.placeholder",
        "oidc.endpoint_form",
        "oidc.endpoint_invalid",
        "okta.api_url_form",
        "entra.multi_tenant",
        "discovery.http_error",
        "discovery.malformed",
        "discovery.missing_field",
        "discovery.issuer_mismatch",
        "jwks.http_error",
        "jwks.malformed",
        "jwks.no_keys_field",
        "jwks.empty",
        "jwks.no_rs256",
        "token.http_error",
        "token.unexpected",
        "clock.skew",
        "authorize.invalid_client",
        *CLIENT_CREDENTIALS,
        "pipeline.missing_step",
        "pipeline.order",
        "pipeline.unknown_step",
        "pipeline.duplicate_step",
        "session.cookie_age",
    ),
    "Groups Not Syncing": (
        "okta.groups_scope",
        "mapping.entra_group_names",
        "mapping.invalid",
        "mapping.warning",
        "mapping.backend_not_enabled",
        "mapping.absent",
        "plugin.not_enabled",
        "pipeline.reference_step",
        "pipeline.missing_step",
        "groups.missing",
    ),
    "SSL Certificate Verification Fails": ("tls.verify_failed", "tls.verify_disabled"),
    "Token Endpoint Not Reachable": (
        "dns.unresolved",
        "net.unreachable",
        "net.timeout",
        "token.http_error",
        "token.unexpected",
        "url.insecure_http",
        "discovery.insecure_endpoint",
    ),
    "Users Cannot Access NetBox After Login": (
        "mapping.absent",
        "mapping.is_staff",
        "mapping.backend_not_enabled",
        "groups.missing",
        "plugin.not_enabled",
    ),
}

#: Numbered resolution items of a symptom -> the finding codes that check them. "Client credentials: Verify
#: client ID and secret are correct" is what doctor proves with the provider's own answer.
RESOLUTION_ITEMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Not Logged In After Authentication", "Client credentials"): CLIENT_CREDENTIALS,
    ("Not Logged In After Authentication", "Network connectivity"): (
        "dns.unresolved",
        "net.unreachable",
        "net.timeout",
        "token.http_error",
        "token.unexpected",
    ),
}
