"""Pipeline steps that decide which NetBox account an SSO identity is.

Start-up (`netbox_sso.startup`) swaps social-core's steps of the same role for these, so a pasted
pipeline (the reference's Entra pipeline includes associate_by_email) becomes safe without editing:

- `migrate_legacy_uid` (after social_uid): an account linked under a provider's old, mutable key (Entra
  upn, Okta preferred_username; `sub` of azuread-tenant-oauth2, preferred_username of
  azuread-v2-tenant-oauth2) is moved to the stable key on its next login: no duplicate account. When the
  old link recorded the stable identifier (the ID token social-core stored, or ours), it must be this
  identity's: a recycled upn or Okta login never inherits a former employee's account.
- `refuse_linking_signed_in_privileged` (after social_user): an SSO login completing in a browser where a
  superuser or break-glass account is signed in never links the identity to that account.
- `get_username`: the username comes from a stable, configurable claim (`username_claim`, default
  preferred_username), else the email's local part when the email is verified (the whole address when
  it is not), else sub; never the display name. Values with characters NetBox would strip (non-ASCII
  look-alikes such as a Cyrillic 'a') are skipped, not mangled.
- `associate_by_email`: links to an existing, active account only when the provider asserts the email is
  verified (email_verified; Entra xms_edov), never to a superuser or break-glass account, never to an
  account already linked to another identity of the same provider; otherwise a clear refusal. Accounts
  that hold the email only because another identity claimed it unverified are not candidates, so they
  never block the verified owner's first login.
- `create_user`: refuses reserved names (admin, root, ...) and names already taken in any letter case
  (NetBox's own user form treats usernames case-insensitively), then delegates to social-core's. When the
  same person's first sign-in completes in two browsers at once, the second finds the account the first
  just created and signs in to it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from social_core.exceptions import AuthAlreadyAssociated
from social_core.pipeline import social_auth as social_auth_steps
from social_core.pipeline import user as social_user_steps

from netbox_sso.backends import tokens
from netbox_sso.backends.config import hardening, is_break_glass
from netbox_sso.core.oidc_checks import email_is_verified
from netbox_sso.pipeline.errors import IdentityRefused

logger = logging.getLogger("netbox_sso")

#: Names no SSO identity may take, whatever the provider says (compared case-insensitively).
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "system",
        "superuser",
        "sysadmin",
        "netbox",
        "support",
        "security",
        "operator",
        "anonymous",
        "guest",
        "nobody",
        "api",
        "service",
        "null",
        "none",
    }
)
#: What NetBox keeps of a username (users.utils.clean_username strips anything else).
_USERNAME = re.compile(r"^[A-Za-z0-9.@+_-]{1,150}$")


def _claims(backend: Any, response: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated ID-token claims with userinfo over them (our backends), else the raw response."""
    if hasattr(backend, "claims"):
        return backend.claims(dict(response or {}))
    return dict(response or {})


def clean_username(value: Any) -> str | None:
    """The value as a NetBox username, or None if NetBox would have to alter it."""
    if not isinstance(value, str):
        return None
    name = unicodedata.normalize("NFKC", value).strip()
    return name if _USERNAME.match(name) else None


def is_reserved(username: str) -> bool:
    cfg = hardening()
    reserved = RESERVED_USERNAMES | {n.casefold() for n in (*cfg.reserved_usernames, *cfg.break_glass_users)}
    return username.casefold() in reserved


def username_candidates(
    claims: Mapping[str, Any],
    username_claim: str,
    fallback_claims: tuple[str, ...] = (),
    *,
    email_verified: bool = False,
) -> list[Any]:
    """Configured claim, the backend's fallbacks (Entra v1: upn), the email, then sub.

    The email's local part only when the provider asserts the email is verified; otherwise the whole
    address: "jane" from an unverified jane@anywhere.example would take the name of the real jane.
    Never name/given_name: display names are not unique and anyone can set theirs to "admin".
    """
    email = claims.get("email")
    from_email = None
    if isinstance(email, str) and "@" in email:
        from_email = email.split("@", 1)[0] if email_verified else email
    return [claims.get(username_claim), *(claims.get(c) for c in fallback_claims), from_email, claims.get("sub")]


def get_username(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    response: Mapping[str, Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any]:
    if user is not None:
        return {"username": user.get_username()}
    cfg = hardening()
    fallbacks = tuple(getattr(backend, "USERNAME_FALLBACK_CLAIMS", ()))
    claims = _claims(backend, response)
    verified = email_is_verified(claims, provider=getattr(backend, "PROVIDER_KIND", "generic"))
    for candidate in username_candidates(claims, cfg.username_claim, fallbacks, email_verified=verified):
        name = clean_username(candidate)
        if name:
            return {"username": name}
    raise IdentityRefused(
        backend,
        "no_username",
        f"Single sign-on failed: the identity provider sent no "
        f"usable username (claim {cfg.username_claim!r}, email or sub).",
        cfg.username_claim,
    )


def associate_by_email(
    backend: Any,
    details: Mapping[str, Any],
    user: Any = None,
    response: Mapping[str, Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any] | None:
    """Link to the existing account with this email, only when that is safe (see module docstring)."""
    if user is not None:
        return None
    email = details.get("email")
    if not email:
        return None
    # Inactive accounts are never linked; nor are accounts that got this email from another identity that
    # did not verify it (they must not block the verified owner).
    users = [
        user
        for user in get_user_model().objects.filter(email__iexact=email, is_active=True)
        if not _email_came_unverified(user)
    ]
    if not users:
        return None

    def refuse(code: str, why: str) -> IdentityRefused:
        logger.warning(
            "netbox-sso: email link refused (%s) backend=%s target=%s",
            code,
            backend.name,
            ",".join(u.username for u in users),
        )
        return IdentityRefused(
            backend,
            code,
            f"Single sign-on failed: a NetBox account with the email {email} "
            f"already exists, and {why} Ask an administrator to link the accounts.",
            "email",
        )

    if len(users) > 1:
        raise refuse("email_ambiguous", "several accounts share it, so it cannot be linked automatically.")
    target = users[0]
    claims = _claims(backend, response)
    if not email_is_verified(claims, provider=getattr(backend, "PROVIDER_KIND", "generic")):
        raise refuse("email_unverified", "the identity provider does not assert that the email is verified.")
    if target.is_superuser or is_break_glass(target.username):
        raise refuse("email_privileged", "it is a superuser or break-glass account, which is never linked.")
    if target.social_auth.filter(provider=backend.name).exists():
        raise refuse("email_linked_elsewhere", "it is already linked to another identity at this provider.")
    logger.info(
        "netbox-sso: linked %s identity to existing account %s by verified email", backend.name, target.username
    )
    return {"user": target, "is_new": False}


def _email_came_unverified(user: Any) -> bool:
    """The account's SSO links all recorded an unverified email (so its email is only someone's claim)."""
    flags = [(social.extra_data or {}).get(tokens.EMAIL_VERIFIED_KEY) for social in user.social_auth.all()]
    return bool(flags) and all(flag is False for flag in flags)


def refuse_linking_signed_in_privileged(
    backend: Any, uid: str, user: Any = None, social: Any = None, *args: Any, **kwargs: Any
) -> None:
    """social-core links a new identity to the account signed in in this browser; never a privileged one.

    A superuser or break-glass account linked to an SSO identity would let that identity (and whoever
    controls it at the provider) sign in as it, without the password.
    """
    if user is None or social is not None:
        return
    if user.is_superuser or is_break_glass(user.get_username()):
        logger.warning(
            "netbox-sso: %s identity not linked to the signed-in account %s (superuser or break-glass)",
            backend.name,
            user.get_username(),
        )
        raise IdentityRefused(
            backend,
            "link_privileged",
            f"Single sign-on failed: you are signed in as "
            f"{user.get_username()}, a superuser or break-glass account, which is never linked "
            "to a single sign-on identity. Sign out, then sign in with single sign-on.",
            "user",
        )


def _linked_meanwhile(backend: Any, uid: Any) -> dict[str, Any] | None:
    """The account another request linked to this identity since social_user looked (a concurrent first
    sign-in of the same person in a second browser): continue with it instead of refusing."""
    if not uid:
        return None
    social = backend.strategy.storage.user.get_social_auth(backend.name, str(uid))
    if social is None:
        return None
    logger.info(
        "netbox-sso: %s identity's first sign-in completed concurrently; using account %s",
        backend.name,
        social.user.get_username(),
    )
    return {"user": social.user, "social": social, "is_new": False, "new_association": False}


def _username_taken(backend: Any, username: str | None) -> IdentityRefused:
    return IdentityRefused(
        backend,
        "username_taken",
        f"Single sign-on failed: the username {username!r} already belongs to another NetBox account. "
        "Ask an administrator to link the accounts.",
        "username",
    )


def create_user(
    strategy: Any, details: dict[str, Any], backend: Any, user: Any = None, *args: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """social-core's create_user, after refusing reserved and (case-insensitively) taken names."""
    if user is not None:
        return {"is_new": False}
    uid = kwargs.get("uid")
    username = kwargs.get("username") or details.get("username")
    if isinstance(username, str) and username:
        if is_reserved(username):
            raise IdentityRefused(
                backend,
                "username_reserved",
                f"Single sign-on failed: the username {username!r} is reserved and cannot be used for single sign-on.",
                "username",
            )
        if get_user_model().objects.filter(username__iexact=username).exists():
            linked = _linked_meanwhile(backend, uid)
            if linked is not None:
                return linked
            raise _username_taken(backend, username)
    try:
        return _create_user(strategy, details, backend, kwargs)
    except AuthAlreadyAssociated:
        # social_django's answer to the username's unique index: another request created the account in
        # the meantime (its insert blocked ours until it committed). The same identity: use that account.
        linked = _linked_meanwhile(backend, uid)
        if linked is not None:
            return linked
        raise _username_taken(backend, username) from None


#: social-core's user fields that its user_details step never overwrites (unless told otherwise).
_DEFAULT_PROTECTED = ("username", "id", "pk", "email", "password", "is_active", "is_staff", "is_superuser")


def _create_user(
    strategy: Any, details: Mapping[str, Any], backend: Any, kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """social-core's create_user, with the names user_details would set next already in the INSERT.

    social-core creates the user with USER_FIELDS (username, email), then its user_details step finds the
    first and last name changed and saves the whole row again: one UPDATE per first login, saved here.
    A name user_details would not write (protected by the settings, empty, mapped elsewhere) is left to it.
    """
    fields = {
        name: kwargs.get(name, details.get(name))
        for name in backend.setting("USER_FIELDS", social_user_steps.USER_FIELDS)
    }
    if not fields:
        return None
    if backend.setting("FORCE_EMAIL_LOWERCASE", False) and fields.get("email"):
        fields["email"] = fields["email"].lower()
    protected = set(strategy.setting("PROTECTED_USER_FIELDS", [], backend=backend))
    if strategy.setting("NO_DEFAULT_PROTECTED_USER_FIELDS", backend=backend) is not True:
        protected.update(_DEFAULT_PROTECTED)
    if not strategy.setting("USER_FIELD_MAPPING", {}, backend=backend):
        model_fields = {field.name for field in get_user_model()._meta.get_fields()}
        for name in ("first_name", "last_name"):
            value = details.get(name)
            if name not in fields and name not in protected and name in model_fields and isinstance(value, str):
                fields[name] = value
    return {"is_new": True, "user": strategy.create_user(**fields)}


def migrate_legacy_uid(
    backend: Any,
    uid: str,
    details: Mapping[str, Any],
    response: Mapping[str, Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Move an account linked under the provider's old key (`backend.legacy_uids()`) to `uid`."""
    legacy = getattr(backend, "legacy_uids", None)
    if legacy is None:
        return
    storage = backend.strategy.storage.user
    if storage.get_social_auth(backend.name, uid) is not None:
        return
    for old in legacy(details, _claims(backend, response)):
        if not old or old == uid:
            continue
        social = storage.get_social_auth(backend.name, old)
        if social is not None:
            recorded = tokens.stored_identifiers(social.extra_data)
            stable = backend.stable_uid(recorded) if recorded and hasattr(backend, "stable_uid") else None
            if stable is not None and stable != uid:
                # The old key (a upn, an Okta login) now names someone else: never hand them the account.
                logger.warning(
                    "netbox-sso: %s account %s is linked under a legacy key that now belongs to "
                    "another identity (its recorded identifier differs); not re-keyed",
                    backend.name,
                    social.user.get_username(),
                )
                return
            social.uid = uid
            social.save(update_fields=["uid"])
            logger.info(
                "netbox-sso: %s account %s re-keyed from legacy uid to the stable identifier",
                backend.name,
                social.user.get_username(),
            )
            return


def associate_user(
    backend: Any, uid: Any, user: Any = None, social: Any = None, *args: Any, is_new: bool = False, **kwargs: Any
) -> dict[str, Any] | None:
    """social-core's associate_user; for a user this login just created, the link is inserted without the
    savepoint social_django wraps it in.

    That savepoint lets social-core recover from a duplicate link (another request linked the same identity
    first) by looking the link up; for a user created in this very transaction the link it would find
    belongs to another user, and social-core then refuses with AuthAlreadyAssociated. Here that refusal is
    raised at once (the login's transaction is rolled back either way), saving two statements per first login.
    """
    if user is None or social is not None or not is_new:
        return social_auth_steps.associate_user(backend, uid, user, social, *args, is_new=is_new, **kwargs)
    storage = backend.strategy.storage
    try:
        social = storage.user.objects.create(user=user, uid=str(uid), provider=backend.name)
    except Exception as error:
        if not storage.is_integrity_error(error):
            raise
        raise AuthAlreadyAssociated(backend) from error
    return {"social": social, "user": social.user, "new_association": True}
