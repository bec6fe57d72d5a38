"""NetBox as an OAuth 2.0 resource server: the settings and the rules for provider access tokens.

Pure (no Django, no network). `netbox_sso.api_tokens` verifies the signature with the sign-in backend's
keys, then applies these rules in order; each failure is a `BearerRefusal` whose `reason` is a stable
code and whose `description` is what the `WWW-Authenticate` header and the audit trail say.

Settings, `PLUGINS_CONFIG['netbox_sso']['api_tokens'][<backend name>]` (no block: bearer tokens of that
provider are not accepted; the feature is off unless configured):

- `audiences` (list): accepted `aud` values. Default: the backend's client id, and for Entra ID also
  `api://<client id>` (the Application ID URI the portal proposes).
- `read_scopes` / `write_scopes` (lists): scope (`scope`, `scp`) or app-role (`roles`) values that allow
  read-only / read-write access. A token with neither is refused (403 insufficient_scope); a read-only
  token can never write (NetBox's own write_enabled check answers 403).
- `create_users` (bool, default False): a person whose identity has never signed in gets a NetBox
  account on first API use; off, such a token is refused.
- `service_accounts` (dict client/application id -> NetBox username): client-credentials tokens of these
  clients act as that account (created when missing, no password).
- `service_mapping` (dict, the keys of a `backends` block): how a service token's roles or scopes
  become the service account's groups, e.g. `{'groups_claim': 'roles', 'group_map': {...}}`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from netbox_sso.core.errors import PLUGIN_ROOT, ConfigError, ConfigProblem, did_you_mean, setting_path
from netbox_sso.core.rules import BackendRules, parse_config
from netbox_sso.providers.entra import user_key

ROOT_KEY = "api_tokens"
POLICY_KEYS = ("audiences", "read_scopes", "write_scopes", "create_users", "service_accounts", "service_mapping")
#: RFC 9068 section 2.1: "Resource servers MUST verify that the typ header value is "at+jwt" or
#: "application/at+jwt""; Entra ID and Okta sign access tokens with typ "JWT" (or none).
#: The rules name a `service_mapping` block is parsed under.
SERVICE_RULES = "service-accounts"
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})
#: Claims only ID tokens carry (OIDC Core 2, 3.1.3.6, 3.3.2.11): an access token never has them.
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash")

Kind = Literal["generic", "entra", "okta"]
Level = Literal["read", "write"]


# ---- settings --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiTokenPolicy:
    """What one backend's access tokens may do in NetBox."""

    backend: str
    audiences: tuple[str, ...] = ()
    read_scopes: frozenset[str] = frozenset()
    write_scopes: frozenset[str] = frozenset()
    create_users: bool = False
    service_accounts: Mapping[str, str] = field(default_factory=dict)
    service_rules: BackendRules | None = None

    def level(self, grants: Collection[str]) -> Level | None:
        """Write when a write scope/role is granted, read for a read one, None for neither."""
        granted = set(grants)
        if granted & self.write_scopes:
            return "write"
        if granted & self.read_scopes:
            return "read"
        return None


def _strings(value: Any, path: str, problems: list[ConfigProblem]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        problems.append(
            ConfigProblem(path, f"expected a list of non-empty strings, got {value!r}", "write e.g. ['netbox.read']")
        )
        return ()
    return tuple(value)


def parse_api_tokens(raw: Any) -> dict[str, ApiTokenPolicy]:
    """Validate `PLUGINS_CONFIG['netbox_sso']['api_tokens']`; raise ConfigError listing every problem."""
    root = setting_path(PLUGIN_ROOT, ROOT_KEY)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            ConfigProblem(
                root, "expected a dict of backend name -> settings", "write {'oidc': {'read_scopes': [...], ...}}"
            )
        )
    problems: list[ConfigProblem] = []
    policies: dict[str, ApiTokenPolicy] = {}
    for backend, block in raw.items():
        path = setting_path(PLUGIN_ROOT, ROOT_KEY, str(backend))
        if not isinstance(block, Mapping):
            problems.append(ConfigProblem(path, "expected a dict", "write {'read_scopes': [...], ...}"))
            continue
        for key in block:
            if key not in POLICY_KEYS:
                hint = did_you_mean(str(key), POLICY_KEYS)
                problems.append(
                    ConfigProblem(
                        setting_path(PLUGIN_ROOT, ROOT_KEY, str(backend), str(key)),
                        "unknown setting",
                        hint or f"use one of {', '.join(POLICY_KEYS)}",
                    )
                )
        read = _strings(block.get("read_scopes", ()), f"{path}['read_scopes']", problems)
        write = _strings(block.get("write_scopes", ()), f"{path}['write_scopes']", problems)
        if not read and not write:
            problems.append(
                ConfigProblem(
                    path,
                    "no read_scopes or write_scopes: no token could ever be used",
                    "list the scope or app-role values that allow reading and writing",
                )
            )
        audiences = _strings(block.get("audiences", ()), f"{path}['audiences']", problems)
        create = block.get("create_users", False)
        if not isinstance(create, bool):
            problems.append(
                ConfigProblem(
                    f"{path}['create_users']", f"expected True or False, got {create!r}", "write True or False"
                )
            )
        accounts_raw = block.get("service_accounts", {})
        accounts: dict[str, str] = {}
        if not isinstance(accounts_raw, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in accounts_raw.items()
        ):
            problems.append(
                ConfigProblem(
                    f"{path}['service_accounts']",
                    "expected a dict of client id -> username",
                    "write {'<client or application id>': 'svc-inventory'}",
                )
            )
        else:
            accounts = dict(accounts_raw)
        rules = None
        mapping = block.get("service_mapping")
        if mapping is not None:
            # Parsed under a neutral name: roles and scopes are names, so no provider's defaults apply
            # (Entra's Graph source and object-ID matching are for a person's group claim).
            try:
                rules = parse_config({"backends": {SERVICE_RULES: mapping}}).backends.get(SERVICE_RULES)
            except ConfigError as error:
                for problem in error.problems:
                    where = problem.path.replace(
                        setting_path(PLUGIN_ROOT, "backends", SERVICE_RULES), f"{path}['service_mapping']"
                    )
                    problems.append(ConfigProblem(where, problem.problem, problem.fix))
        policies[str(backend)] = ApiTokenPolicy(
            backend=str(backend),
            audiences=audiences,
            read_scopes=frozenset(read),
            write_scopes=frozenset(write),
            create_users=create is True,
            service_accounts=accounts,
            service_rules=rules,
        )
    if problems:
        raise ConfigError(problems)
    return policies


# ---- refusals ---------------------------------------------------------------------------------------------
class BearerRefusal(Exception):
    """A bearer token is refused: `reason` (stable code) and `description` (for the client and the audit)."""

    status = 401
    error = "invalid_token"

    def __init__(self, reason: str, description: str) -> None:
        self.reason = reason
        self.description = description
        #: The backend whose rules refused it, once known (empty for an unknown issuer).
        self.backend = ""
        super().__init__(f"{reason}: {description}")


class ProviderUnavailable(BearerRefusal):
    """The provider's keys cannot be read: not the token's fault, and not a refusal to remember."""

    status = 503
    error = "temporarily_unavailable"


class InsufficientScope(BearerRefusal):
    """RFC 6750 section 3.1: valid token, but it grants nothing NetBox accepts."""

    status = 403
    error = "insufficient_scope"


# ---- rules, in the order they are applied --------------------------------------------------------------
def looks_like_jwt(value: str) -> bool:
    """Three base64url segments with a JSON header: ours. NetBox's own tokens (`nbt_<key>.<token>`, v1
    hex) never look like this, so they reach NetBox's TokenAuthentication unchanged."""
    parts = value.split(".")
    return (
        len(parts) == 3
        and parts[0].startswith("eyJ")
        and all(part.replace("-", "").replace("_", "").isalnum() or part == "" for part in parts)
    )


def validate_type(header: Mapping[str, Any]) -> None:
    """RFC 9068 section 4: the typ header, where present, must name a JWT access token (an ID token
    signed as "JWT" is told apart by its claims, `validate_not_id_token`); logout tokens and others never."""
    typ = header.get("typ")
    if typ is None:
        return
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise BearerRefusal("wrong_token_type", f"typ {str(typ)[:40]!r} is not an access token")


def validate_not_id_token(header: Mapping[str, Any], claims: Mapping[str, Any], kind: Kind) -> None:
    """An ID token is for the client, never a credential for an API (OIDC Core 2: its aud is the client).

    - Any provider: nonce, at_hash and c_hash exist only in ID tokens; Keycloak marks ID tokens typ "ID".
    - RFC 9068 (generic): an access token is typ at+jwt, or at least names its client and its scope
      (client_id / azp with scope / scp).
    - Entra ID ("Access tokens" reference): access tokens name the calling app (v2 `azp`, v1 `appid`) and
      carry `scp` (delegated) or `roles` (app-only); ID tokens carry neither app claim.
    - Okta ("Access token" reference): access tokens carry `cid` and `scp`; ID tokens have neither.
    """
    for name in ID_TOKEN_ONLY_CLAIMS:
        if name in claims:
            raise BearerRefusal("id_token", f"an ID token is not an access token ({name} claim present)")
    if claims.get("typ") == "ID":
        raise BearerRefusal("id_token", "an ID token is not an access token (typ ID)")
    if kind == "entra":
        if not (claims.get("azp") or claims.get("appid")) or not (claims.get("scp") or claims.get("roles")):
            raise BearerRefusal("id_token", "not an Entra ID access token (no azp/appid with scp or roles)")
    elif kind == "okta":
        if not claims.get("cid") or "scp" not in claims:
            raise BearerRefusal("id_token", "not an Okta access token (no cid and scp)")
    elif str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt") and (
        not (claims.get("client_id") or claims.get("azp")) or not (claims.get("scope") or claims.get("scp"))
    ):
        raise BearerRefusal("id_token", "not an access token (no at+jwt type, no client_id/azp with scope)")


def validate_audience(claims: Mapping[str, Any], audiences: Collection[str]) -> None:
    """RFC 9068 section 4: "The resource server MUST validate that the aud claim contains a resource
    indicator value corresponding to an identifier the resource server expects for itself."""
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(v, str) and v in audiences for v in values):
        raise BearerRefusal("wrong_audience", "the token is not for this NetBox (aud)")


def validate_lifetime(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    """RFC 9068 section 2.2: exp and iat are REQUIRED; RFC 7519 4.1.4/4.1.5 with a small leeway."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for name, value in (("exp", exp), ("iat", iat), ("nbf", nbf)):
        if value is None and name == "nbf":
            continue
        # JSON parsers accept NaN and Infinity: a NaN exp would compare as never expired.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BearerRefusal("malformed", f"{name} is missing or not a NumericDate")
    assert isinstance(exp, int | float) and isinstance(iat, int | float)
    if now - leeway >= exp:
        raise BearerRefusal("expired", "the token has expired")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise BearerRefusal("not_yet_valid", "the token is not valid yet (nbf)")
    if iat > now + leeway:
        raise BearerRefusal("not_yet_valid", "the token was issued in the future (iat)")


def granted(claims: Mapping[str, Any]) -> frozenset[str]:
    """Every scope and role the token grants: `scope` / `scp` (space-separated string or list) and `roles`."""
    values: set[str] = set()
    for name in ("scope", "scp", "roles"):
        raw = claims.get(name)
        if isinstance(raw, str):
            values.update(raw.split())
        elif isinstance(raw, list):
            values.update(v for v in raw if isinstance(v, str))
    return frozenset(values)


@dataclass(frozen=True)
class Subject:
    """Who the token speaks for: a person (their sign-in key) or a client acting for itself."""

    kind: Literal["person", "service"]
    client_id: str
    #: The person's stable key, as their UserSocialAuth uid (empty for a service).
    uid: str = ""


def subject(claims: Mapping[str, Any], kind: Kind) -> Subject:
    """Tell a person's token from a service token, and find the person's sign-in key.

    - Entra ID: app-only tokens have idtyp "app" (optional claim) or no scp and oid == sub; a person is
      keyed on tid + oid, as at sign-in (`netbox_sso.providers.entra.user_key`).
    - Okta: client-credentials tokens have no uid (sub is the client id); a person's access token carries
      the login as sub and the user id, which is the ID token's sub we key on, as uid.
    - RFC 9068 2.2: with no resource owner, sub is the client's identifier; Keycloak's service-account
      tokens name the preferred_username "service-account-<client>".
    """
    client = str(claims.get("azp") or claims.get("appid") or claims.get("cid") or claims.get("client_id") or "")
    if kind == "entra":
        service = claims.get("idtyp") == "app" or (not claims.get("scp") and claims.get("oid") == claims.get("sub"))
        if service:
            return Subject("service", client)
        tid, oid = claims.get("tid"), claims.get("oid")
        if not isinstance(tid, str) or not isinstance(oid, str) or not tid or not oid:
            raise BearerRefusal("malformed", "tid and oid are required in an Entra ID access token")
        return Subject("person", client, user_key(tid, oid))
    if kind == "okta":
        uid = claims.get("uid")
        if not uid:
            return Subject("service", client)
        return Subject("person", client, str(uid))
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise BearerRefusal("malformed", "sub is missing")
    username = str(claims.get("preferred_username") or "")
    if sub == client or (client and username == f"service-account-{client}"):
        return Subject("service", client)
    return Subject("person", client, sub)
