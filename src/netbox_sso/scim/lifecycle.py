"""Deprovisioning and reactivation of a provisioned account, in the caller's transaction, audited.

Deprovisioning (`active: false` or DELETE): the NetBox account becomes inactive, its API tokens are
disabled, expired or deleted (the connection's `token_action`), and its browser sessions end on every
NetBox instance. The directory reconciliation (`netbox_sso.reconcile`) deactivates through the same
`deactivate`. Reactivation makes the account active again and re-enables the tokens this connection
disabled (expired or deleted tokens are not restored). Break-glass accounts are never touched. With the
connection's `dry_run`, nothing changes and the audit trail records what would have.

Ending sessions everywhere: Django checks on every request that a session's stored password hash still
matches the user's (`get_session_auth_hash`). An SSO account has an unusable password; giving it a new
unusable one changes that hash in the database every instance reads, so each of the user's sessions is
refused and flushed on its next request, whatever the session engine. Sessions indexed at login
(`index_login`, in NetBox's shared cache) are also deleted at once from the session store, which covers
accounts with a usable local password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from netbox_sso import audit
from netbox_sso.conf import sso_config
from netbox_sso.scim.models import SCIMUser, TokenAction

logger = logging.getLogger("netbox_sso")

#: Sessions remembered per user for deprovisioning (older ones still end through the password hash).
MAX_INDEXED = 50


def _index_key(user_pk: Any) -> str:
    return f"netbox_sso:scim-user-sessions:{user_pk}"


def index_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """user_logged_in receiver: remember the session key under the user (shared cache, every instance)."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key or not getattr(user, "pk", None):
        return
    try:
        keys = [k for k in (cache.get(_index_key(user.pk)) or []) if k != key][-(MAX_INDEXED - 1) :]
        cache.set(_index_key(user.pk), [*keys, key], max(60, int(settings.SESSION_COOKIE_AGE)))
    except Exception:  # a login must never fail because the index could not be written
        logger.debug("netbox-sso: session index for deprovisioning not written", exc_info=True)


def end_sessions(user: Any) -> int:
    """End every session of `user` on every instance; returns how many indexed sessions were deleted."""
    if not user.has_usable_password():
        user.set_unusable_password()  # a new session auth hash: every session of the user is refused
        user.save(update_fields=["password"])
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = cache.get(_index_key(user.pk)) or []
    ended = 0
    for key in set(keys):
        session = store(session_key=key)
        if str(session.load().get("_auth_user_id")) == str(user.pk):
            session.delete(key)
            ended += 1
    cache.delete(_index_key(user.pk))
    return ended


def _tokens(user: Any) -> Any:
    from users.models import Token

    return Token.objects.filter(user=user)


def is_break_glass(user: Any) -> bool:
    return sso_config().is_break_glass(user.get_username())


def _audit(
    event: str,
    row: SCIMUser,
    request: Any,
    details: dict[str, Any],
    *,
    outcome: str,
    reason: str,
    message: str | None = None,
) -> dict[str, Any]:
    """Record `event` for the row's account and connection; returns `details`, which the caller returns too."""
    audit.record(
        event,
        request=request,
        backend=row.connection.backend,
        user=row.user,
        outcome=outcome,
        reason=reason,
        details=details,
        message=message,
    )
    return details


def deactivate(
    user: Any,
    *,
    backend: str,
    token_action: str,
    dry_run: bool,
    reason: str,
    request: Any,
    event: str,
    context: dict[str, Any],
    tokens_disabled: Callable[[list[Any]], None] | None = None,
) -> dict[str, Any]:
    """Make the account inactive, disable its API tokens, end its sessions; returns the audit details.

    The one deprovisioning of netbox-sso: SCIM's (`deprovision`) and the directory reconciliation's
    (`netbox_sso.reconcile`) both come here, in the caller's transaction. `context` starts the audit
    details (which connection or backend asked); `tokens_disabled` receives the API tokens disabled, for
    a caller that restores them on reactivation.
    """
    if is_break_glass(user):
        details: dict[str, Any] = {**context, "skipped": "break-glass account: never deprovisioned"}
        audit.record(
            event,
            request=request,
            backend=backend,
            user=user,
            outcome="info",
            reason="break_glass",
            details=details,
        )
        return details
    tokens = _tokens(user)
    active_tokens = list(tokens.filter(enabled=True).values_list("pk", flat=True))
    details = {
        **context,
        "trigger": reason,
        "dry_run": dry_run,
        "was_active": user.is_active,
        "token_action": token_action,
        "tokens": sorted(active_tokens),
    }
    if dry_run:
        audit.record(
            event,
            request=request,
            backend=backend,
            user=user,
            outcome="info",
            reason="dry_run",
            details=details,
            message=f"dry run: would deactivate {user.get_username()} and {token_action} "
            f"{len(active_tokens)} API token(s)",
        )
        return details
    user.is_active = False
    user.save(update_fields=["is_active"])
    if token_action == TokenAction.DELETE:
        tokens.delete()
    elif token_action == TokenAction.EXPIRE:
        now = timezone.now()
        tokens.exclude(expires__lte=now).update(expires=now)
    else:
        tokens.filter(pk__in=active_tokens).update(enabled=False)
        if tokens_disabled is not None:
            tokens_disabled(active_tokens)
    details["sessions_deleted"] = end_sessions(user)
    audit.record(
        event,
        request=request,
        backend=backend,
        user=user,
        outcome="success",
        reason=reason,
        details=details,
    )
    return details


def deprovision(row: SCIMUser, *, request: Any, reason: str) -> dict[str, Any]:
    """SCIM's deprovisioning of a pushed user (`deactivate`), remembering the tokens it disabled."""
    connection = row.connection

    def remember(disabled: list[Any]) -> None:
        row.disabled_tokens = sorted({*row.disabled_tokens, *disabled})
        row.save(update_fields=["disabled_tokens"])

    return deactivate(
        row.user,
        backend=connection.backend,
        token_action=connection.token_action,
        dry_run=connection.dry_run,
        reason=reason,
        request=request,
        event="scim_deprovisioned",
        context={"connection": connection.name},
        tokens_disabled=remember,
    )


def reactivate(row: SCIMUser, *, request: Any) -> dict[str, Any]:
    """Make the account active again and re-enable the API tokens this connection disabled."""
    connection, user = row.connection, row.user
    details: dict[str, Any] = {
        "connection": connection.name,
        "dry_run": connection.dry_run,
        "tokens": list(row.disabled_tokens),
    }
    if is_break_glass(user):
        return details
    if connection.dry_run:
        return _audit(
            "scim_provisioned",
            row,
            request,
            details,
            outcome="info",
            reason="dry_run",
            message=f"dry run: would reactivate {user.get_username()}",
        )
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    if row.disabled_tokens:
        details["tokens_enabled"] = _tokens(user).filter(pk__in=row.disabled_tokens).update(enabled=True)
        row.disabled_tokens = []
        row.save(update_fields=["disabled_tokens"])
    return _audit("scim_provisioned", row, request, details, outcome="success", reason="reactivated")
