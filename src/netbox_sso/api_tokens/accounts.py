"""The NetBox account an accepted access token acts as.

- A person: the account linked to their identity at sign-in (social-auth's UserSocialAuth for that
  backend and uid: sub for generic OIDC and Okta's user id, tid+oid for Entra ID), so a token and a
  browser sign-in of the same person are the same NetBox user. Groups follow the same mapping rules,
  through the sign-in's own pipeline steps (`resolve_groups`, `apply_mapping`). Without an account the
  token is refused unless `create_users` is on; then the account is created with the sign-in's username
  rules (stable claim, reserved and taken names refused).
- A service (client credentials): the configured service account of that client, created when missing
  (no password: it can only ever act through tokens), its groups from `service_mapping` applied with the
  pure core's `decide` and the pipeline's `apply_decision`.

The mapping runs when the token's groups (or roles) differ from the last ones applied for that account
in the last `MAPPING_TTL` seconds, not on every request.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction

from netbox_sso import audit
from netbox_sso.api_tokens.verify import VerifiedToken, token_kind
from netbox_sso.backends.config import hardening
from netbox_sso.conf import sso_config
from netbox_sso.core.access_tokens import BearerRefusal
from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.decision import CurrentUser, decide
from netbox_sso.core.rules import BackendRules
from netbox_sso.pipeline import identity
from netbox_sso.pipeline.apply import apply_decision
from netbox_sso.pipeline.groups import SSORefused, apply_mapping, resolve_groups

logger = logging.getLogger("netbox_sso")

#: Seconds a mapping applied for an account and a set of token groups is not re-applied.
MAPPING_TTL = 300


class AccessRefused(BearerRefusal):
    """The token is valid, but the mapping rules refuse this identity (as they would refuse its sign-in)."""

    status = 403
    error = "insufficient_scope"


def account_for(verified: VerifiedToken, request: Any) -> Any:
    user = _service_account(verified, request) if verified.subject.kind == "service" else _person(verified, request)
    if not user.is_active:
        raise BearerRefusal("account_disabled", "the NetBox account of this token is disabled")
    return user


# ---- people ----------------------------------------------------------------------------------------------
def _person(verified: VerifiedToken, request: Any) -> Any:
    backend = verified.backend
    uid = verified.subject.uid
    social = backend.strategy.storage.user.get_social_auth(backend.name, uid)
    is_new = False
    if social is None:
        if not verified.policy.create_users:
            raise BearerRefusal(
                "no_account",
                "this identity has no NetBox account yet: sign in to NetBox once "
                "(or the administrator enables create_users)",
            )
        user = _create_person(verified, request)
        is_new = True
    else:
        user = social.user
    rules = sso_config().backends.get(backend.name)
    if rules is not None:
        reading = read_groups(rules, {"id_token": verified.claims, "userinfo": None})
        if is_new or _changed(user, reading):
            backend.id_token = verified.claims  # the claim source the pipeline steps read
            try:
                resolved = resolve_groups(backend, {"username": user.username}, {}, user=user)
                with transaction.atomic():
                    apply_mapping(
                        backend,
                        user=user,
                        response={},
                        is_new=is_new,
                        sso_groups_reading=(resolved or {}).get("sso_groups_reading", reading),
                    )
            except SSORefused as refusal:
                raise AccessRefused(refusal.code, refusal.message.removeprefix("Single sign-on ")) from refusal
            _remember(user, reading)
    return user


def _profile_claims(verified: VerifiedToken, username_claim: str) -> dict[str, Any]:
    """The token's claims, completed from the provider's userinfo when the username claim is missing.

    Access tokens often carry no profile claims (RFC 9068 does not require them), while the sign-in takes
    the username from the ID token or userinfo: asking userinfo once, when the account is created, gives
    the account the name the browser sign-in would give it.
    """
    claims = dict(verified.claims)
    if claims.get(username_claim) or token_kind(verified.backend) == "entra":  # Entra's userinfo adds nothing
        return claims
    backend = verified.backend
    backend.id_token = {"sub": verified.subject.uid}  # userinfo must describe this same person
    try:
        userinfo = backend.user_data(verified.token) or {}
    except Exception as error:  # the token still identifies the person; only the name falls back
        logger.warning(
            "netbox-sso: %s: userinfo for a new API-token account failed (%s); username from the access token",
            backend.name,
            getattr(error, "code", type(error).__name__),
        )
        return claims
    return {**claims, **{k: v for k, v in userinfo.items() if k not in claims or k == username_claim}}


def _create_person(verified: VerifiedToken, request: Any) -> Any:
    backend = verified.backend
    cfg = hardening()
    claims = _profile_claims(verified, cfg.username_claim)
    fallbacks = tuple(getattr(backend, "USERNAME_FALLBACK_CLAIMS", ()))
    username = next(
        (
            name
            for name in (
                identity.clean_username(c) for c in identity.username_candidates(claims, cfg.username_claim, fallbacks)
            )
            if name
        ),
        None,
    )
    if username is None:
        raise BearerRefusal("no_username", f"the token carries no usable username ({cfg.username_claim}, email or sub)")
    if identity.is_reserved(username):
        raise BearerRefusal("username_reserved", f"the username {username!r} is reserved")
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise BearerRefusal("username_taken", f"the username {username!r} belongs to another NetBox account")
    names = {
        field: str(claims[claim])[:150]
        for field, claim in (("first_name", "given_name"), ("last_name", "family_name"))
        if isinstance(claims.get(claim), str)
    }
    raw_email = claims.get("email")
    email = raw_email if isinstance(raw_email, str) else ""
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email[:254], **names)
            backend.strategy.storage.user.create_social_auth(user, verified.subject.uid, backend.name)
    except IntegrityError as error:  # the same person's first two requests at once
        raise BearerRefusal("username_taken", "the account is being created by a concurrent request; retry") from error
    audit.record(
        "user_created",
        request=request,
        backend=backend.name,
        user=user,
        outcome="success",
        reason="api_token",
        details={"client_id": verified.subject.client_id},
    )
    return user


# ---- services --------------------------------------------------------------------------------------------
def _service_account(verified: VerifiedToken, request: Any) -> Any:
    client_id = verified.subject.client_id
    username = verified.policy.service_accounts.get(client_id)
    if not username:
        raise BearerRefusal("unknown_client", f"no NetBox service account is configured for client {client_id[:80]!r}")
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = False
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username)  # no password: tokens only
            created = True
        except IntegrityError:
            user = User.objects.get(username=username)
    if created:
        audit.record(
            "user_created",
            request=request,
            backend=verified.backend.name,
            user=user,
            outcome="success",
            reason="service_account",
            details={"client_id": client_id},
        )
    rules = verified.policy.service_rules
    if rules is not None:
        reading = read_groups(rules, {"id_token": verified.claims, "userinfo": None})
        if created or _changed(user, reading):
            _apply_service_mapping(verified, rules, reading, user, created, request)
            _remember(user, reading)
    return user


def _apply_service_mapping(
    verified: VerifiedToken, rules: BackendRules, reading: GroupsReading, user: Any, created: bool, request: Any
) -> None:
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=user.pk)
        before = frozenset(locked.groups.values_list("name", flat=True))
        decision = decide(
            rules,
            reading,
            CurrentUser(locked.username, before, locked.is_superuser, created),
            break_glass=sso_config().is_break_glass(locked.username),
        )
        if not decision.allowed:
            raise AccessRefused("required_groups", decision.refusal or "refused by the service mapping rules")
        outcome = apply_decision(locked, decision, rules)
    for warning in (*decision.warnings, *outcome.warnings):
        logger.warning("netbox-sso service mapping (%s, %s): %s", verified.backend.name, locked.username, warning)
    if outcome.added or outcome.removed:
        audit.record(
            "groups_changed",
            request=request,
            backend=verified.backend.name,
            user=locked,
            outcome="success",
            reason="service_mapping",
            details={
                "before": sorted(before),
                "after": sorted((before - outcome.removed) | outcome.added),
                "added": sorted(outcome.added),
                "removed": sorted(outcome.removed),
                "client_id": verified.subject.client_id,
            },
        )
    user.is_superuser = locked.is_superuser


# ---- "apply only when the groups changed" -------------------------------------------------------------
def _key(user: Any) -> str:
    return f"netbox_sso:v1:bearer-mapped:{user.pk}"


def _fingerprint(reading: GroupsReading) -> str:
    values = "\n".join(sorted(reading.values)) if reading.values is not None else "\0missing"
    return hashlib.sha256(f"{reading.source}\n{values}".encode()).hexdigest()[:32]


def _changed(user: Any, reading: GroupsReading) -> bool:
    """True unless these very groups were the last ones applied to this account, recently."""
    return cache.get(_key(user)) != _fingerprint(reading)


def _remember(user: Any, reading: GroupsReading) -> None:
    cache.set(_key(user), _fingerprint(reading), MAPPING_TTL)
