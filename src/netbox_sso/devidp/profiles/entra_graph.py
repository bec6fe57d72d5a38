"""devidp's Microsoft Graph subset for the Entra ID profile: the endpoints netbox-sso calls to resolve groups
(groups overage, `groups_sources: ['graph']`) and doctor probes, with Graph's errors and OData paging.

    /graph/v1.0/me[/memberOf|/transitiveMemberOf|/getMemberObjects|/getMemberGroups|/checkMemberGroups]
    /graph/v1.0/users/{id-or-upn}/...                  same, for the signed-in user (or any, with *.Read.All)

Access tokens are the ones the Entra profile's token endpoint issues for Graph's audience; the directory
(users, groups, their object IDs) is the profile's (`netbox_sso.devidp.profiles.entra`).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Group, User
from netbox_sso.devidp.profiles.base import Route

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_AUDIENCES = frozenset({"https://graph.microsoft.com", "https://graph.microsoft.com/", GRAPH_APP_ID})
AAD_GRAPH_APP_ID = "00000002-0000-0000-c000-000000000000"  # v1 default audience without `resource`
GRAPH_SCOPE_PREFIX = "https://graph.microsoft.com/"
GRAPH_READ_SCOPES = frozenset(
    {"User.Read", "User.Read.All", "User.ReadBasic.All", "GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}
)
GRAPH_OTHER_USERS_SCOPES = frozenset({"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"})
GRAPH_PAGE_SIZE = 100  # Graph's default page size for memberOf
CHECK_MEMBER_GROUPS_MAX = 20

#: The profile's "graph" layout: endpoint -> its paths (about the signed-in user, about a named user).
GRAPH_ENDPOINTS: dict[str, str | tuple[str, ...]] = {
    "graph_me": ("/graph/v1.0/me", "/graph/v1.0/users/{user}"),
    "graph_member_of": ("/graph/v1.0/me/memberOf", "/graph/v1.0/users/{user}/memberOf"),
    "graph_transitive_member_of": (
        "/graph/v1.0/me/transitiveMemberOf",
        "/graph/v1.0/users/{user}/transitiveMemberOf",
    ),
    "graph_get_member_objects": (
        "/graph/v1.0/me/getMemberObjects",
        "/graph/v1.0/users/{user}/getMemberObjects",
    ),
    "graph_get_member_groups": (
        "/graph/v1.0/me/getMemberGroups",
        "/graph/v1.0/users/{user}/getMemberGroups",
    ),
    "graph_check_member_groups": (
        "/graph/v1.0/me/checkMemberGroups",
        "/graph/v1.0/users/{user}/checkMemberGroups",
    ),
}


def _graph_error(status: int, code: str, message: str) -> Response:
    return Response.json({"error": {"code": code, "message": message, "innerError": {"request-id": "devidp"}}}, status)


class GraphEndpoints:
    """Mixed into `EntraProfile`, whose directory (users, groups, object IDs) these endpoints read."""

    if TYPE_CHECKING:  # the IdP and the directory methods are EntraProfile's
        idp: Any

        def oid(self, user: User) -> str: ...
        def upn(self, user: User) -> str: ...
        def user_claims(self, user: User) -> dict[str, Any]: ...
        def direct_groups(self, user: User) -> list[Group]: ...
        def transitive_groups(self, user: User) -> list[Group]: ...

    def handle(self, route: Route, request: Request) -> Response:
        token = self.idp.bearer_token(request)
        if not token:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        checked = self.idp.access_token_grant(self, token)
        me = self.idp.users.get(checked[1].username) if checked else None
        if checked is None or me is None or me.disabled:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        claims = checked[0]
        if claims.get("aud") not in GRAPH_AUDIENCES:
            return _graph_error(
                403,
                "Authorization_RequestDenied",
                f"Access token audience {claims.get('aud')!r} is not Microsoft Graph.",
            )
        scopes = set(str(claims.get("scp") or "").split())
        if not scopes & GRAPH_READ_SCOPES:
            return _graph_error(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        user = me
        wanted = route.ctx.get("user")
        if wanted is not None and wanted not in (self.oid(me), self.upn(me)):
            if not scopes & GRAPH_OTHER_USERS_SCOPES:
                return _graph_error(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            user = next((u for u in self.idp.users.values() if wanted in (self.oid(u), self.upn(u))), None)
            if user is None:
                return _graph_error(404, "Request_ResourceNotFound", f"Resource '{wanted}' does not exist.")
        endpoint = route.endpoint
        get = endpoint in ("graph_me", "graph_member_of", "graph_transitive_member_of")
        if request.method != ("GET" if get else "POST"):
            return _graph_error(405, "Request_BadRequest", "Unsupported HTTP method.")
        if endpoint == "graph_me":
            return Response.json(self._user_object(user))
        if endpoint == "graph_member_of":
            return self._page(request, [self._group_object(g) for g in self.direct_groups(user)])
        if endpoint == "graph_transitive_member_of":
            return self._page(request, [self._group_object(g) for g in self.transitive_groups(user)])
        try:
            body = request.json
        except ValueError:
            return _graph_error(400, "Request_BadRequest", "Invalid JSON body.")
        ids = [g.id for g in self.transitive_groups(user)]
        if endpoint in ("graph_get_member_objects", "graph_get_member_groups"):
            if not isinstance(body, dict) or not isinstance(body.get("securityEnabledOnly"), bool):
                return _graph_error(400, "Request_BadRequest", "securityEnabledOnly (boolean) is required.")
            return Response.json(
                {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)", "value": ids}
            )
        wanted_ids = body.get("groupIds") if isinstance(body, dict) else None
        if not isinstance(wanted_ids, list) or not all(isinstance(i, str) for i in wanted_ids):
            return _graph_error(400, "Request_BadRequest", "groupIds (array of strings) is required.")
        if len(wanted_ids) > CHECK_MEMBER_GROUPS_MAX:
            return _graph_error(
                400, "Request_BadRequest", f"checkMemberGroups accepts at most {CHECK_MEMBER_GROUPS_MAX} groupIds."
            )
        member = set(ids)
        return Response.json(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                "value": [i for i in wanted_ids if i in member],
            }
        )

    def _user_object(self, user: User) -> dict[str, Any]:
        raw = self.user_claims(user)
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": self.oid(user),
            "displayName": raw.get("name"),
            "givenName": raw.get("given_name"),
            "surname": raw.get("family_name"),
            "mail": raw.get("email"),
            "userPrincipalName": self.upn(user),
            "businessPhones": [],
            "jobTitle": None,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
        }

    @staticmethod
    def _group_object(group: Group) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.group",
            "id": group.id,
            "deletedDateTime": None,
            "description": None,
            "displayName": group.name,
            "groupTypes": [],
            "mail": None,
            "mailEnabled": False,
            "mailNickname": group.name,
            "securityEnabled": True,
            "visibility": None,
        }

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """OData paging: `$top` (1..999, default 100), opaque `$skiptoken`, `$select`."""
        query = {k: v[0] for k, v in request.query.items()}
        try:
            top = max(1, min(999, int(query.get("$top", GRAPH_PAGE_SIZE))))
            skip = int(base64.urlsafe_b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
        except ValueError:
            return _graph_error(400, "Request_BadRequest", "Invalid $top or $skiptoken.")
        page = items[skip : skip + top]
        context = "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
        select = [f.strip() for f in query.get("$select", "").split(",") if f.strip()]
        if select:
            page = [{"@odata.type": item["@odata.type"], **{f: item.get(f) for f in select}} for item in page]
            context += f"({','.join(select)})"
        body: dict[str, Any] = {"@odata.context": context, "value": page}
        if skip + top < len(items):
            params = {k: v for k, v in query.items() if k in ("$select", "$top")}
            params["$skiptoken"] = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
            body["@odata.nextLink"] = f"{self.idp.base_url}{request.path}?{urlencode(params)}"
        return Response.json(body)
