"""The bearer token of a SCIM connection: generated here, shown once, stored as a SHA-256 digest.

Format: `nbscim_<prefix>_<secret>`; the prefix (12 characters) finds the connection by an indexed column,
the secret (256 bits) makes guessing pointless, so a plain SHA-256 (no slow hash) is the right digest:
the token is random, not a password. An unauthenticated request costs one indexed SELECT, never more.
The token never reaches a log line: callers log the connection name, at most the prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from netbox_sso.scim.models import SCIMConnection

PREFIX = "nbscim_"
_TOKEN = re.compile(r"^nbscim_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
#: Rate-limit window (seconds); the count per connection lives in NetBox's cache, shared by every instance.
WINDOW = 60
#: `token_last_used` is written when older than this (seconds): one UPDATE a minute per connection, not one
#: per request, so a first sync's statements per request stay what they were.
LAST_USED_EVERY = 60


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(token, prefix): a fresh token; only its digest is ever stored."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def rotate(connection: SCIMConnection) -> str:
    """Give the connection a new token (the old one stops working at once); return it, to be shown once."""
    token, prefix = new_token()
    connection.token_prefix = prefix
    connection.token_hash = digest(token)
    connection.token_rotated = timezone.now()
    connection.save(update_fields=["token_prefix", "token_hash", "token_rotated"])
    return token


def revoke(connection: SCIMConnection) -> None:
    """No token works for the connection until it is rotated (its digest is cleared; nothing matches it)."""
    connection.token_hash = ""
    connection.token_rotated = timezone.now()
    connection.save(update_fields=["token_hash", "token_rotated"])


def create_connection(name: str, backend: str, **fields: Any) -> tuple[SCIMConnection, str]:
    """A new connection and its token (shown once)."""
    token, prefix = new_token()
    connection = SCIMConnection.objects.create(
        name=name,
        backend=backend,
        token_prefix=prefix,
        token_hash=digest(token),
        token_rotated=timezone.now(),
        **fields,
    )
    return connection, token


def authenticate(header: str | None) -> SCIMConnection | None:
    """The enabled connection whose token is in `Authorization: Bearer ...`, else None."""
    if not header or header[:7].lower() != "bearer ":
        return None
    match = _TOKEN.match(header[7:].strip())
    if match is None:
        return None
    connection = SCIMConnection.objects.filter(token_prefix=match[1], enabled=True).first()
    if (
        connection is None
        or not connection.token_hash  # revoked
        or not hmac.compare_digest(connection.token_hash, digest(match[0]))
    ):
        return None
    _note_use(connection)
    return connection


def _note_use(connection: SCIMConnection) -> None:
    """Record when the token was last accepted, at most once per LAST_USED_EVERY seconds (shown in the UI)."""
    now = timezone.now()
    last = connection.token_last_used
    if last is not None and (now - last).total_seconds() < LAST_USED_EVERY:
        return
    # Conditional: of concurrent requests that all saw a stale value, the first one writes, the rest match nothing.
    seen = {"token_last_used__isnull": True} if last is None else {"token_last_used": last}
    SCIMConnection.objects.filter(pk=connection.pk, **seen).update(token_last_used=now)
    connection.token_last_used = now


def retry_after(now: float) -> int:
    """Seconds until the current rate-limit window ends (at least 1): the Retry-After of a 429.

    Entra ID suspends the connection's provisioning for Retry-After, so a full window would hold it up
    to a minute longer than the limit requires.
    """
    return max(1, WINDOW - int(now) % WINDOW)


def over_rate_limit(connection: SCIMConnection) -> bool:
    """Count this request; True when the connection exceeded `rate_limit` requests in the current window."""
    if not connection.rate_limit:
        return False
    key = f"netbox_sso:scim-rate:{connection.pk}:{int(timezone.now().timestamp()) // WINDOW}"
    try:
        cache.add(key, 0, WINDOW * 2)
        return int(cache.incr(key)) > connection.rate_limit
    except Exception:  # cache unavailable: NetBox itself is failing; do not add a SCIM error on top
        return False
