"""The user directories of the Keycloak and Authentik profiles, as their admin APIs show them.

NetBox's directory reconciliation (`netbox_sso.reconcile`) lists these; tests and the demo remove or
disable a devidp user (`DevIdP.remove_user`, `upsert_user(..., disabled=True)`) and watch the account go.

Keycloak (`<root>/admin/realms/<realm>/...`), as Keycloak's Admin REST API answers:
    GET users?first=&max=&briefRepresentation=   a JSON array, sorted by username; `id` is the user's sub
    GET users/count                              a number
    GET users/<id>                               one user, 404 {"error": "User not found"}
  Bearer: an access token of this realm from the client-credentials grant of a client holding the
  realm-management role `view-users` (its `roles` in devidp); 401 without a valid token, 403 without the role.

Authentik (`<root>/api/v3/core/users/`), as Authentik's API answers:
    GET ?page=&page_size=   {"pagination": {..., "count"}, "results": [...]}, sorted by username
    GET <pk>/               one user
  Bearer: an API token registered with `DevIdP.register_api_token` (owner None: may view every user; a
  username: sees only that user, as a token of a user without the view permission does); 403 otherwise.
  `uid` is the sub devidp's Authentik profile signs (Authentik's default subject mode "hashed user ID"
  makes the sub the user's `uid`); `pk` is a stable small number, `uuid` a stable UUID.
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING, Any

from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import User, stable_id

if TYPE_CHECKING:
    from netbox_sso.devidp.profiles.base import Profile, Route

#: Keycloak's realm-management roles that let a client read users.
KEYCLOAK_VIEW_ROLES = frozenset({"view-users", "manage-users", "realm-admin"})
KEYCLOAK_MAX_DEFAULT = 100
AUTHENTIK_PAGE_SIZE_DEFAULT = 100


def _users(profile: Profile) -> list[User]:
    with profile.idp._lock:
        return sorted(profile.idp.users.values(), key=lambda u: u.username.lower())


def _int(request: Request, name: str, default: int) -> int | None:
    raw = (request.query.get(name) or [None])[0]
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


# ---- Keycloak ------------------------------------------------------------------------------------------
def keycloak_user(user: User, brief: bool) -> dict[str, Any]:
    claims = user.claims_for("keycloak")
    out: dict[str, Any] = {
        "id": user.sub,
        "username": str(claims.get("preferred_username") or user.username).lower(),
        "firstName": claims.get("given_name"),
        "lastName": claims.get("family_name"),
        "email": claims.get("email"),
        "emailVerified": bool(claims.get("email_verified")),
        "enabled": not user.disabled,
        "createdTimestamp": 1_700_000_000_000,
    }
    if not brief:
        out.update(totp=False, disableableCredentialTypes=[], requiredActions=[], notBefore=0)
    return {k: v for k, v in out.items() if v is not None}


def _keycloak_refusal(profile: Profile, route: Route, request: Request) -> Response | None:
    """None when the bearer is a realm token of a client holding view-users (Keycloak's checks)."""
    token = profile.idp.bearer_token(request)
    claims = profile.idp.keys[profile.prefix].verify(token) if token else None
    if (
        claims is None
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] < time.time()
        or claims.get("iss") != profile.issuer(route.ctx)
    ):
        return Response.json({"error": "HTTP 401 Unauthorized"}, 401)
    client = profile.idp.clients.get(str(claims.get("azp") or claims.get("client_id") or ""))
    if client is None or not KEYCLOAK_VIEW_ROLES & set(client.roles):
        return Response.json({"error": "HTTP 403 Forbidden"}, 403)
    return None


def keycloak_admin(profile: Profile, route: Route, request: Request) -> Response:
    if request.method != "GET":
        return Response.json({"error": "HTTP 405 Method Not Allowed"}, 405)
    refusal = _keycloak_refusal(profile, route, request)
    if refusal is not None:
        return refusal
    users = _users(profile)
    if route.endpoint == "admin_users_count":
        return Response.json(len(users))
    if route.endpoint == "admin_user":
        found = next((u for u in users if u.sub == route.ctx.get("user_id")), None)
        if found is None:
            return Response.json({"error": "User not found"}, 404)
        return Response.json(keycloak_user(found, brief=False))
    first = _int(request, "first", 0)
    size = _int(request, "max", KEYCLOAK_MAX_DEFAULT)
    if first is None or size is None or first < 0:
        return Response.json({"error": "invalid_request", "error_description": "first and max are numbers"}, 400)
    brief = (request.query.get("briefRepresentation") or ["false"])[0].lower() == "true"
    page = users[first : first + max(size, 0)] if size >= 0 else users[first:]
    return Response.json([keycloak_user(u, brief) for u in page])


# ---- Authentik -----------------------------------------------------------------------------------------
def authentik_pk(user: User) -> int:
    return zlib.crc32(user.username.encode()) % 1_000_000 + 1


def authentik_user(user: User) -> dict[str, Any]:
    claims = user.claims_for("authentik")
    return {
        "pk": authentik_pk(user),
        "username": user.username,
        "name": claims.get("name") or user.username,
        "is_active": not user.disabled,
        "last_login": None,
        "is_superuser": False,
        "groups": [],
        "email": claims.get("email") or "",
        "avatar": "",
        "attributes": {k: v for k, v in {"upn": claims.get("upn")}.items() if v},
        "uid": user.sub,
        "path": "users",
        "type": "internal",
        "uuid": stable_id("authentik-user", user.username),
    }


def authentik_api(profile: Profile, route: Route, request: Request) -> Response:
    if request.method != "GET":
        return Response.json({"detail": f'Method "{request.method}" not allowed.'}, 405)
    token = profile.idp.bearer_token(request)
    tokens = profile.idp.api_tokens.get(profile.prefix, {})
    if not token:
        return Response.json({"detail": "Authentication credentials were not provided."}, 403)
    if token not in tokens:
        return Response.json({"detail": "Token invalid/expired"}, 403)
    owner = tokens[token]
    # A token of a user without the view permission sees only that user (Authentik filters the list).
    users = [u for u in _users(profile) if owner is None or u.username == owner]
    if route.endpoint == "api_user":
        found = next((u for u in users if str(authentik_pk(u)) == route.ctx.get("pk")), None)
        if found is None:
            return Response.json({"detail": "No User matches the given query."}, 404)
        return Response.json(authentik_user(found))
    page = _int(request, "page", 1)
    size = _int(request, "page_size", AUTHENTIK_PAGE_SIZE_DEFAULT)
    if page is None or size is None or page < 1 or size < 1:
        return Response.json({"detail": "Invalid page."}, 404)
    count = len(users)
    pages = max(1, -(-count // size))
    if page > pages:
        return Response.json({"detail": "Invalid page."}, 404)
    start = (page - 1) * size
    chunk = users[start : start + size]
    return Response.json(
        {
            "pagination": {
                "next": page + 1 if page < pages else 0,
                "previous": page - 1 if page > 1 else 0,
                "count": count,
                "current": page,
                "total_pages": pages,
                "start_index": start + 1 if chunk else 0,
                "end_index": start + len(chunk),
            },
            "results": [authentik_user(u) for u in chunk],
            "autocomplete": {},
        }
    )
