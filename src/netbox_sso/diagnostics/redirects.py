"""The exact redirect URIs NetBox sends, for registration at the identity provider.

social-core builds `redirect_uri` with Django's `request.build_absolute_uri('/<BASE_PATH>oauth/complete/
<backend>/')`: the scheme is https only when the request is secure (NetBox trusts the proxy's
`X-Forwarded-Proto: https`, settings.SECURE_PROXY_SSL_HEADER), the host is the request's (NetBox trusts
`X-Forwarded-Host`), and `SOCIAL_AUTH_REDIRECT_IS_HTTPS = True` forces https whatever the proxy sends.
The identity provider compares the URI character for character (trailing slash and scheme included).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from netbox_sso.core.oidc_checks import is_loopback_host
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings

PLACEHOLDER_HOST = "<your-netbox-domain>"


@dataclass(frozen=True)
class RedirectURI:
    backend: str
    uri: str


def base_path(settings: NetBoxSettings) -> str:
    """NetBox's BASE_PATH as it prefixes URLs: '' or 'netbox/' (netbox.settings.trailing_slash)."""
    value = str(settings.get("BASE_PATH") or "").strip("/")
    return f"{value}/" if value else ""


def _host_from_allowed_hosts(settings: NetBoxSettings) -> str | None:
    hosts = settings.get("ALLOWED_HOSTS") or ()
    if not isinstance(hosts, list | tuple):
        return None
    for host in hosts:
        host = str(host)
        if host and host != "*" and not host.startswith("."):
            return host
    return None


def redirect_uris(
    settings: NetBoxSettings, backends: list[str], base_url: str | None = None
) -> tuple[list[RedirectURI], list[Finding]]:
    """The URI per backend name, and findings about how it is built (proxy, http, BASE_PATH)."""
    findings: list[Finding] = []
    forced_https = settings.get("SOCIAL_AUTH_REDIRECT_IS_HTTPS") is True
    prefix = base_path(settings)
    if base_url:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        scheme, netloc = parts.scheme or "https", parts.netloc
        public_path = parts.path.strip("/")
        if public_path and f"{public_path}/" != prefix:
            findings.append(
                Finding(
                    "redirect.base_path",
                    "warning",
                    "BASE_PATH",
                    f"the public URL {base_url!r} has the path '/{public_path}/' but BASE_PATH is {prefix!r}; NetBox "
                    f"builds redirect URIs from BASE_PATH, so they start with '/{prefix}'",
                    f"set BASE_PATH = '{public_path}/' when NetBox is served under that path, or pass the URL "
                    "without a path",
                )
            )
    else:
        host = _host_from_allowed_hosts(settings)
        scheme, netloc = "https", host or PLACEHOLDER_HOST
        findings.append(
            Finding(
                "redirect.no_base_url",
                "info",
                "--base-url",
                f"the public URL of NetBox was not given; assumed https://{netloc}"
                + (" (the first entry of ALLOWED_HOSTS)" if host else ""),
                "pass --base-url https://<the name users type>/ to get the exact URIs",
            )
        )
    if forced_https:
        scheme = "https"
    hostname = urlsplit(f"//{netloc}").hostname or ""
    if scheme == "https" and not forced_https and base_url:
        findings.append(
            Finding(
                "redirect.proxy_https",
                "info",
                "SOCIAL_AUTH_REDIRECT_IS_HTTPS",
                "NetBox sends https:// redirect URIs only when the request reached it over TLS or the reverse proxy "
                "sets 'X-Forwarded-Proto: https'; a proxy that terminates TLS without it makes NetBox send http://, "
                "and the identity provider answers redirect_uri_mismatch",
                "set SOCIAL_AUTH_REDIRECT_IS_HTTPS = True (or make the proxy send X-Forwarded-Proto: https)",
            )
        )
    if scheme == "http" and not is_loopback_host(hostname):
        findings.append(
            Finding(
                "redirect.insecure",
                "warning",
                "--base-url",
                f"the redirect URI uses http:// on {hostname!r}: the authorization code travels in clear, and most "
                "identity providers refuse http redirect URIs outside localhost",
                "serve NetBox over https and set SOCIAL_AUTH_REDIRECT_IS_HTTPS = True behind a TLS proxy",
            )
        )
    uris = [RedirectURI(name, f"{scheme}://{netloc}/{prefix}oauth/complete/{name}/") for name in backends]
    return uris, findings
