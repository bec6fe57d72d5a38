"""DRF authentication with provider access tokens, and the one answer to a refused token.

Installed at start-up just before NetBox's `TokenAuthentication` (`install`). It claims only
`Authorization: Bearer <JWT>`; NetBox's v2 tokens (`Bearer nbt_<key>.<token>`), v1 tokens
(`Token <hex>`) and anything else are left to NetBox unchanged.

The accepted token becomes `request.auth`: an unsaved NetBox `Token` whose `write_enabled` says whether
the token's scopes allow writing, so NetBox's own `TokenPermissions` refuses writes with a read-only scope
exactly as for a read-only NetBox token (403), and object permissions come from the mapped groups.

Every refusal: HTTP 401 (403 for a valid token without an accepted scope) with
`WWW-Authenticate: Bearer error="...", error_description="..."` (RFC 6750 section 3), a metric, and an
audit event, written once per client address (the peer unless it is one of `trusted_proxies`) and reason
per `REFUSAL_WINDOW` seconds (the count of the others is in the metric), so unauthenticated traffic cannot
fill the audit table.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException

from netbox_sso import audit, metrics
from netbox_sso.api_tokens import accounts
from netbox_sso.api_tokens.config import enabled
from netbox_sso.api_tokens.verify import verify
from netbox_sso.core.access_tokens import BearerRefusal, ProviderUnavailable, looks_like_jwt
from netbox_sso.rule_set import MappingRulesInvalid

logger = logging.getLogger("netbox_sso")

CLASS_PATH = "netbox_sso.api_tokens.authentication.ProviderTokenAuthentication"
NETBOX_TOKEN_AUTH = "netbox.api.authentication.TokenAuthentication"
REALM = "NetBox API"
#: One audit event per client address and refusal reason per this many seconds.
REFUSAL_WINDOW = 60
#: Longest bearer value we look at (Entra tokens with many groups are some kB; 16 kB is far beyond).
MAX_TOKEN_LENGTH = 16384


def bearer_jwt(header: bytes) -> str | None:
    """The JWT of `Authorization: Bearer <JWT>`, or None when the header is not ours."""
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        value = parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    return value if looks_like_jwt(value) else None


def challenge(refusal: BearerRefusal | None = None) -> str:
    """RFC 6750 3: the WWW-Authenticate value (quotes and backslashes cannot occur in our descriptions)."""
    if refusal is None:
        return f'Bearer realm="{REALM}"'
    description = refusal.description.replace("\\", "").replace('"', "'")
    return f'Bearer realm="{REALM}", error="{refusal.error}", error_description="{description}"'


class BearerTokenRefused(APIException):
    """Not an AuthenticationFailed: DRF would turn that into a 403 without a challenge (NetBox's first
    authenticator, SessionAuthentication, has no WWW-Authenticate header)."""

    status_code = 401
    default_code = "invalid_token"

    def __init__(self, refusal: BearerRefusal) -> None:
        super().__init__(detail=f"Bearer token refused: {refusal.description}", code=refusal.error)
        self.status_code = refusal.status
        self.auth_header = challenge(refusal)


def authenticate_token(token: str, request: Any) -> tuple[Any, Any]:
    """(user, NetBox Token) for an accepted access token; raises BearerRefusal (recorded) otherwise."""
    from users.models import Token

    backend = ""
    try:
        verified = verify(token, request)
        backend = verified.backend.name
        user = accounts.account_for(verified, request)
    except BearerRefusal as refusal:
        refusal.backend = refusal.backend or backend
        record_refusal(request, refusal)
        raise
    except MappingRulesInvalid as error:  # fail closed, as SSO logins do, with an answer instead of a 500
        unavailable = ProviderUnavailable(
            "invalid_mapping_rules", "the group mapping rules are invalid; an administrator must fix them"
        )
        unavailable.backend = backend
        record_refusal(request, unavailable)
        raise unavailable from error
    metrics.count_api_token(verified.backend.name, "accepted", verified.subject.kind)
    auth = Token(
        user=user,
        write_enabled=verified.level == "write",
        description=f"{verified.backend.name} access token ({verified.subject.kind})",
    )
    auth.netbox_sso_claims = verified.claims  # for views that want to know (never logged)
    return user, auth


def record_refusal(request: Any, refusal: BearerRefusal) -> None:
    backend = refusal.backend
    metrics.count_api_token(backend, "refused", refusal.reason)
    # The audit trail's client address: the peer unless it is a trusted proxy, never the caller's choice
    # (a forwarded-for value the caller writes would give it a new throttle key, and a row, per request).
    client = audit.client_address(request) or "unknown"
    key = f"netbox_sso:v1:bearer-refusals:{client}:{refusal.reason}"
    try:
        cache.add(key, 0, REFUSAL_WINDOW)
        count = cache.incr(key)
    except Exception:  # the cache is down: log, never write unbounded rows
        logger.warning("netbox-sso: API token refused (%s) from %s; audit throttle unavailable", refusal.reason, client)
        return
    if count == 1:
        audit.record(
            "api_token_refused",
            request=request,
            backend=backend,
            outcome="refused",
            reason=refusal.reason,
            message=refusal.description,
            details={
                "status": refusal.status,
                "throttle": f"first of this client and reason in {REFUSAL_WINDOW} s; the metric counts every refusal",
            },
        )
    else:
        logger.debug("netbox-sso: API token refused (%s) from %s, #%s in the window", refusal.reason, client, count)


class ProviderTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <JWT>` from the providers in PLUGINS_CONFIG['netbox_sso']['api_tokens']."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = get_authorization_header(request)
        if len(header) > MAX_TOKEN_LENGTH + 16:
            token = None
            if header[:7].lower() == b"bearer " and header[7:10] == b"eyJ":
                refusal = BearerRefusal("malformed", f"the token is longer than {MAX_TOKEN_LENGTH} bytes")
                record_refusal(request._request, refusal)
                raise BearerTokenRefused(refusal)
        else:
            token = bearer_jwt(header)
        if token is None:
            return None
        try:
            return authenticate_token(token, request._request)
        except BearerRefusal as refusal:
            raise BearerTokenRefused(refusal) from None

    def authenticate_header(self, request: Any) -> str:
        return challenge()


def install() -> bool:
    """Put our class just before NetBox's TokenAuthentication in REST_FRAMEWORK (when configured)."""
    if not enabled():
        return False
    framework = dict(getattr(settings, "REST_FRAMEWORK", {}))
    classes = list(framework.get("DEFAULT_AUTHENTICATION_CLASSES", ()))
    if CLASS_PATH in classes:
        return True
    position = classes.index(NETBOX_TOKEN_AUTH) if NETBOX_TOKEN_AUTH in classes else len(classes)
    classes.insert(position, CLASS_PATH)
    framework["DEFAULT_AUTHENTICATION_CLASSES"] = tuple(classes)
    settings.REST_FRAMEWORK = framework
    from rest_framework import views
    from rest_framework.settings import api_settings

    api_settings.reload()
    # APIView read the list when it was imported; views defined since then inherit this attribute.
    views.APIView.authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    logger.info(
        "netbox-sso: REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']: inserted %s before %s "
        "(identity-provider access tokens for %s)",
        CLASS_PATH,
        NETBOX_TOKEN_AUTH,
        ", ".join(sorted(_backends())),
    )
    return True


def _backends() -> list[str]:
    from netbox_sso.api_tokens.config import policies

    return list(policies())
