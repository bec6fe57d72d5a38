"""Directory reconciliation, the pure part: its settings, reading a provider's user list, and the decision
of which NetBox accounts to deactivate and why.

For providers that do not push SCIM (Keycloak, Authentik), NetBox asks the provider's directory who still
exists and who is enabled, and deactivates the accounts of the others (`netbox_sso.reconcile` does the
asking and applies the decision through SCIM's deprovisioning code path). Everything here is pure: the
same inputs always give the same plan, so the safety rules are unit-tested without a provider.

Safety, in the order `plan` applies it:
- A listing that failed or is incomplete never reaches `plan` (the caller aborts with the reason).
- Only accounts linked to the reconciled backend are considered; among them, break-glass accounts, accounts
  provisioned by SCIM (SCIM owns their lifecycle) and accounts also linked to another backend are skipped,
  never deactivated. Inactive accounts need nothing.
- A run that would deactivate more than `max_fraction` of the considered active accounts (and more than
  `always_allow` of them), or whose directory holds none of them, is aborted with nothing changed, unless
  the caller forces it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Directory sources and the settings each of them takes besides the common ones.
SOURCES: dict[str, frozenset[str]] = {
    "keycloak": frozenset({"url", "client_id", "client_secret"}),
    "authentik": frozenset({"url", "api_token", "subject_mode"}),
}
COMMON_KEYS = frozenset(
    {"source", "dry_run", "max_fraction", "always_allow", "token_action", "page_size", "max_users", "disabled"}
)
TOKEN_ACTIONS = ("disable", "expire", "delete")
#: Authentik's OAuth2 provider "subject mode" -> the field of its users API that holds the same value.
AUTHENTIK_SUBJECT_MODES: dict[str, str] = {
    "hashed_user_id": "uid",  # the default: sub is the user's `uid` (a hash of its id)
    "user_id": "pk",
    "user_uuid": "uuid",
    "user_username": "username",
    "user_email": "email",
    "user_upn": "attributes.upn",
}
#: Why an account is deactivated (the audit trail's reason).
ABSENT = "absent_from_directory"
DISABLED = "disabled_in_directory"


class ReconcileConfigError(ValueError):
    """A reconcile setting is wrong: `key` (under the backend's entry), the problem and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{key}: {problem}. Fix: {fix}")
        self.key, self.problem, self.fix = key, problem, fix


class DirectoryError(Exception):
    """The directory could not be listed completely: reconciliation aborts and changes nothing."""


@dataclass(frozen=True)
class SourceConfig:
    """One backend's directory source, validated."""

    backend: str
    source: str
    url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_token: str | None = None
    subject_mode: str = "hashed_user_id"
    dry_run: bool = False
    max_fraction: float = 0.1
    always_allow: int = 2
    token_action: str = "disable"
    page_size: int = 100
    max_users: int = 100_000
    #: Deactivate accounts whose directory user is disabled (absent users are always deactivated).
    disabled: bool = True

    def describe(self) -> dict[str, Any]:
        """The settings without secrets (job data, command output)."""
        return {
            "backend": self.backend,
            "source": self.source,
            "url": self.url,
            "dry_run": self.dry_run,
            "max_fraction": self.max_fraction,
            "always_allow": self.always_allow,
            "token_action": self.token_action,
        }


def _require(key: str, ok: bool, problem: str, fix: str) -> None:
    if not ok:
        raise ReconcileConfigError(key, problem, fix)


def parse_source(backend: str, raw: Any) -> SourceConfig:
    """One backend's entry of the `reconcile` setting, checked; ReconcileConfigError names the key."""
    _require(backend, isinstance(raw, Mapping), f"must be a dict, got {type(raw).__name__}", "write {'source': ...}")
    source = raw.get("source")
    _require(
        "source",
        source in SOURCES,
        f"{source!r} is not a directory source",
        f"use one of {', '.join(repr(s) for s in SOURCES)}",
    )
    allowed = COMMON_KEYS | SOURCES[source]
    unknown = sorted(set(raw) - allowed)
    _require(unknown[0] if unknown else "", not unknown, "unknown key", f"use only {', '.join(sorted(allowed))}")
    values: dict[str, Any] = {"backend": backend, "source": source}
    for key in ("url", "client_id", "client_secret", "api_token"):
        value = raw.get(key)
        if value is None or value == "":
            continue
        _require(key, isinstance(value, str), f"must be a string, got {type(value).__name__}", "quote it")
        values[key] = value
    if "url" in values:
        parts = urlsplit(values["url"])
        _require(
            "url",
            parts.scheme in ("http", "https") and bool(parts.hostname),
            f"must be an https URL, got {values['url']!r}",
            "write e.g. 'https://keycloak.example.com'",
        )
        values["url"] = values["url"].rstrip("/")
    if source == "authentik":
        _require(
            "api_token",
            "api_token" in values,
            "Authentik needs an API token",
            "create one in Authentik (Directory > Tokens and App passwords, intent API) for a user allowed to "
            "view users, and set it here",
        )
        mode = raw.get("subject_mode", "hashed_user_id")
        _require(
            "subject_mode",
            mode in AUTHENTIK_SUBJECT_MODES,
            f"{mode!r} is not an Authentik subject mode",
            f"use the provider's Subject mode: {', '.join(repr(m) for m in AUTHENTIK_SUBJECT_MODES)}",
        )
        values["subject_mode"] = mode
    if source == "keycloak":
        _require(
            "client_secret",
            ("client_id" in values) == ("client_secret" in values),
            "client_id and client_secret go together",
            "set both (a service-account client), or neither to use the sign-in client",
        )
    for key in ("dry_run", "disabled"):
        if key in raw:
            _require(key, isinstance(raw[key], bool), f"must be True or False, got {raw[key]!r}", "write True/False")
            values[key] = raw[key]
    if "max_fraction" in raw:
        fraction = raw["max_fraction"]
        _require(
            "max_fraction",
            isinstance(fraction, int | float) and not isinstance(fraction, bool) and 0 <= fraction <= 1,
            f"must be a number from 0 to 1, got {fraction!r}",
            "write e.g. 0.1 (a run deactivating more than 10% of the accounts is aborted)",
        )
        values["max_fraction"] = float(fraction)
    for key, low, high in (("always_allow", 0, 1_000_000), ("page_size", 1, 1000), ("max_users", 1, 10_000_000)):
        if key in raw:
            number = raw[key]
            _require(
                key,
                isinstance(number, int) and not isinstance(number, bool) and low <= number <= high,
                f"must be a whole number from {low} to {high}, got {number!r}",
                f"write e.g. {SourceConfig.__dataclass_fields__[key].default}",
            )
            values[key] = number
    if "token_action" in raw:
        action = raw["token_action"]
        _require(
            "token_action",
            action in TOKEN_ACTIONS,
            f"{action!r} is not a token action",
            f"use {' or '.join(repr(a) for a in TOKEN_ACTIONS)}",
        )
        values["token_action"] = action
    return SourceConfig(**values)


def parse_reconcile(raw: Any) -> dict[str, SourceConfig]:
    """The whole `reconcile` setting: backend name -> its directory source."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ReconcileConfigError("", f"must be a dict of backend name -> source, got {type(raw).__name__}", "")
    parsed = {}
    for backend, entry in raw.items():
        try:
            parsed[str(backend)] = parse_source(str(backend), entry)
        except ReconcileConfigError as error:
            key = f"[{backend!r}]" + (f"[{error.key!r}]" if error.key and error.key != backend else "")
            raise ReconcileConfigError(key, error.problem, error.fix) from None
    return parsed


# ---- where the directory is ----------------------------------------------------------------------------
def keycloak_admin_base(issuer: str, url: str | None = None) -> str:
    """`<base>/admin/realms/<realm>` from the realm's issuer `<base>/realms/<realm>` (or `url` + realm)."""
    parts = urlsplit(issuer.rstrip("/"))
    head, sep, realm = parts.path.rpartition("/realms/")
    if not sep or not realm or "/" in realm:
        raise DirectoryError(
            f"cannot tell the Keycloak realm from the issuer {issuer!r} (expected <base>/realms/<realm>); "
            "set the backend's OIDC_ENDPOINT to the realm's issuer"
        )
    base = url or f"{parts.scheme}://{parts.netloc}{head}"
    return f"{base.rstrip('/')}/admin/realms/{realm}"


def authentik_api_base(issuer: str, url: str | None = None) -> str:
    """`<root>/api/v3` from an application's issuer `<root>/application/o/<slug>/` (or from `url`)."""
    if url:
        return url.rstrip("/") if url.rstrip("/").endswith("/api/v3") else f"{url.rstrip('/')}/api/v3"
    parts = urlsplit(issuer)
    head, sep, _slug = parts.path.partition("/application/o/")
    if not sep:
        raise DirectoryError(
            f"cannot tell Authentik's address from the issuer {issuer!r} (expected <root>/application/o/<slug>/); "
            "set reconcile's 'url' to Authentik's address"
        )
    return f"{parts.scheme}://{parts.netloc}{head}/api/v3"


# ---- reading the directory -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryUser:
    """A user of the provider's directory, by the key the sign-in stores (UserSocialAuth.uid)."""

    key: str
    active: bool
    username: str = ""


def _field(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def keycloak_users(page: Any) -> list[DirectoryUser]:
    """One page of Keycloak's `GET /admin/realms/<realm>/users`: a JSON array of user representations."""
    if not isinstance(page, list):
        raise DirectoryError(f"Keycloak's user list is not a JSON array (got {type(page).__name__})")
    users = []
    for item in page:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
            raise DirectoryError("Keycloak's user list has an entry without an id")
        enabled = item.get("enabled")
        if not isinstance(enabled, bool):
            raise DirectoryError(f"Keycloak user {item['id']} has no enabled flag")
        users.append(DirectoryUser(item["id"], enabled, str(item.get("username") or "")))
    return users


def authentik_users(page: Any, subject_mode: str) -> tuple[list[DirectoryUser], int, bool]:
    """One page of Authentik's `GET /api/v3/core/users/`: (users, the directory's count, whether more follow)."""
    if not isinstance(page, Mapping) or not isinstance(page.get("results"), list):
        raise DirectoryError("Authentik's user list has no results array")
    pagination = page.get("pagination")
    count = pagination.get("count") if isinstance(pagination, Mapping) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise DirectoryError("Authentik's user list has no pagination count")
    more = bool(pagination.get("next")) if isinstance(pagination, Mapping) else False
    field_name = AUTHENTIK_SUBJECT_MODES[subject_mode]
    users = []
    for item in page["results"]:
        if not isinstance(item, Mapping):
            raise DirectoryError("Authentik's user list has an entry that is not an object")
        key = _field(item, field_name)
        active = item.get("is_active")
        if not isinstance(active, bool):
            raise DirectoryError(f"Authentik user {item.get('pk')!r} has no is_active flag")
        if key is None or key == "":
            # A user without the subject field (e.g. no upn attribute) cannot have signed in with it.
            continue
        users.append(DirectoryUser(str(key), active, str(item.get("username") or "")))
    return users, count, more


# ---- the decision --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkedAccount:
    """A NetBox account linked to the reconciled backend, as the decision needs it."""

    user_id: int
    username: str
    uid: str
    is_active: bool
    break_glass: bool = False
    #: The SCIM connection that provisioned it ("" when none): SCIM owns its lifecycle.
    scim_connection: str = ""
    #: Other backends the account is linked to (it may still sign in through them).
    other_backends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    account: LinkedAccount
    reason: str
    detail: str


@dataclass
class Plan:
    """What a run would do: deactivations, skipped accounts, and why it aborts (None: it may apply)."""

    backend: str
    directory_users: int
    considered: int
    deactivate: list[Action] = field(default_factory=list)
    skipped: list[Action] = field(default_factory=list)
    aborted: str | None = None
    #: The safety limit a forced run overrode (None: none was exceeded or the run was not forced).
    overridden: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "directory_users": self.directory_users,
            "linked_active_accounts": self.considered,
            "deactivate": [
                {"username": a.account.username, "reason": a.reason, "detail": a.detail} for a in self.deactivate
            ],
            "skipped": [{"username": a.account.username, "reason": a.reason, "detail": a.detail} for a in self.skipped],
            "aborted": self.aborted,
            "overridden": self.overridden,
        }


def allowed_deactivations(considered: int, max_fraction: float, always_allow: int) -> int:
    """How many deactivations a run may make: the fraction of the considered accounts, at least always_allow."""
    return max(always_allow, math.floor(considered * max_fraction + 1e-9))


def plan(
    config: SourceConfig,
    accounts: Iterable[LinkedAccount],
    directory: Iterable[DirectoryUser],
    *,
    force: bool = False,
) -> Plan:
    """Who to deactivate and why; `aborted` says why nothing may change (unless `force`)."""
    users = {user.key: user for user in directory}
    linked = sorted(_one_link_per_account(accounts, users).values(), key=lambda a: a.username.lower())
    result = Plan(config.backend, len(users), 0)
    matched = 0
    for account in linked:
        if not account.is_active:
            continue  # already refused everywhere: nothing to do, and not part of the fraction
        result.considered += 1
        found = users.get(account.uid)
        matched += found is not None
        if found is None:
            action = Action(account, ABSENT, f"no user with id {account.uid} in the directory")
        elif not found.active and config.disabled:
            action = Action(account, DISABLED, f"user {found.username or account.uid} is disabled in the directory")
        else:
            continue
        skip = _skip_reason(account)
        if skip:
            result.skipped.append(Action(account, skip[0], f"{skip[1]} (would be: {action.detail})"))
        else:
            result.deactivate.append(action)
    allowed = allowed_deactivations(result.considered, config.max_fraction, config.always_allow)
    reason = None
    if result.considered and matched == 0 and result.deactivate:
        # Within always_allow on a small installation, a wrong realm or a token that sees only its own
        # user would otherwise deactivate everyone: a directory sharing nobody with NetBox is not trusted.
        reason = (
            f"none of the {result.considered} active accounts linked to {config.backend} is in the directory "
            f"({len(users)} users): a wrong realm or application, or credentials that cannot view users"
        )
    elif len(result.deactivate) > allowed:
        reason = (
            f"{len(result.deactivate)} of {result.considered} active accounts linked to {config.backend} would be "
            f"deactivated, more than max_fraction {config.max_fraction:g} allows ({allowed}); a directory that lost "
            "its users (wrong realm, a filter, a sync gone wrong) looks exactly like this"
        )
    if reason:
        if force:
            result.overridden = reason
        else:
            result.aborted = reason
    return result


def _one_link_per_account(
    accounts: Iterable[LinkedAccount], users: Mapping[str, DirectoryUser]
) -> dict[int, LinkedAccount]:
    """An account linked under several ids (a re-keyed link) is judged by its best one: enabled, then
    disabled, then absent, so one stale id never deactivates a person the directory still has."""

    def rank(account: LinkedAccount) -> int:
        found = users.get(account.uid)
        return 0 if found is None else (2 if found.active else 1)

    best: dict[int, LinkedAccount] = {}
    for account in accounts:
        kept = best.get(account.user_id)
        if kept is None or rank(account) > rank(kept):
            best[account.user_id] = account
    return best


def _skip_reason(account: LinkedAccount) -> tuple[str, str] | None:
    if account.break_glass:
        return "break_glass", "break-glass account: never deactivated"
    if account.scim_connection:
        return "scim_provisioned", f"provisioned by SCIM connection {account.scim_connection!r}: SCIM owns it"
    if account.other_backends:
        return "other_backends", f"also signs in through {', '.join(account.other_backends)}"
    return None
