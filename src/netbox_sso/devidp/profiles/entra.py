"""Microsoft Entra ID profile: v1 and v2 endpoints per tenant, Entra claims, groups overage, and the
Microsoft Graph subset used to resolve groups.

Layout under `<root>` (= `https://<host>:<port>/<prefix>`), so that social-core's `azuread-oauth2`
works with `SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = "<host>:<port>/<prefix>"` (it builds
`https://{AUTHORITY_HOST}/common/oauth2/authorize`):

    /{tenant}/.well-known/openid-configuration        v1 discovery, issuer https://sts.windows.net/{tid}/
    /{tenant}/oauth2/authorize | /oauth2/token         v1 (token accepts `resource`)
    /{tenant}/openid/userinfo, /{tenant}/discovery/keys, /{tenant}/oauth2/logout
    /{tenant}/v2.0/.well-known/openid-configuration   v2 discovery, issuer https://login.microsoftonline.com/{tid}/v2.0
    /{tenant}/oauth2/v2.0/authorize | token | logout, /{tenant}/discovery/v2.0/keys
    /graph/oidc/userinfo                               v2 userinfo (graph.microsoft.com/oidc/userinfo)
    /graph/v1.0/...                                    the Microsoft Graph subset (`entra_graph`)

`{tenant}` is `common`, `organizations`, a tenant ID, a tenant name or `<name>.onmicrosoft.com`. For
multi-tenant paths discovery advertises the `{tenantid}` template, as Entra does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, ClassVar

from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Client, Group, User, stable_id
from netbox_sso.devidp.profiles.base import ClientAuthFailure, Grant, Profile, Route, Target
from netbox_sso.devidp.profiles.entra_errors import CLIENT_AUTH_ERRORS, MALFORMED_CODE, entra_error
from netbox_sso.devidp.profiles.entra_graph import (
    AAD_GRAPH_APP_ID,
    GRAPH_APP_ID,
    GRAPH_AUDIENCES,
    GRAPH_ENDPOINTS,
    GRAPH_SCOPE_PREFIX,
    GraphEndpoints,
)

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
MULTI_TENANT = ("common", "organizations")
DEFAULT_TENANTS = {"contoso": stable_id("tenant", "contoso"), "fabrikam": stable_id("tenant", "fabrikam")}


class EntraProfile(GraphEndpoints, Profile):
    kind = "entra"
    title = "Microsoft Entra ID"
    layouts: ClassVar[dict[str, dict[str, str | tuple[str, ...]]]] = {
        "v1": {
            "discovery": "/{tenant}/.well-known/openid-configuration",
            "authorize": "/{tenant}/oauth2/authorize",
            "token": "/{tenant}/oauth2/token",
            "userinfo": "/{tenant}/openid/userinfo",
            "jwks": "/{tenant}/discovery/keys",
            "end_session": "/{tenant}/oauth2/logout",
            "device_authorization": "/{tenant}/oauth2/devicecode",
            "device": "/devicelogin",
        },
        "v2": {
            "discovery": "/{tenant}/v2.0/.well-known/openid-configuration",
            "authorize": "/{tenant}/oauth2/v2.0/authorize",
            "token": "/{tenant}/oauth2/v2.0/token",
            "userinfo": "/graph/oidc/userinfo",
            "jwks": "/{tenant}/discovery/v2.0/keys",
            "end_session": "/{tenant}/oauth2/v2.0/logout",
            "device_authorization": "/{tenant}/oauth2/v2.0/devicecode",
            "device": "/devicelogin",
        },
        "graph": GRAPH_ENDPOINTS,
    }
    default_ctx: ClassVar[dict[str, str]] = {"layout": "v1", "tenant": "common"}
    emits_iss_in_authorization_response = False
    require_openid_scope = False  # v1/v2 are OAuth endpoints first; the ID token comes with `openid`
    redirect_uri_optional = True  # Entra falls back to the registered reply URL
    include_at_hash = False
    include_auth_time = False
    include_nbf = True
    access_token_typ = "JWT"
    id_token_lifetime = 3600
    access_token_lifetime = 3599
    error_codes: ClassVar[dict[str, str]] = {
        "redirect_uri_mismatch": "AADSTS50011:",
        "invalid_client": "AADSTS700016:",
    }
    group_limit: ClassVar[int] = 200  # JWT groups limit before overage
    v1_graph_scopes: ClassVar[str] = "User.Read"  # the default app registration's delegated permission

    tenants: dict[str, str]

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, idp: Any) -> None:
        super().attach(idp)
        self.tenants = dict(idp.directory.tenants or DEFAULT_TENANTS)

    @property
    def home_tenant_id(self) -> str:
        return next(iter(self.tenants.values()))

    @property
    def foreign_tenant_id(self) -> str:
        return list(self.tenants.values())[1] if len(self.tenants) > 1 else stable_id("tenant", "foreign")

    @property
    def authority_host(self) -> str:
        """Value for SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST (host, port and prefix; no scheme)."""
        return self.root.split("://", 1)[1]

    @property
    def graph_url(self) -> str:
        """Base of the Microsoft Graph subset (append `/v1.0/me/transitiveMemberOf`)."""
        return f"{self.root}/graph"

    def fault_endpoint(self, endpoint: str) -> str:
        return "graph" if endpoint.startswith("graph_") else endpoint

    def banner(self) -> list[tuple[str, str]]:
        lines = [
            ("AUTHORITY_HOST", self.authority_host),
            ("v1 discovery", self.url("discovery", {"layout": "v1", "tenant": "common"})),
            ("v2 discovery", self.url("discovery", {"layout": "v2", "tenant": "common"})),
            ("graph", self.graph_url),
        ]
        names = list(self.tenants)
        for name, tid in self.tenants.items():
            lines.append(("tenant", f"{name} {tid}" + (" (home)" if name == names[0] else "")))
        return lines

    # -- tenants ------------------------------------------------------------------------------------------
    def resolve_tenant(self, segment: str | None) -> str | None:
        """Tenant ID for a path segment or user entry (ID, name, or <name>.onmicrosoft.com)."""
        if not segment:
            return None
        name = segment.removesuffix(".onmicrosoft.com")
        if name in self.tenants:
            return self.tenants[name]
        return segment if segment in self.tenants.values() else None

    def tenant_name(self, tid: str) -> str:
        return next((n for n, t in self.tenants.items() if t == tid), tid)

    def check_ctx(self, route: Route) -> str | None:
        tenant = route.ctx.get("tenant")
        if tenant is None or tenant in MULTI_TENANT:
            return None
        if self.resolve_tenant(tenant) is None:
            return f"AADSTS90002: Tenant '{tenant}' not found."
        return None

    def user_tid(self, user: User) -> str:
        override = user.profiles.get(self.kind, {}).get("tid")
        if override:
            return str(override)
        return self.resolve_tenant(user.tenant) or self.home_tenant_id

    def user_allowed(self, user: User, ctx: dict[str, str]) -> str | None:
        tenant = ctx.get("tenant")
        if tenant is None or tenant in MULTI_TENANT:
            return None
        if self.resolve_tenant(tenant) != self.user_tid(user):
            return (
                f"AADSTS50020: User account '{self.upn(user)}' from identity provider does not exist in "
                f"tenant '{self.tenant_name(self.resolve_tenant(tenant) or tenant)}'."
            )
        return None

    # -- identity -----------------------------------------------------------------------------------------
    def issuer(self, ctx: dict[str, str] | None = None) -> str:
        ctx = {**self.default_ctx, **(ctx or {})}
        tenant = ctx.get("tenant", "common")
        tid = "{tenantid}" if tenant in MULTI_TENANT else (self.resolve_tenant(tenant) or tenant)
        return self._issuer_for(ctx.get("layout", "v1"), tid)

    @staticmethod
    def _issuer_for(layout: str, tid: str) -> str:
        if layout == "v2":
            return f"https://login.microsoftonline.com/{tid}/v2.0"
        return f"https://sts.windows.net/{tid}/"

    def token_issuer(self, grant: Grant, user: User | None) -> str:
        tid = self.user_tid(user) if user else (self.resolve_tenant(grant.ctx.get("tenant")) or self.home_tenant_id)
        return self._issuer_for(grant.ctx.get("layout", "v1"), tid)

    def oid(self, user: User) -> str:
        return str(user.profiles.get(self.kind, {}).get("oid") or stable_id("oid", user.username))

    def upn(self, user: User) -> str:
        claims = self.user_claims(user)
        if claims.get("upn"):
            return str(claims["upn"])
        return f"{user.username}@{self.tenant_name(self.user_tid(user))}.onmicrosoft.com"

    def subject(self, user: User, client_id: str, ctx: dict[str, str]) -> str:
        # Entra's `sub` is pairwise: unique per user and application.
        digest = hashlib.sha256(f"{client_id}:{self.oid(user)}".encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:43]

    # -- groups -------------------------------------------------------------------------------------------
    def _directory_groups(self) -> dict[str, Group]:
        return {g.name: g for g in self.idp.directory.groups}

    def direct_groups(self, user: User) -> list[Group]:
        known = self._directory_groups()
        names = self.user_claims(user).get("groups") or []
        return [known.get(str(n)) or Group(str(n)) for n in names]

    def transitive_groups(self, user: User) -> list[Group]:
        known = self._directory_groups()
        seen: dict[str, Group] = {}
        pending = self.direct_groups(user)
        while pending:
            group = pending.pop(0)
            if group.name in seen:
                continue
            seen[group.name] = group
            pending.extend(known.get(p) or Group(p) for p in group.member_of)
        return list(seen.values())

    def group_claims(self, user: User, target: Target) -> dict[str, Any]:
        """`groups` as object IDs (transitive, as Entra's security-group claim), or the overage form."""
        if (user.group_claims or "always") == "never":
            return {}
        ids = [g.id for g in self.transitive_groups(user)]
        if not ids:
            return {}
        if len(ids) <= self.group_limit:
            return {"groups": ids}
        if user.overage == "hasgroups":
            return {"hasgroups": True}
        endpoint = f"{self.graph_url}/v1.0/users/{self.oid(user)}/getMemberObjects"
        return {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": endpoint}}}

    # -- claims -------------------------------------------------------------------------------------------
    def shape_claims(self, user: User, grant: Grant, target: Target) -> dict[str, Any]:
        raw = self.user_claims(user)
        names: dict[str, Any] = {k: raw[k] for k in ("name", "given_name", "family_name") if k in raw}
        v2 = grant.ctx.get("layout") == "v2"
        if target == "userinfo":
            out = dict(names)
            if "email" in raw and (not v2 or "email" in grant.scopes):
                out["email"] = raw["email"]
            return out
        upn = self.upn(user)
        out = {
            **names,
            "oid": self.oid(user),
            "tid": self.user_tid(user),
            "rh": "0.devidp",
            "uti": secrets.token_urlsafe(16),
        }
        if v2:
            out.update(preferred_username=upn, ver="2.0", aio=secrets.token_urlsafe(24))
        else:
            out.update(upn=upn, unique_name=upn, amr=["pwd"], ipaddr="127.0.0.1", ver="1.0")
        if "email" in raw and (not v2 or "email" in grant.scopes or target == "access_token"):
            out["email"] = raw["email"]
            # Optional claim: whether the email's domain is verified by the tenant (nOAuth guard).
            out["xms_edov"] = bool(raw.get("xms_edov", raw.get("email_verified", True)))
        out.update(self.group_claims(user, target))
        if raw.get("roles"):
            out["roles"] = raw["roles"]
        # Anything else under the user's `profiles.entra` is emitted verbatim (e.g. wids, idtyp, acct).
        handled = {"oid", "tid", "sub", "groups", "upn", "roles", "xms_edov", "email", "email_verified", *names}
        for key, value in user.profiles.get(self.kind, {}).items():
            if key not in handled and value is not None:
                out[key] = value
        return out

    def id_token_extra(self, user: User, grant: Grant) -> dict[str, Any]:
        return {"azp": None, "sid": None}

    # -- authorize/token parameters ----------------------------------------------------------------------
    def authorize_extra(self, params: dict[str, str], grant: Grant) -> str | None:
        if grant.ctx.get("tenant") == "consumers":
            return "AADSTS50020: devidp has no personal Microsoft accounts (consumers)."
        if "resource" in params:
            if grant.ctx.get("layout") == "v2":
                return "AADSTS901002: The 'resource' request parameter is not supported."
            grant.extra["resource"] = params["resource"]
        return None

    def client_auth_error(self, failure: ClientAuthFailure, client_id: str, ctx: dict[str, str]) -> Response:
        status, error, code, message = CLIENT_AUTH_ERRORS[failure]
        segment = ctx.get("tenant") or "common"
        tid = self.resolve_tenant(segment)
        tenant = self.tenant_name(tid) if tid else segment
        return entra_error(status, error, code, message.format(client_id=client_id, tenant=tenant))

    def unknown_code_error(self, ctx: dict[str, str]) -> Response:
        return entra_error(*MALFORMED_CODE)

    def token_extra(self, form: dict[str, str], grant: Grant) -> str | None:
        if "resource" in form:
            if grant.ctx.get("layout") == "v2":
                return "AADSTS901002: The 'resource' request parameter is not supported."
            grant.extra["resource"] = form["resource"]
        return None

    def issues_refresh_token(self, grant: Grant) -> bool:
        return grant.ctx.get("layout") != "v2" or "offline_access" in grant.scopes

    def _v2_resource(self, grant: Grant) -> tuple[str, list[str]]:
        """Audience and `scp` of a v2 access token from the requested scopes."""
        # A custom API's scopes: `<Application ID URI>/<scope>` (api://...) or `<application id>/<scope>`.
        custom = [
            s for s in grant.scopes if "/" in s and (s.startswith("api://") or s.split("/", 1)[0] in self.idp.clients)
        ]
        if custom:
            resource = custom[0].rsplit("/", 1)[0]
            return resource, [s.rsplit("/", 1)[1] for s in custom if s.startswith(resource + "/")]
        graph = [s.removeprefix(GRAPH_SCOPE_PREFIX) for s in grant.scopes if s not in OIDC_SCOPES]
        graph = [s for s in graph if s != ".default"]
        if "User.Read" not in graph:
            graph.append("User.Read")  # consented by default on every app registration
        return GRAPH_APP_ID, [*(s for s in grant.scopes if s in OIDC_SCOPES and s != "offline_access"), *graph]

    def access_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        if grant.ctx.get("layout") == "v2":
            return self._v2_resource(grant)[0]
        return grant.extra.get("resource") or AAD_GRAPH_APP_ID

    def access_token_claims(self, user: User, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        aud = claims["aud"]
        if grant.ctx.get("layout") == "v2":
            scp = " ".join(self._v2_resource(grant)[1])
        else:
            scp = self.v1_graph_scopes if aud in GRAPH_AUDIENCES else "user_impersonation"
        # Graph (and every v1) access token is a v1 token: issuer sts.windows.net.
        if aud in GRAPH_AUDIENCES or grant.ctx.get("layout") != "v2":
            claims["iss"] = self._issuer_for("v1", self.user_tid(user))
        for key in ("sid", "auth_time"):
            claims.pop(key, None)
        claims.update(self.shape_claims(user, grant, "access_token"))
        v1_token = aud in GRAPH_AUDIENCES or grant.ctx.get("layout") != "v2"
        claims.update(idtyp="user", scp=scp, acr="1", ver="1.0" if v1_token else "2.0")
        # v1 tokens name the client in appid/appidacr, v2 tokens in azp/azpacr.
        claims.update(
            {"appid": grant.client_id, "appidacr": "1"} if v1_token else {"azp": grant.client_id, "azpacr": "1"}
        )
        if v1_token:
            claims.pop("preferred_username", None)
            claims.pop("aio", None)
        return claims

    # -- client credentials: app-only tokens ----------------------------------------------------------------
    def service_token_problem(self, grant: Grant, client: Client) -> str | None:
        if len(grant.scopes) != 1 or not grant.scopes[0].endswith("/.default"):
            return (
                "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier (application ID URI)."
            )
        return None

    def service_token_audience(self, grant: Grant, client: Client) -> str | list[str]:
        return grant.scopes[0].removesuffix("/.default")

    def service_token_claims(self, client: Client, grant: Grant, claims: dict[str, Any]) -> dict[str, Any]:
        """An app-only token: roles granted to the application, no scp; oid/sub the service principal."""
        v2 = grant.ctx.get("layout") == "v2"
        principal = stable_id("service-principal", client.client_id)
        tid = self.resolve_tenant(grant.ctx.get("tenant")) or self.home_tenant_id
        claims.update(
            sub=principal,
            oid=principal,
            tid=tid,
            idtyp="app",
            rh="0.devidp",
            uti=secrets.token_urlsafe(16),
            ver="2.0" if v2 else "1.0",
        )
        claims.update({"azp": client.client_id, "azpacr": "1"} if v2 else {"appid": client.client_id, "appidacr": "1"})
        if client.roles:
            claims["roles"] = list(client.roles)
        return claims

    def device_response_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "message": f"To sign in, use a web browser to open the page {body['verification_uri']} and enter "
            f"the code {body['user_code']} to authenticate."
        }

    def token_response(self, grant: Grant, response: dict[str, Any], now: int) -> dict[str, Any]:
        lifetime = self.access_token_lifetime
        if grant.ctx.get("layout") == "v2":
            response.update(expires_in=lifetime, ext_expires_in=lifetime)
            return response
        # v1 answers with strings, including expires_on / not_before (social-core stores them).
        response.update(
            expires_in=str(lifetime),
            ext_expires_in=str(lifetime),
            expires_on=str(now + lifetime),
            not_before=str(now),
            resource=grant.extra.get("resource") or AAD_GRAPH_APP_ID,
        )
        response["scope"] = self.v1_graph_scopes
        return response

    # -- documents ----------------------------------------------------------------------------------------
    def jwks(self, ctx: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
        if ctx.get("layout") != "v2":
            return document
        issuer = self.issuer({"layout": "v2", "tenant": ctx.get("tenant", "common")})
        # v2 keys carry the issuer they sign for; social-core checks it (validate_key_issuer).
        return {"keys": [{**key, "issuer": issuer} for key in document["keys"]]}

    def discovery(self, ctx: dict[str, str], request: Request) -> dict[str, Any] | Response:
        v2 = ctx.get("layout") == "v2"
        doc: dict[str, Any] = {
            "token_endpoint": self.url("token", ctx),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": self.url("jwks", ctx),
            "response_modes_supported": ["query"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"] if v2 else ["openid"],
            "issuer": self.issuer(ctx),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": self.url("userinfo", ctx),
            "authorization_endpoint": self.url("authorize", ctx),
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": self.url("end_session", ctx),
            "device_authorization_endpoint": self.url("device_authorization", ctx),
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "name",
                "given_name",
                "family_name",
                "oid",
                "tid",
                "upn",
                "unique_name",
                "preferred_username",
                "email",
                "groups",
                "roles",
                "nonce",
                "ver",
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": self.graph_url.split("://", 1)[1],
        }
        if not v2:
            doc["microsoft_multi_refresh_token"] = True
        return doc


PROFILE = EntraProfile
