"""Keycloak-like profile: realms, `realm_access.roles`, `resource_access.<client>.roles`, group paths."""

from __future__ import annotations

from typing import Any, ClassVar

from netbox_sso.devidp import directory
from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Client, User
from netbox_sso.devidp.profiles.base import ClientAuthFailure, Grant, Profile, Route, Target

_OIDC = "/realms/{realm}/protocol/openid-connect"


class KeycloakProfile(Profile):
    """Keycloak's URL layout under `/realms/<realm>`; issuer `<root>/realms/<realm>`.

    As configured by a typical NetBox admin: a "groups" mapper with full group paths and the realm/client
    role claims added to the ID token and userinfo (Keycloak puts roles only in the access token by
    default; the mappers are what people enable to map roles in NetBox).
    """

    kind = "keycloak"
    title = "Keycloak (realm netbox)"
    layouts: ClassVar[dict[str, dict[str, str | tuple[str, ...]]]] = {
        "realm": {
            "discovery": "/realms/{realm}/.well-known/openid-configuration",
            "jwks": f"{_OIDC}/certs",
            "authorize": f"{_OIDC}/auth",
            "token": f"{_OIDC}/token",
            "userinfo": f"{_OIDC}/userinfo",
            "end_session": f"{_OIDC}/logout",
            "revoke": f"{_OIDC}/revoke",
            "device_authorization": f"{_OIDC}/auth/device",
            "device": "/realms/{realm}/device",
            # The Admin REST API's user list (netbox_sso.devidp.directory); count before {user_id}.
            "admin_users": "/admin/realms/{realm}/users",
            "admin_users_count": "/admin/realms/{realm}/users/count",
            "admin_user": "/admin/realms/{realm}/users/{user_id}",
        },
    }
    default_ctx: ClassVar[dict[str, str]] = {"layout": "realm", "realm": "netbox"}
    realms: ClassVar[tuple[str, ...]] = ("netbox", "other")
    access_token_typ = "JWT"
    id_token_lifetime = 300
    access_token_lifetime = 300
    scopes_supported = ("openid", "profile", "email", "roles", "groups", "offline_access", "web-origins", "acr")

    def check_ctx(self, route: Route) -> str | None:
        if route.ctx.get("realm") not in self.realms:
            return "Realm does not exist"
        return None

    def fault_endpoint(self, endpoint: str) -> str:
        return "directory" if endpoint.startswith("admin_") else endpoint

    def handle(self, route: Route, request: Request) -> Response:
        if route.endpoint.startswith("admin_"):
            return directory.keycloak_admin(self, route, request)
        return super().handle(route, request)

    def banner(self) -> list[tuple[str, str]]:
        return [*super().banner(), ("admin users API", self.url("admin_users"))]

    def issuer(self, ctx: dict[str, str] | None = None) -> str:
        realm = (ctx or {}).get("realm") or self.default_ctx["realm"]
        return f"{self.root}/realms/{realm}"

    def user_claims(self, user: User) -> dict[str, Any]:
        claims = super().user_claims(user)
        if "groups" in claims:
            # Keycloak's group mapper with "Full group path" on: top-level groups become "/name".
            claims["groups"] = [g if str(g).startswith("/") else f"/{g}" for g in claims["groups"] or []]
        return claims

    def shape_claims(self, user: User, grant: Grant, target: Target) -> dict[str, Any]:
        claims = super().shape_claims(user, grant, target)
        if "profile" in grant.scopes:
            claims.setdefault("preferred_username", user.username)  # Keycloak always has one
        return claims

    def client_auth_error(self, failure: ClientAuthFailure, client_id: str, ctx: dict[str, str]) -> Response:
        """Keycloak's words: an unknown client is invalid_client, a wrong (or rotated-out) secret
        unauthorized_client, both "Invalid client or Invalid client credentials"."""
        if failure == "missing_credentials":
            return Response.oauth_error("unauthorized_client", "Client secret not provided in request", 401)
        error = "invalid_client" if failure in ("unknown_client", "malformed") else "unauthorized_client"
        return Response.oauth_error(error, "Invalid client or Invalid client credentials", 401)

    def unknown_code_error(self, ctx: dict[str, str]) -> Response:
        return Response.oauth_error("invalid_grant", "Code not valid")

    def id_token_extra(self, user: User, grant: Grant) -> dict[str, Any]:
        return {"typ": "ID", "session_state": grant.sid, "acr": "1"}

    def access_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        return "account"

    def access_token_claims(self, user: User, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        claims = super().access_token_claims(user, grant, claims)
        claims.pop("client_id", None)
        claims.update(typ="Bearer", azp=grant.client_id, session_state=grant.sid, acr="1")
        raw = self.user_claims(user)
        for name in ("realm_access", "resource_access", "preferred_username", "email"):
            if name in raw:
                claims[name] = raw[name]
        return claims

    def token_response(self, grant: Grant, response: dict[str, Any], now: int) -> dict[str, Any]:
        response.update({"refresh_expires_in": 1800, "not-before-policy": 0, "session_state": grant.sid})
        return response


PROFILE = KeycloakProfile
