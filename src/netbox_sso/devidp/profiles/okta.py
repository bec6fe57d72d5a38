"""Okta profile: the org authorization server and custom ones (`/oauth2/<server-id>`).

URLs are what social-core's okta backends build from SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL:
`<API_URL>/v1/{authorize,token,userinfo}` and discovery `<API_URL>/.well-known/openid-configuration
?client_id=<KEY>`, where an API_URL ending in exactly `/oauth2/` (the org server at a host root) is
truncated to the host. Mounted under a prefix that truncation does not happen, so the org server's
discovery is served both at `<root>/.well-known/...` (Okta's real place) and `<root>/oauth2/.well-known/...`.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Client, User
from netbox_sso.devidp.profiles.base import ClientAuthFailure, Grant, Profile, Route

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def okta_id(prefix: str, seed: str) -> str:
    """An Okta-style 20-character object ID (`00u...` users), stable per seed."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(17):
        number, rem = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[rem])
    return prefix + "".join(chars)


def _layout(base: str, discovery: tuple[str, ...]) -> dict[str, str | tuple[str, ...]]:
    return {
        "discovery": discovery,
        "authorize": f"{base}/v1/authorize",
        "token": f"{base}/v1/token",
        "userinfo": f"{base}/v1/userinfo",
        "jwks": f"{base}/v1/keys",
        "end_session": f"{base}/v1/logout",
        "revoke": f"{base}/v1/revoke",
        "device_authorization": f"{base}/v1/device/authorize",
        "device": "/activate",
    }


class OktaProfile(Profile):
    kind = "okta"
    title = "Okta"
    layouts: ClassVar[dict[str, dict[str, str | tuple[str, ...]]]] = {
        "org": _layout("/oauth2", ("/.well-known/openid-configuration", "/oauth2/.well-known/openid-configuration")),
        "custom": _layout(
            "/oauth2/{server}",
            (
                "/oauth2/{server}/.well-known/openid-configuration",
                "/oauth2/{server}/.well-known/oauth-authorization-server",
            ),
        ),
    }
    default_ctx: ClassVar[dict[str, str]] = {"layout": "org"}
    servers: ClassVar[tuple[str, ...]] = ("default", "aus-netbox")
    emits_iss_in_authorization_response = False
    group_claims_default = "scope"  # Okta releases `groups` only when the groups scope is requested
    refresh_requires_offline_access = True
    end_session_requires_hint = True
    access_token_typ = "JWT"
    id_token_lifetime = 3600
    scopes_supported = ("openid", "profile", "email", "address", "phone", "offline_access", "groups")

    def check_ctx(self, route: Route) -> str | None:
        if route.ctx["layout"] == "custom" and route.ctx.get("server") not in self.servers:
            return f"Not found: Resource not found: {route.ctx.get('server')} (AuthorizationServer)"
        return None

    def issuer(self, ctx: dict[str, str] | None = None) -> str:
        ctx = ctx or {}
        if ctx.get("layout") == "custom" or "server" in ctx:
            return f"{self.root}/oauth2/{ctx['server']}"
        return self.root

    def api_url(self, server: str | None = None) -> str:
        """Value for SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL."""
        return f"{self.root}/oauth2/{server}/" if server else f"{self.root}/oauth2/"

    def url(self, endpoint: str, ctx: dict[str, str] | None = None) -> str:
        if ctx and "server" in ctx:
            ctx = {**ctx, "layout": "custom"}
        return super().url(endpoint, ctx)

    def banner(self) -> list[tuple[str, str]]:
        return [
            ("issuer (org)", self.issuer()),
            ("API_URL", f"{self.api_url()}   (org server)"),
            ("API_URL", f"{self.api_url('default')}   (custom server; also: {', '.join(self.servers[1:])})"),
            ("discovery", self.url("discovery")),
        ]

    def subject(self, user: User, client_id: str, ctx: dict[str, str]) -> str:
        override = user.profiles.get(self.kind, {}).get("sub")
        return str(override) if override else okta_id("00u", user.username)

    def discovery(self, ctx: dict[str, str], request: Request) -> dict[str, Any] | Response:
        client_id = (request.query.get("client_id") or [None])[0]
        if client_id is not None and client_id not in self.idp.clients:
            return Response.json(
                {"errorCode": "invalid_client", "errorSummary": "Invalid value for 'client_id' parameter."}, 400
            )
        doc = super().discovery(ctx, request)
        assert isinstance(doc, dict)
        doc.pop("backchannel_logout_supported", None)
        doc.pop("backchannel_logout_session_supported", None)
        doc["request_parameter_supported"] = True
        return doc

    def client_auth_error(self, failure: ClientAuthFailure, client_id: str, ctx: dict[str, str]) -> Response:
        """Okta's words (support.okta.com, "Invalid_Client Error Returned When Requesting OAuth Token(s)"): an
        unknown client_id in its API error format, a wrong (or deactivated) secret as an OAuth error."""
        if failure == "unknown_client":
            return Response.json(
                {
                    "errorCode": "invalid_client",
                    "errorSummary": "Invalid value for 'client_id' parameter.",
                    "errorLink": "invalid_client",
                    "errorId": okta_id("oae", client_id),
                    "errorCauses": [],
                },
                401,
            )
        description = {
            "missing_credentials": "No client credentials found.",
            "malformed": "Client authentication failed. Either the client or the client credentials are invalid.",
        }.get(failure, "The client secret supplied for a confidential client is invalid.")  # expired: deactivated
        return Response.oauth_error("invalid_client", description, 401)

    def unknown_code_error(self, ctx: dict[str, str]) -> Response:
        return Response.oauth_error("invalid_grant", "The authorization code is invalid or has expired.")

    def id_token_extra(self, user: User, grant: Grant) -> dict[str, Any]:
        return {"ver": 1, "idp": okta_id("00o", "org"), "amr": ["pwd"], "sid": None, "azp": None}

    def access_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        server = grant.ctx.get("server")
        return f"api://{server}" if server else self.root

    def access_token_claims(self, user: User, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        claims.update(
            ver=1,
            cid=grant.client_id,
            uid=claims["sub"],
            scp=list(grant.scopes),
            # Okta access tokens carry the login, not the user ID, as `sub`.
            sub=self.user_claims(user).get("preferred_username") or user.username,
        )
        claims.pop("sid", None)
        # A custom authorization server's `groups` claim rule (released, like the ID token's, with the scope).
        shaped = self.shape_claims(user, grant, "access_token")
        if "groups" in shaped:
            claims["groups"] = shaped["groups"]
        return claims

    def service_token_problem(self, grant: Grant, client: Client) -> str | None:
        if "server" not in grant.ctx:
            return "Client Credentials requires a custom authorization server (/oauth2/<server-id>)"
        if not grant.scopes or "openid" in grant.scopes:
            return "The requested scope is invalid, unknown, or malformed: client credentials needs custom scopes"
        return None

    def service_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        return self.access_token_audience(grant, client)

    def service_token_claims(self, client: Client, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        # Okta: sub and cid are the client ID, scp the granted custom scopes; no uid (no user).
        claims.update(ver=1, cid=client.client_id, scp=list(grant.scopes))
        return claims


PROFILE = OktaProfile
