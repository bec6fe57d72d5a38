"""Verify a provider access token with the sign-in backend's keys and the rules of `core.access_tokens`.

Order: the token's (unverified) issuer picks a configured backend; the signature is checked with that
backend's JWKS from the shared cache (the one the sign-in uses); then the provider rules (Entra tenant
allow-list, as at sign-in), the issuer, "is it an access token at all", the audience, the lifetime, the
claim lengths, and finally which NetBox access the scopes give and who the token speaks for.

Cost per request once keys are cached: no provider round trip; the keys of each backend are also held
in this process for `_MEMO_SECONDS`, so a request normally costs no cache round trip either. A token
naming a key we do not know triggers at most one JWKS refetch per backend per `REFETCH_INTERVAL`, so
hostile tokens with random `kid`s cannot turn into provider calls.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache

from netbox_sso.api_tokens.config import ApiTokenPolicy, policies
from netbox_sso.backends.config import hardening
from netbox_sso.core import access_tokens as rules
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core.access_tokens import BearerRefusal, Kind, Level, Subject
from netbox_sso.providers import entra

#: Seconds between two JWKS refetches caused by bearer tokens naming an unknown key (per backend).
REFETCH_INTERVAL = 60
_MEMO_SECONDS = 30.0
_memo: dict[str, tuple[float, list[dict[str, Any]]]] = {}
_memo_lock = threading.Lock()


@dataclass(frozen=True)
class VerifiedToken:
    backend: Any
    claims: dict[str, Any]
    subject: Subject
    level: Level
    policy: ApiTokenPolicy
    #: The token itself (for the provider's userinfo when an account is created; never logged).
    token: str = ""


def token_kind(backend: Any) -> Kind:
    """Which provider's access-token rules apply (Entra ID, Okta, or RFC 9068 for everything else)."""
    if getattr(backend, "PROVIDER_KIND", "") == "entra":
        return "entra"
    return "okta" if backend.name == "okta-openidconnect" else "generic"


def load(name: str, request: Any = None) -> Any:
    """A sign-in backend instance (no request data read: the API request's body stays untouched)."""
    from social_core.backends.utils import get_backend
    from social_django.utils import load_strategy

    backend = get_backend(settings.AUTHENTICATION_BACKENDS, name)(load_strategy(None))
    backend.strategy.request = request  # for the audit trail of the mapping step
    return backend


def default_audiences(backend: Any) -> tuple[str, ...]:
    client_id, _secret = backend.get_key_and_secret()
    client_id = str(client_id or "")
    if token_kind(backend) == "entra":
        return (f"api://{client_id}", client_id)
    return (client_id,)


def accepted_issuers(backend: Any, claims: dict[str, Any]) -> set[str]:
    """The issuers this backend's access tokens may carry.

    Entra ID: an API's access tokens are v1 or v2 by the API's `accessTokenAcceptedVersion`, not by the
    endpoint the client used, so both forms of the (already allow-listed) token tenant are accepted.
    """
    if token_kind(backend) != "entra":
        return {backend.id_token_issuer()}
    tid = str(claims.get("tid") or "")
    expected = backend.expected_issuer()
    host = "login.microsoftonline.com"
    if entra.tenant_of_issuer(expected) and "sts.windows.net" not in expected:
        host = expected.split("://", 1)[1].split("/", 1)[0]
    return {entra.issuer_for_tenant(expected, tid), f"https://sts.windows.net/{tid}/", f"https://{host}/{tid}/v2.0"}


def issuer_matches(backend: Any, issuer: str) -> bool:
    """Cheap routing test on the unverified issuer (the real check follows the signature)."""
    if token_kind(backend) == "entra":
        tid = entra.tenant_of_issuer(issuer)
        return bool(tid) and tid != entra.TENANT_TEMPLATE
    return issuer == backend.id_token_issuer()


def _keys(backend: Any, kid: str | None, *, refresh: bool) -> list[dict[str, Any]]:
    now = time.monotonic()
    with _memo_lock:
        memo = _memo.get(backend.name)
    if not refresh and memo is not None and memo[0] > now:
        return memo[1]
    stale = memo[1] if memo else None
    if refresh:
        # At most one refetch per backend per interval, machine-wide (the lock lives in the shared cache).
        allowed = cache.add(f"netbox_sso:v1:bearer-refetch:{backend.name}", 1, timeout=REFETCH_INTERVAL)
        keys = backend.get_jwks_keys(refresh=allowed, stale=stale)
    else:
        keys = backend.get_jwks_keys()
    with _memo_lock:
        _memo[backend.name] = (now + _MEMO_SECONDS, keys)
    return keys


@lru_cache(maxsize=64)
def _public_key(serialized: str) -> Any:
    return jwt.PyJWK(json.loads(serialized)).key


def verify_signature(backend: Any, token: str, header: dict[str, Any]) -> dict[str, Any]:
    """RFC 8725 3.1: pinned algorithms (never none or HMAC); the key by kid from the provider's JWKS."""
    try:
        alg = checks.validate_alg(header, backend.setting("JWT_ALGORITHMS", backend.JWT_ALGORITHMS))
    except checks.InvalidSignatureError as error:
        raise BearerRefusal("alg_not_allowed", error.reason) from error
    kid = header.get("kid")
    for refresh in (False, True):
        try:
            keys = _keys(backend, kid, refresh=refresh)
        except checks.OIDCCheckError as error:
            raise rules.ProviderUnavailable(
                "keys_unavailable", f"the provider's keys cannot be read ({error.code})"
            ) from error
        candidates = [k for k in keys if (kid is None or k.get("kid") == kid) and k.get("alg") in (None, alg)]
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    _public_key(json.dumps({**key, "alg": alg}, sort_keys=True)),
                    algorithms=[alg],
                    options={
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_aud": False,
                        "verify_iss": False,
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except (jwt.PyJWTError, ValueError, TypeError) as error:
                raise BearerRefusal("malformed", f"the token cannot be decoded ({type(error).__name__})") from error
            if not isinstance(claims, dict):
                raise BearerRefusal("malformed", "the claims are not a JSON object")
            return claims
        if candidates:
            break  # the key was known and did not verify: refetching would not help
    raise BearerRefusal("invalid_signature", "no published key of the provider verifies the signature")


def verify(token: str, request: Any = None) -> VerifiedToken:
    """Verify a JWT bearer token against the configured backends; raise BearerRefusal naming the reason."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise BearerRefusal("malformed", "not a well-formed JWT") from error
    if not isinstance(unverified, dict):
        raise BearerRefusal("malformed", "the claims are not a JSON object")
    rules.validate_type(header)
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise BearerRefusal("wrong_issuer", "the token names no issuer")
    for name, policy in policies().items():
        backend = load(name, request)
        try:  # the issuer comes from discovery when verify_discovery_issuer is off
            matches = issuer_matches(backend, issuer)
        except checks.OIDCCheckError as error:
            unavailable = rules.ProviderUnavailable(
                "keys_unavailable", f"the provider's discovery document cannot be read ({error.code})"
            )
            unavailable.backend = name
            raise unavailable from error
        if matches:
            try:
                return _verify_for(backend, policy, token, header)
            except BearerRefusal as refusal:
                refusal.backend = name
                raise
    raise BearerRefusal("wrong_issuer", "the issuer is not a provider this NetBox accepts API tokens from")


def _verify_for(backend: Any, policy: ApiTokenPolicy, token: str, header: dict[str, Any]) -> VerifiedToken:
    cfg = hardening()
    kind = token_kind(backend)
    claims = verify_signature(backend, token, header)
    try:
        backend.validate_provider_claims(claims)  # Entra: tid in the allow-list, oid present
    except checks.ForeignTenantError as error:
        raise BearerRefusal("foreign_tenant", f"tenant not allowed ({error.reason or error.subject})") from error
    except checks.OIDCCheckError as error:
        raise BearerRefusal("malformed", f"{error.subject}: {error.reason or 'missing'}") from error
    if claims.get("iss") not in accepted_issuers(backend, claims):
        raise BearerRefusal("wrong_issuer", "the issuer does not match the provider's")
    rules.validate_not_id_token(header, claims, kind)
    rules.validate_audience(claims, policy.audiences or default_audiences(backend))
    rules.validate_lifetime(claims, time.time(), cfg.clock_leeway)
    try:
        checks.validate_claim_lengths(claims, cfg.max_claim_length)
    except checks.OIDCCheckError as error:
        raise BearerRefusal("malformed", f"claim {error.subject} is too long") from error
    level = policy.level(rules.granted(claims))
    if level is None:
        raise rules.InsufficientScope(
            "insufficient_scope", "the token grants none of the scopes or roles this NetBox accepts"
        )
    return VerifiedToken(backend, claims, rules.subject(claims, kind), level, policy, token)
