"""Bounded records for unauthenticated requests: a few per client and reason per window, the rest counted.

Anyone can call the SSO callback, the back-channel logout endpoint or post the password form as often as
they like, with text (a description, a username) of their choosing. Their failures are still worth
recording, but never one row (or log line) per request:

- the first `audit_throttle_burst` events of a client, event, backend and reason in each window of
  `audit_throttle_window` seconds are recorded as usual;
- later ones in that window are only counted, in NetBox's cache (shared by every instance and worker) and in
  the metric `netbox_sso_events_throttled_total{event,reason}`;
- the count of a window is recorded as one aggregated event when that client next has a recorded event of
  the same kind (the first of a later window), so the trail says how many were left out.

The client is `audit.client_address` (the peer, or what trusted proxies forwarded: not the caller's choice);
IPv6 clients are grouped by /64, which one host is usually given whole. Backends not configured count as
"other", so neither a crafted address nor a crafted URL opens new windows. Without the cache (Redis down)
everything is admitted: NetBox itself does not work then, and no event may be lost to the throttle.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass

logger = logging.getLogger("netbox_sso")

KEY_PREFIX = "netbox_sso:v1:throttle"
#: How long a window's uncounted remainder waits in the cache for the client's next recorded event.
SUPPRESSED_TTL = 7 * 86400


@dataclass(frozen=True)
class Admission:
    """Whether to record this event, and how many like it earlier windows counted without recording."""

    record: bool
    suppressed_before: int = 0


def limits() -> tuple[int, int]:
    """(window seconds, events recorded per window) from the audit settings."""
    from netbox_sso.conf import audit_setting

    return max(1, int(audit_setting("audit_throttle_window"))), max(1, int(audit_setting("audit_throttle_burst")))


def client_group(client: str) -> str:
    """The throttled unit of a client address: the address, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client or "unknown"
    if address.version == 6 and not address.ipv4_mapped:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


def admit(kind: str, client: str, backend: str, reason: str) -> Admission:
    """Count one event of `kind` for this client, backend and reason; say whether to record it."""
    from django.core.cache import cache

    from netbox_sso.metrics import backend_label

    window, burst = limits()
    identity = "\x1f".join((kind, client_group(client), backend_label(backend), reason[:64]))
    base = f"{KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()}"
    try:
        seen = _count_in_window(cache, f"{base}:n", window)
        if seen > burst:
            if not cache.add(f"{base}:suppressed", 1, SUPPRESSED_TTL):
                _incr(cache, f"{base}:suppressed")
            return Admission(record=False)
        return Admission(record=True, suppressed_before=_take(cache, f"{base}:suppressed") if seen == 1 else 0)
    except Exception:  # cache unavailable: record (never lose an event to the throttle)
        logger.debug("netbox-sso: throttle unavailable; recording", exc_info=True)
        return Admission(record=True)


def _count_in_window(cache, key: str, window: int) -> int:  # type: ignore[no-untyped-def]
    """This event's number in the current window (a fixed window that starts at its first event)."""
    if cache.add(key, 1, window):
        return 1
    try:
        return int(cache.incr(key))  # Redis INCRBY keeps the key's expiry
    except ValueError:  # expired between add and incr: this event opens the next window
        cache.add(key, 1, window)
        return 1


def _incr(cache, key: str) -> None:  # type: ignore[no-untyped-def]
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, 1, SUPPRESSED_TTL)


def _take(cache, key: str) -> int:  # type: ignore[no-untyped-def]
    """Read and subtract the uncounted remainder; increments that race with us stay for the next take."""
    pending = cache.get(key)
    if not pending:
        return 0
    try:
        cache.decr(key, int(pending))
    except ValueError:  # expired meanwhile
        return 0
    return int(pending)
