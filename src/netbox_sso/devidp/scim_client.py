"""devidp as a SCIM client: push a users file to a SCIM service provider, then a change set, shaped like
Entra ID's or Okta's provisioning requests.

Entra ID style (Microsoft's "Known issues and SCIM compliance" / provisioning tutorial): a probe
`userName eq "<random guid>"` first (expects an empty list), then per user a lookup by
`userName eq` and a POST with externalId = the object ID and the enterprise extension; groups are POSTed
without members (externalId = group object ID), membership is PATCHed with capitalised ops
(`"Add"`/`"Remove"`, path `members`, value a list); deactivation is
`{"op": "Replace", "path": "active", "value": "False"}` (a string); DELETE comes last.
Okta style: lookup by `userName eq` with startIndex/count, POST with externalId = the Okta user id;
groups are replaced whole by PUT (displayName and every member); deactivation on unassignment is a
PATCH replacing `{"active": false}`.

Users are described by `ScimUser` (what the provider's directory knows); `users_from_devidp` derives them
from devidp's users as each profile's sign-in sees them, so provisioning and sign-in agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

Style = Literal["entra", "okta"]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#: Entra ID adds or removes at most this many members per PATCH.
ENTRA_MEMBER_BATCH = 10


class SCIMClientError(RuntimeError):
    """The service provider answered an unexpected status; the message carries its SCIM error detail."""


@dataclass
class ScimUser:
    user_name: str
    external_id: str
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    department: str = ""
    groups: list[tuple[str, str]] = field(default_factory=list)  # (displayName, externalId)


def users_from_devidp(idp: Any, style: Style, usernames: Iterable[str] | None = None) -> list[ScimUser]:
    """devidp's users as Entra ID (upn, object ID) or Okta (login, user ID) would provision them."""
    from netbox_sso.devidp.model import stable_id

    profile = idp.profile(style)
    result = []
    for name in usernames if usernames is not None else list(idp.users):
        user = idp.users[name]
        claims = profile.user_claims(user) if hasattr(profile, "user_claims") else user.claims
        if style == "entra":
            user_name, external_id = profile.upn(user), profile.oid(user)
            groups = [(group, stable_id("group", group)) for group in user.groups]
        else:
            user_name = str(claims.get("preferred_username") or user.username)
            external_id = profile.subject(user, "", {})
            groups = [(group, "") for group in user.groups]
        result.append(
            ScimUser(
                user_name=user_name,
                external_id=external_id,
                given_name=str(claims.get("given_name") or ""),
                family_name=str(claims.get("family_name") or ""),
                email=str(claims.get("email") or ""),
                groups=groups,
            )
        )
    return result


class SCIMClient:
    """Talks to one SCIM endpoint (e.g. https://netbox/api/plugins/sso/scim/v2) as Entra ID or Okta does."""

    def __init__(
        self,
        base_url: str,
        token: str,
        style: Style = "entra",
        *,
        verify: Any = True,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.style = style
        self.http = session or requests.Session()
        self.http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/scim+json",
                "Content-Type": "application/scim+json",
            }
        )
        self.http.verify = verify
        self.timeout = timeout
        self.user_ids: dict[str, str] = {}  # userName -> SCIM id
        self.group_ids: dict[str, str] = {}  # displayName -> SCIM id

    # ---- HTTP ----------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: tuple[int, ...] = (200,),
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = self.http.request(method, f"{self.base}{path}", json=body, params=params, timeout=self.timeout)
        if response.status_code not in expect:
            raise SCIMClientError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def find_user(self, user_name: str) -> dict[str, Any] | None:
        params: dict[str, Any] = {"filter": f'userName eq "{user_name}"'}
        if self.style == "okta":
            params.update(startIndex=1, count=100)
        found = self.request("GET", "/Users", params=params)
        return found["Resources"][0] if found.get("totalResults") else None

    def probe(self) -> dict[str, Any]:
        """Entra ID's connection test: a filter on a random userName, which must find nothing."""
        return self.request("GET", "/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'})

    # ---- users ---------------------------------------------------------------------------------------
    def user_body(self, user: ScimUser, *, active: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "userName": user.user_name,
            "externalId": user.external_id,
            "active": active,
            "displayName": f"{user.given_name} {user.family_name}".strip() or user.user_name,
            "name": {"givenName": user.given_name, "familyName": user.family_name},
            "emails": [{"value": user.email, "type": "work", "primary": True}] if user.email else [],
        }
        if self.style == "entra":
            body["schemas"].append(ENTERPRISE)
            body[ENTERPRISE] = {"department": user.department or "IT"}
        else:
            body["locale"] = "en-US"
            body["groups"] = []
        return body

    def create_user(self, user: ScimUser) -> str:
        existing = self.find_user(user.user_name)
        if existing is not None:
            self.user_ids[user.user_name] = existing["id"]
            return existing["id"]
        created = self.request("POST", "/Users", self.user_body(user), expect=(201,))
        self.user_ids[user.user_name] = created["id"]
        return created["id"]

    def update_user(self, user: ScimUser) -> dict[str, Any]:
        scim_id = self._user_id(user.user_name)
        if self.style == "okta":  # Okta replaces the whole profile
            return self.request("PUT", f"/Users/{scim_id}", {**self.user_body(user), "id": scim_id})
        operations = [
            {"op": "Replace", "path": "name.givenName", "value": user.given_name},
            {"op": "Replace", "path": "name.familyName", "value": user.family_name},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": user.email},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": user.department or "IT"},
        ]
        return self.patch(f"/Users/{scim_id}", operations)

    def set_active(self, user_name: str, active: bool) -> dict[str, Any]:
        scim_id = self._user_id(user_name)
        if self.style == "entra":
            return self.patch(f"/Users/{scim_id}", [{"op": "Replace", "path": "active", "value": str(active)}])
        return self.patch(f"/Users/{scim_id}", [{"op": "replace", "value": {"active": active}}])

    def delete_user(self, user_name: str) -> None:
        self.request("DELETE", f"/Users/{self._user_id(user_name)}", expect=(204,))
        self.user_ids.pop(user_name, None)

    # ---- groups --------------------------------------------------------------------------------------
    def ensure_group(self, display_name: str, external_id: str = "") -> str:
        if display_name in self.group_ids:
            return self.group_ids[display_name]
        found = self.request(
            "GET", "/Groups", params={"filter": f'displayName eq "{display_name}"', "excludedAttributes": "members"}
        )
        if found.get("totalResults"):
            self.group_ids[display_name] = found["Resources"][0]["id"]
        else:
            body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name}
            if external_id:
                body["externalId"] = external_id
            body["members"] = []
            self.group_ids[display_name] = self.request("POST", "/Groups", body, expect=(201,))["id"]
        return self.group_ids[display_name]

    def group_members(self, display_name: str) -> list[str]:
        group = self.request("GET", f"/Groups/{self.group_ids[display_name]}")
        return [member["value"] for member in group.get("members") or []]

    def change_members(
        self, display_name: str, external_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        scim_id = self.ensure_group(display_name, external_id)
        add_ids = [self._user_id(name) for name in add]
        remove_ids = [self._user_id(name) for name in remove]
        if self.style == "okta":  # the whole group, by PUT
            members = (set(self.group_members(display_name)) | set(add_ids)) - set(remove_ids)
            self.request(
                "PUT",
                f"/Groups/{scim_id}",
                {
                    "schemas": [GROUP_SCHEMA],
                    "id": scim_id,
                    "displayName": display_name,
                    "members": [{"value": member} for member in sorted(members)],
                },
            )
            return
        for op, ids in (("Add", add_ids), ("Remove", remove_ids)):
            for start in range(0, len(ids), ENTRA_MEMBER_BATCH):
                batch = ids[start : start + ENTRA_MEMBER_BATCH]
                self.patch(
                    f"/Groups/{scim_id}",
                    [{"op": op, "path": "members", "value": [{"value": member} for member in batch]}],
                    expect=(200, 204),
                )

    def patch(self, path: str, operations: list[dict[str, Any]], *, expect: tuple[int, ...] = (200,)) -> Any:
        return self.request("PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": operations}, expect=expect)

    def _user_id(self, user_name: str) -> str:
        if user_name not in self.user_ids:
            found = self.find_user(user_name)
            if found is None:
                raise SCIMClientError(f"user {user_name!r} is not provisioned")
            self.user_ids[user_name] = found["id"]
        return self.user_ids[user_name]

    # ---- whole files ---------------------------------------------------------------------------------
    def push(self, users: list[ScimUser]) -> dict[str, int]:
        """The first cycle: probe (Entra), every user, then every group with its members."""
        if self.style == "entra":
            self.probe()
        for user in users:
            self.create_user(user)
        members: dict[tuple[str, str], list[str]] = {}
        for user in users:
            for group in user.groups:
                members.setdefault(group, []).append(user.user_name)
        for (name, external_id), names in sorted(members.items()):
            self.change_members(name, external_id, add=names)
        return {"users": len(users), "groups": len(members)}

    def apply_changes(self, changes: list[dict[str, Any]], users: dict[str, ScimUser]) -> int:
        """A change set: [{op: update|add_to_group|remove_from_group|disable|enable|delete, user, group}]."""
        for change in changes:
            op, user = change["op"], users[change["user"]]
            if op == "update":
                for key in ("given_name", "family_name", "email", "department"):
                    if key in change:
                        setattr(user, key, change[key])
                self.update_user(user)
            elif op in ("add_to_group", "remove_from_group"):
                group = change["group"]
                external_id = change.get("group_external_id", "")
                if op == "add_to_group":
                    self.change_members(group, external_id, add=[user.user_name])
                else:
                    self.change_members(group, external_id, remove=[user.user_name])
            elif op in ("disable", "enable"):
                self.set_active(user.user_name, op == "enable")
            elif op == "delete":
                self.delete_user(user.user_name)
            else:
                raise SCIMClientError(f"unknown change op {op!r}")
        return len(changes)
