"""The directory devidp serves: users, relying-party clients and (Entra-style) groups.

Everything here is plain data loaded from a YAML/JSON users file; profiles shape it into tokens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

# Stable namespace so a user's generated `sub` and a group's object ID survive restarts and machines.
DEVIDP_NAMESPACE = uuid.UUID("6f2a4d9e-5b0c-4c1e-9a57-3d0b8e2f1c44")

GroupClaimsMode = Literal["always", "scope", "never"]


def stable_id(kind: str, name: str) -> str:
    """Deterministic UUID for a named object (user, group, tenant)."""
    return str(uuid.uuid5(DEVIDP_NAMESPACE, f"{kind}:{name}"))


@dataclass
class User:
    """One account on devidp's login page."""

    username: str
    claims: dict[str, Any] = field(default_factory=dict)
    password: str | None = None
    disabled: bool = False
    # Per-profile claim overrides merged over `claims` (e.g. Keycloak group paths, an Entra upn).
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Entra tenant this user belongs to (a tenant name or ID); None means the home tenant.
    tenant: str | None = None
    # None: the profile decides whether groups/roles are emitted without the `groups` scope.
    group_claims: GroupClaimsMode | None = None
    # Entra: force the implicit-flow style `hasgroups` overage marker instead of `_claim_names`.
    overage: Literal["claim_sources", "hasgroups"] = "claim_sources"

    def __post_init__(self) -> None:
        self.claims = dict(self.claims)
        self.claims.setdefault("sub", stable_id("user", self.username))

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def groups(self) -> list[str]:
        value = self.claims.get("groups") or []
        return [str(g) for g in value] if isinstance(value, list) else [str(value)]

    def claims_for(self, profile: str) -> dict[str, Any]:
        """The user's claims as seen by one profile (overrides applied; None removes a claim)."""
        merged = dict(self.claims)
        for name, value in self.profiles.get(profile, {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> User:
        data = dict(data)
        unknown = set(data) - {
            "username",
            "claims",
            "password",
            "disabled",
            "profiles",
            "tenant",
            "group_claims",
            "overage",
            "extra_groups",
        }
        if unknown:
            raise ValueError(f"user {data.get('username')!r}: unknown keys {sorted(unknown)}")
        if not data.get("username"):
            raise ValueError("every user needs a username")
        claims = dict(data.get("claims") or {})
        extra = int(data.get("extra_groups") or 0)
        if extra:
            # Lets a users file describe "a member of 250 groups" (Entra overage) in one line.
            claims["groups"] = [
                *list(claims.get("groups") or []),
                *(f"bulk-group-{i:03d}" for i in range(1, extra + 1)),
            ]
        return cls(
            username=str(data["username"]),
            claims=claims,
            password=data.get("password"),
            disabled=bool(data.get("disabled", False)),
            profiles={str(k): dict(v or {}) for k, v in (data.get("profiles") or {}).items()},
            tenant=data.get("tenant"),
            group_claims=data.get("group_claims"),
            overage=data.get("overage", "claim_sources"),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for the control API and the CLI banner."""
        return {
            "username": self.username,
            "sub": self.sub,
            "groups": self.groups,
            "has_password": self.password is not None,
            "disabled": self.disabled,
            "tenant": self.tenant,
        }


@dataclass
class Client:
    """A registered relying party (shared by every profile unless `profiles` restricts it)."""

    client_id: str
    client_secret: str | None = None
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    require_pkce: bool = False
    profiles: list[str] | None = None
    #: App roles granted to this client as an application (client-credentials tokens carry them).
    roles: list[str] = field(default_factory=list)
    #: The secret is known but past its end date: the token endpoint answers as the provider does for an
    #: expired secret (Entra AADSTS7000222), so tests can reproduce it.
    secret_expired: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Client:
        data = dict(data)
        if not data.get("client_id"):
            raise ValueError("every client needs a client_id")
        return cls(
            client_id=str(data["client_id"]),
            client_secret=data.get("client_secret"),
            redirect_uris=list(data.get("redirect_uris") or []),
            post_logout_redirect_uris=list(data.get("post_logout_redirect_uris") or []),
            backchannel_logout_uri=data.get("backchannel_logout_uri"),
            require_pkce=bool(data.get("require_pkce", False)),
            profiles=data.get("profiles"),
            roles=[str(r) for r in data.get("roles") or []],
            secret_expired=bool(data.get("secret_expired", False)),
        )


@dataclass
class Group:
    """A directory group (used by Entra's object IDs and Graph; other profiles use names only)."""

    name: str
    id: str = ""
    member_of: list[str] = field(default_factory=list)  # parent group names, for transitive membership

    def __post_init__(self) -> None:
        self.id = self.id or stable_id("group", self.name)


@dataclass
class Directory:
    """The parsed users file."""

    users: list[User] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    tenants: dict[str, str] = field(default_factory=dict)  # name -> tenant ID (Entra)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Directory:
        unknown = set(data) - {"users", "clients", "groups", "tenants"}
        if unknown:
            raise ValueError(f"users file: unknown top-level keys {sorted(unknown)}")
        users = [User.from_dict(u) for u in data.get("users") or []]
        names = [u.username for u in users]
        if len(names) != len(set(names)):
            raise ValueError("users file: duplicate usernames")
        return cls(
            users=users,
            clients=[Client.from_dict(c) for c in data.get("clients") or []],
            groups=[
                Group(name=str(g["name"]), id=str(g.get("id") or ""), member_of=list(g.get("member_of") or []))
                for g in data.get("groups") or []
            ],
            tenants={str(k): str(v) for k, v in (data.get("tenants") or {}).items()},
        )


def load_users_file(path: str | Path) -> Directory:
    """Load a YAML or JSON users file (format in the package docstring)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping with 'users' (and optionally 'clients')")
    return Directory.from_dict(data)


def coerce_directory(users: Directory | Path | str | Iterable[User | Mapping[str, Any]] | None) -> Directory:
    """Accept a Directory, a users-file path, or a list of users (dicts or User objects)."""
    if users is None:
        return Directory()
    if isinstance(users, Directory):
        return users
    if isinstance(users, str | Path):
        return load_users_file(users)
    return Directory(users=[u if isinstance(u, User) else User.from_dict(u) for u in users])
