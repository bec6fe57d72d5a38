"""One reconciliation run of one backend: list the directory, decide, deactivate, audit.

The decision is the pure core's (`netbox_sso.core.reconcile.plan`); each deactivation is SCIM's
deprovisioning (`netbox_sso.scim.lifecycle.deactivate`: account inactive, API tokens disabled, expired or
deleted, sessions ended on every instance, audited), one transaction per account. A run that aborts
(directory error, incomplete listing, more than `max_fraction`) changes nothing and says why; every run
leaves one `reconcile_run` event with its summary, and each account one `reconcile_deactivated` event.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from netbox_sso import audit, metrics
from netbox_sso.core.errors import PLUGIN_ROOT, setting_path
from netbox_sso.core.reconcile import (
    ABSENT,
    DISABLED,
    Action,
    DirectoryError,
    LinkedAccount,
    Plan,
    SourceConfig,
    plan,
)
from netbox_sso.reconcile.directory import Directory

logger = logging.getLogger("netbox_sso")


class ReconcileError(Exception):
    """Reconciliation cannot start: the message names the setting and the fix."""


def configured() -> dict[str, SourceConfig]:
    """Backend name -> its directory source (PLUGINS_CONFIG['netbox_sso']['reconcile'], validated)."""
    from netbox_sso.backends.config import plugin_values

    return dict(plugin_values().get("reconcile") or {})


def source_config(backend: str) -> SourceConfig:
    sources = configured()
    if backend not in sources:
        path = setting_path(PLUGIN_ROOT, "reconcile", backend)
        have = ", ".join(sorted(sources)) or "none"
        raise ReconcileError(
            f"{path} is not set (reconciled backends: {have}). Fix: add e.g. "
            f"{{'{backend}': {{'source': 'keycloak'}}}} to {setting_path(PLUGIN_ROOT, 'reconcile')}"
        )
    return sources[backend]


def load_backend(name: str) -> Any:
    from django.conf import settings
    from social_core.backends.utils import get_backend
    from social_core.exceptions import MissingBackend
    from social_django.utils import load_strategy

    try:
        backend = get_backend(settings.AUTHENTICATION_BACKENDS, name)(load_strategy(None))
    except MissingBackend:
        raise ReconcileError(
            f"{setting_path(PLUGIN_ROOT, 'reconcile', name)}: {name!r} is not a sign-in backend of this NetBox. "
            "Fix: use the backend's name as in /oauth/login/<name>/ (REMOTE_AUTH_BACKEND)"
        ) from None
    if not hasattr(backend, "expected_issuer"):
        raise ReconcileError(f"backend {name!r} is not an OpenID Connect backend of netbox-sso")
    return backend


def linked_accounts(backend: str) -> list[LinkedAccount]:
    """Every account linked to `backend` (UserSocialAuth), with what the decision needs to skip it."""
    from social_django.models import UserSocialAuth

    from netbox_sso.conf import sso_config
    from netbox_sso.scim.models import SCIMUser

    links = list(
        UserSocialAuth.objects.filter(provider=backend).values_list(
            "user_id", "uid", "user__username", "user__is_active"
        )
    )
    ids = [row[0] for row in links]
    others: dict[Any, set[str]] = defaultdict(set)
    for user_id, provider in (
        UserSocialAuth.objects.filter(user_id__in=ids).exclude(provider=backend).values_list("user_id", "provider")
    ):
        others[user_id].add(provider)
    scim = dict(SCIMUser.objects.filter(user_id__in=ids).values_list("user_id", "connection__name"))
    config = sso_config()
    return [
        LinkedAccount(
            user_id=user_id,
            username=username,
            uid=str(uid),
            is_active=bool(active),
            break_glass=config.is_break_glass(username),
            scim_connection=str(scim.get(user_id) or ""),
            other_backends=tuple(sorted(others.get(user_id, ()))),
        )
        for user_id, uid, username, active in links
    ]


@dataclass
class Result:
    """What a run did (or would do): the plan, the accounts deactivated, and its outcome."""

    backend: str
    dry_run: bool
    plan: Plan | None = None
    aborted: str | None = None
    deactivated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return "aborted" if self.aborted else ("dry_run" if self.dry_run else "applied")

    def summary(self) -> dict[str, Any]:
        base = self.plan.summary() if self.plan else {"backend": self.backend}
        return {**base, "outcome": self.outcome, "dry_run": self.dry_run, "aborted": self.aborted}


def reconcile(backend: str, *, dry_run: bool | None = None, force: bool = False) -> Result:
    """Reconcile one backend's accounts with its directory; never raises for a directory problem."""
    config = source_config(backend)
    instance = load_backend(backend)
    dry = config.dry_run or bool(dry_run)
    result = Result(backend, dry)
    try:
        directory = Directory(instance, config)
        users = directory.list_users()
        current = plan(config, linked_accounts(backend), users, force=force)
        result.plan = current
        if current.aborted is None:
            _confirm_absent(directory, current)
    except DirectoryError as error:
        result.aborted = f"the directory could not be listed completely: {error}"
        return _finish(result, config)
    if current.aborted:
        result.aborted = current.aborted
        return _finish(result, config)
    if current.overridden:
        logger.warning("netbox-sso: reconcile %s forced past its safety limit: %s", backend, current.overridden)
    for action in current.deactivate:
        details = _deactivate(action, config, dry)
        if details is not None:
            result.deactivated.append({"username": action.account.username, "reason": action.reason})
    return _finish(result, config)


def _confirm_absent(directory: Directory, current: Plan) -> None:
    """Check each absent user once more by id (offset paging can skip one); drop those that exist."""
    confirmed: list[Action] = []
    for action in current.deactivate:
        if action.reason != ABSENT:
            confirmed.append(action)
            continue
        found = directory.confirm(action.account.uid)
        if found is None:
            confirmed.append(action)
        elif not found.active and directory.config.disabled:
            confirmed.append(Action(action.account, DISABLED, f"user {found.username} is disabled in the directory"))
    current.deactivate = confirmed


def _deactivate(action: Action, config: SourceConfig, dry_run: bool) -> dict[str, Any] | None:
    """One account, in its own transaction; None when it changed meanwhile (inactive, unlinked)."""
    from social_django.models import UserSocialAuth

    from netbox_sso.scim.lifecycle import deactivate

    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=action.account.user_id).first()
        if user is None or not user.is_active:
            return None
        if not UserSocialAuth.objects.filter(provider=config.backend, uid=action.account.uid, user=user).exists():
            return None
        return deactivate(
            user,
            backend=config.backend,
            token_action=config.token_action,
            dry_run=dry_run,
            reason=action.reason,
            request=None,
            event="reconcile_deactivated",
            context={"source": config.source, "detail": action.detail},
        )


def _finish(result: Result, config: SourceConfig) -> Result:
    summary = result.summary()
    summary["settings"] = config.describe()
    reasons = Counter(item["reason"] for item in result.deactivated)
    if result.aborted:
        message = f"aborted, nothing changed: {result.aborted}"
    elif result.dry_run:
        message = f"dry run: would deactivate {len(result.plan.deactivate) if result.plan else 0} account(s)"
    else:
        message = f"deactivated {len(result.deactivated)} account(s)"
    audit.record(
        "reconcile_run",
        backend=config.backend,
        outcome="failure" if result.aborted else ("info" if result.dry_run else "success"),
        reason=result.outcome,
        details=summary,
        message=f"reconcile {config.backend}: {message}",
    )
    metrics.count_reconcile(config.backend, result.outcome, None if result.dry_run else dict(reasons))
    log = logger.warning if result.aborted else logger.info
    log("netbox-sso: reconcile %s: %s", config.backend, message)
    return result
