"""What devidp keeps between requests: browser sessions, authorization codes and token records.

Plain records guarded by the server's lock (`DevIdP._lock`); the helpers are the protocol arithmetic the
endpoints share (RFC 7636 PKCE, OIDC Core at_hash).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from netbox_sso.devidp.profiles.base import Grant

CODE_LIFETIME = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def half_hash(value: str) -> str:
    """OIDC Core 3.1.3.6 at_hash: left half of SHA-256 of the ASCII token, base64url."""
    return _b64url(hashlib.sha256(value.encode()).digest()[:16])


def pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 4.6."""
    if method == "S256":
        return hmac.compare_digest(_b64url(hashlib.sha256(verifier.encode()).digest()), challenge)
    return hmac.compare_digest(verifier, challenge)


@dataclass
class Session:
    """An IdP browser session (one per profile and sign-in)."""

    cookie: str
    sid: str
    profile: str
    username: str
    auth_time: int
    clients: dict[str, Grant] = field(default_factory=dict)  # client_id -> last grant (for back-channel)
    refresh_tokens: set[str] = field(default_factory=set)


@dataclass
class CodeRecord:
    grant: Grant
    expires_at: float


@dataclass
class TokenRecord:
    grant: Grant
    expires_at: float
    refresh_tokens: list[str] = field(default_factory=list)
    access_jtis: list[str] = field(default_factory=list)
