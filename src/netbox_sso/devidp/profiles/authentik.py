"""Authentik-like profile: per-application issuer `<root>/application/o/<slug>/` (trailing slash) with
shared authorize/token/userinfo endpoints; `groups` are group names, released with the profile scope."""

from __future__ import annotations

from typing import Any, ClassVar

from netbox_sso.devidp import directory
from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import User
from netbox_sso.devidp.profiles.base import ClientAuthFailure, Grant, Profile, Route, Target

_APP = "/application/o"


class AuthentikProfile(Profile):
    kind = "authentik"
    title = "Authentik"
    layouts: ClassVar[dict[str, dict[str, str | tuple[str, ...]]]] = {
        "app": {
            "discovery": f"{_APP}/{{slug}}/.well-known/openid-configuration",
            "jwks": f"{_APP}/{{slug}}/jwks/",
            "end_session": f"{_APP}/{{slug}}/end-session/",
            "authorize": f"{_APP}/authorize/",
            "token": f"{_APP}/token/",
            "userinfo": f"{_APP}/userinfo/",
            "revoke": f"{_APP}/revoke/",
            "device_authorization": f"{_APP}/device/",
            "device": "/device",
            # The users API (netbox_sso.devidp.directory).
            "api_users": "/api/v3/core/users/",
            "api_user": "/api/v3/core/users/{pk}/",
        },
    }
    default_ctx: ClassVar[dict[str, str]] = {"layout": "app", "slug": "netbox"}
    emits_iss_in_authorization_response = False
    group_claims_default = "always"

    def fault_endpoint(self, endpoint: str) -> str:
        return "directory" if endpoint.startswith("api_") else endpoint

    def handle(self, route: Route, request: Request) -> Response:
        if route.endpoint.startswith("api_"):
            return directory.authentik_api(self, route, request)
        return super().handle(route, request)

    def banner(self) -> list[tuple[str, str]]:
        return [*super().banner(), ("users API", self.url("api_users"))]

    def check_ctx(self, route: Route) -> str | None:
        slug = route.ctx.get("slug")
        if slug is not None and slug not in self.idp.clients:
            return "application not found"
        return None

    def issuer(self, ctx: dict[str, str] | None = None) -> str:
        # The slug is the client_id here; shared endpoints carry no slug, so the token's `iss` comes
        # from the grant's client (token_issuer).
        slug = (ctx or {}).get("slug") or self.default_ctx["slug"]
        return f"{self.root}{_APP}/{slug}/"

    def token_issuer(self, grant: Grant, user: User | None) -> str:
        return self.issuer({"slug": grant.client_id})

    def client_auth_error(self, failure: ClientAuthFailure, client_id: str, ctx: dict[str, str]) -> Response:
        """authentik's TokenError (providers/oauth2/errors.py): RFC 6749's descriptions, HTTP 400."""
        return Response.oauth_error(
            "invalid_client",
            "Client authentication failed (e.g., unknown client, no client "
            "authentication included, or unsupported authentication method)",
        )

    def unknown_code_error(self, ctx: dict[str, str]) -> Response:
        return Response.oauth_error(
            "invalid_grant",
            "The provided authorization grant or refresh token is invalid, "
            "expired, revoked, does not match the redirection URI used in the authorization "
            "request, or was issued to another client",
        )

    def shape_claims(self, user: User, grant: Grant, target: Target) -> dict[str, Any]:
        claims = super().shape_claims(user, grant, target)
        if "profile" in grant.scopes:
            claims.setdefault("nickname", user.username)
            claims.setdefault("preferred_username", user.username)
        # Authentik emits group names only (no roles / realm_access).
        for name in ("roles", "realm_access", "resource_access"):
            claims.pop(name, None)
        return claims


PROFILE = AuthentikProfile
