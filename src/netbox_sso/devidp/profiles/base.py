"""What a provider profile is: URL layout, issuer, claim shaping and quirks, as data plus small hooks.

The server core (clients, codes, sessions, keys, faults) is shared; a profile never handles the OAuth
protocol itself. A new provider is a subclass that sets class attributes and overrides a few hooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Client, GroupClaimsMode, User

if TYPE_CHECKING:
    from netbox_sso.devidp.server import DevIdP

Target = Literal["id_token", "userinfo", "access_token"]
#: Why client authentication failed at the token endpoint (each provider words these its own way).
ClientAuthFailure = Literal["unknown_client", "invalid_secret", "expired_secret", "missing_credentials", "malformed"]

# OIDC Core 5.4: which standard claims each scope releases.
SCOPE_CLAIMS: dict[str, frozenset[str]] = {
    "profile": frozenset(
        {
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        }
    ),
    "email": frozenset({"email", "email_verified"}),
    "address": frozenset({"address"}),
    "phone": frozenset({"phone_number", "phone_number_verified"}),
}
CLAIM_SCOPE = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
# Authorisation-bearing claims whose release the profile (or user entry) decides.
GROUP_CLAIMS = frozenset({"groups", "roles", "realm_access", "resource_access"})
# Never copied from a user entry: the core sets them.
PROTOCOL_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "auth_time",
        "nonce",
        "azp",
        "at_hash",
        "c_hash",
        "sid",
        "jti",
    }
)

CORE_ENDPOINTS = (
    "discovery",
    "jwks",
    "authorize",
    "token",
    "userinfo",
    "end_session",
    "revoke",
    "device_authorization",
    "device",
)


@dataclass(frozen=True)
class Route:
    endpoint: str
    ctx: dict[str, str]


@dataclass
class Grant:
    """What a user authorised at /authorize; travels via the code into tokens and refresh tokens."""

    profile: str
    ctx: dict[str, str]
    client_id: str
    username: str
    scopes: list[str]
    auth_time: int
    sid: str
    redirect_uri: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # profile-specific (e.g. Entra `resource`)


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern)


class Profile:
    """The generic OpenID Provider; other profiles subclass it."""

    kind: ClassVar[str] = "generic"
    title: ClassVar[str] = "Generic OpenID Provider"
    # layout name -> endpoint -> path template (or several; the first is canonical) under the prefix.
    layouts: ClassVar[dict[str, dict[str, str | tuple[str, ...]]]] = {
        "default": {
            "discovery": "/.well-known/openid-configuration",
            "jwks": "/jwks",
            "authorize": "/authorize",
            "token": "/token",
            "userinfo": "/userinfo",
            "end_session": "/logout",
            "revoke": "/revoke",
            "device_authorization": "/device_authorization",
            "device": "/device",
        },
    }
    default_ctx: ClassVar[dict[str, str]] = {"layout": "default"}

    # Quirks, as data.
    emits_iss_in_authorization_response: ClassVar[bool] = True  # RFC 9207
    error_codes: ClassVar[dict[str, str]] = {}  # provider error codes shown next to OAuth ones (AADSTS...)
    require_openid_scope: ClassVar[bool] = True
    redirect_uri_optional: ClassVar[bool] = False  # OAuth 2.0 lets it be omitted; OIDC requires it
    include_at_hash: ClassVar[bool] = True
    include_auth_time: ClassVar[bool] = True
    include_nbf: ClassVar[bool] = False
    access_token_typ: ClassVar[str] = "at+jwt"  # RFC 9068
    group_claims_default: ClassVar[GroupClaimsMode] = "always"
    refresh_requires_offline_access: ClassVar[bool] = False
    end_session_requires_hint: ClassVar[bool] = False
    id_token_lifetime: ClassVar[int] = 600
    access_token_lifetime: ClassVar[int] = 3600
    scopes_supported: ClassVar[tuple[str, ...]] = ("openid", "profile", "email", "groups", "offline_access")

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = (prefix or self.kind).strip("/")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.prefix) or self.prefix.startswith("_"):
            raise ValueError(f"invalid profile prefix {self.prefix!r}")
        self.root = ""
        self._routes = [
            (layout, endpoint, _compile(t))
            for layout, table in self.layouts.items()
            for endpoint, templates in table.items()
            for t in ((templates,) if isinstance(templates, str) else templates)
        ]

    # -- wiring -----------------------------------------------------------------------------------------
    def attach(self, idp: DevIdP) -> None:
        """Called once the server knows its base URL."""
        self.idp = idp
        self.root = f"{idp.base_url}/{self.prefix}"

    def match(self, subpath: str) -> Route | None:
        for layout, endpoint, pattern in self._routes:
            m = pattern.fullmatch(subpath)
            if m:
                return Route(endpoint, {"layout": layout, **m.groupdict()})
        return None

    def url(self, endpoint: str, ctx: dict[str, str] | None = None) -> str:
        ctx = {**self.default_ctx, **(ctx or {})}
        templates = self.layouts[ctx["layout"]][endpoint]
        template = templates if isinstance(templates, str) else templates[0]
        return self.root + template.format(**ctx)

    def check_ctx(self, route: Route) -> str | None:
        """An error message if the path names something that does not exist (answered with 404)."""
        return None

    def fault_endpoint(self, endpoint: str) -> str:
        return endpoint

    # -- identity ---------------------------------------------------------------------------------------
    def issuer(self, ctx: dict[str, str] | None = None) -> str:
        return self.root

    def token_issuer(self, grant: Grant, user: User | None) -> str:
        """The `iss` of tokens for this grant (Entra: per user tenant; Authentik: per application)."""
        return self.issuer(grant.ctx)

    def user_allowed(self, user: User, ctx: dict[str, str]) -> str | None:
        """Why this user cannot sign in here (None: allowed)."""
        return None

    def subject(self, user: User, client_id: str, ctx: dict[str, str]) -> str:
        return user.sub

    def user_claims(self, user: User) -> dict[str, Any]:
        claims = user.claims_for(self.kind)
        if self.prefix != self.kind:
            claims.update(user.claims_for(self.prefix))
        return claims

    def shape_claims(self, user: User, grant: Grant, target: Target) -> dict[str, Any]:
        """User claims released for this grant (standard claims by scope, group claims by mode)."""
        mode = user.group_claims or self.group_claims_default
        out: dict[str, Any] = {}
        for name, value in self.user_claims(user).items():
            if name in PROTOCOL_CLAIMS:
                continue
            if name in GROUP_CLAIMS:
                if mode == "always" or (mode == "scope" and "groups" in grant.scopes):
                    out[name] = value
                continue
            scope = CLAIM_SCOPE.get(name)
            if scope is None or scope in grant.scopes:
                out[name] = value  # custom claims behave like an always-on mapper
        return out

    def id_token_extra(self, user: User, grant: Grant) -> dict[str, Any]:
        """Profile-specific ID-token claims; a None value removes a claim the core set."""
        return {}

    def issues_refresh_token(self, grant: Grant) -> bool:
        return not self.refresh_requires_offline_access or "offline_access" in grant.scopes

    def jwks(self, ctx: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
        """Decorate the JWKS (Entra v2 adds an `issuer` to each key)."""
        return document

    def access_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        """RFC 9068 section 3: the resource the client asked for (RFC 8707 `resource`), else the client."""
        return str(grant.extra.get("resource") or client.client_id)

    def access_token_claims(self, user: User, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        """RFC 9068 section 2.2: scope and client_id; 2.2.3.1: groups and roles of the person."""
        claims["scope"] = " ".join(grant.scopes)
        claims["client_id"] = grant.client_id
        shaped = self.shape_claims(user, grant, "access_token")
        claims.update({name: value for name, value in shaped.items() if name in GROUP_CLAIMS})
        return claims

    # -- client credentials (netbox_sso.devidp.grants) -------------------------------------------------------
    def service_token_problem(self, grant: Grant, client: Client) -> str | None:
        """Why a client-credentials request cannot be answered (None: it can)."""
        return None

    def service_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        return str(grant.extra.get("resource") or client.client_id)

    def service_token_claims(self, client: Client, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        """RFC 9068 section 2.2: for a client acting for itself, sub is its client_id."""
        claims["client_id"] = client.client_id
        if grant.scopes:
            claims["scope"] = " ".join(grant.scopes)
        if client.roles:
            claims["roles"] = list(client.roles)
        return claims

    def device_response_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        """Provider-specific fields of the device authorization response (Entra: `message`)."""
        return {}

    def token_response(self, grant: Grant, response: dict[str, Any], now: int) -> dict[str, Any]:
        return response

    def authorize_extra(self, params: dict[str, str], grant: Grant) -> str | None:
        """Capture profile-specific authorize parameters into the grant; return an error to refuse.

        RFC 8707: `resource` names the API the access token is for (its `aud`, RFC 9068 section 3).
        """
        if "resource" in params:
            grant.extra["resource"] = params["resource"]
        return None

    def token_extra(self, form: dict[str, str], grant: Grant) -> str | None:
        """Apply profile-specific token-request parameters (e.g. Entra v1 `resource`); error to refuse."""
        return None

    # -- token endpoint errors, in the provider's own words ------------------------------------------------
    def client_auth_error(self, failure: ClientAuthFailure, client_id: str, ctx: dict[str, str]) -> Response:
        """The answer when client authentication fails (RFC 6749 section 5.2: invalid_client, 401 with a
        challenge). Profiles answer as their provider does; doctor's credentials probe reads these."""
        description = {
            "malformed": "malformed Basic credentials",
            "missing_credentials": "client authentication required",
            "expired_secret": "client authentication failed: the client secret has expired",
        }.get(failure, "client authentication failed")
        return Response.oauth_error("invalid_client", description, 401, [("WWW-Authenticate", 'Basic realm="devidp"')])

    def unknown_code_error(self, ctx: dict[str, str]) -> Response:
        """The answer to an authorization code this server never issued (RFC 6749 section 5.2: invalid_grant)."""
        return Response.oauth_error("invalid_grant", "unknown authorization code")

    # -- documents --------------------------------------------------------------------------------------
    def discovery(self, ctx: dict[str, str], request: Request) -> dict[str, Any] | Response:
        return {
            "issuer": self.issuer(ctx),
            "authorization_endpoint": self.url("authorize", ctx),
            "token_endpoint": self.url("token", ctx),
            "userinfo_endpoint": self.url("userinfo", ctx),
            "jwks_uri": self.url("jwks", ctx),
            "end_session_endpoint": self.url("end_session", ctx),
            "revocation_endpoint": self.url("revoke", ctx),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "scopes_supported": list(self.scopes_supported),
            "claims_supported": sorted(
                {
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "azp",
                    "at_hash",
                    "sid",
                    *SCOPE_CLAIMS["profile"],
                    *SCOPE_CLAIMS["email"],
                    *GROUP_CLAIMS,
                }
            ),
            "prompt_values_supported": ["none", "login"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": self.emits_iss_in_authorization_response,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "device_authorization_endpoint": self.url("device_authorization", ctx),
        }

    def handle(self, route: Route, request: Request) -> Response:
        """Profile-specific endpoints beyond the OIDC core (e.g. Microsoft Graph)."""
        return Response.json({"error": "not_found"}, 404)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "prefix": self.prefix, **{k: v for k, v in self.banner()}}

    def banner(self) -> list[tuple[str, str]]:
        """What an administrator needs to point a relying party here (CLI banner, control API)."""
        return [("issuer", self.issuer()), ("discovery", self.url("discovery"))]


class GenericProfile(Profile):
    """Standard OIDC at `/<prefix>`; groups, roles, realm_access, resource_access always released."""
