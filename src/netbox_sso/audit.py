"""The one recording API of the SSO audit trail: a structured log line and an `SSOEvent` row per event.

    from netbox_sso import audit
    audit.record("login_failure", request=request, backend="oidc", outcome="failure", reason="invalid_token")

- The log line goes to logger `netbox_sso.audit` (WARNING for failures, refusals and denials, INFO
  otherwise); its message is one JSON object, and `JsonFormatter` turns the whole record into JSON for
  log shippers (`'formatters': {'json': {'()': 'netbox_sso.audit.JsonFormatter'}}` in LOGGING).
- The row is an `SSOEvent` (list view, filters, REST API); metrics count logins by backend and outcome.
- Nothing secret is ever written: token, secret and code fields are replaced, JWT-looking strings are
  replaced wherever they occur, and sizes are capped (see `redact`).
- Recording never breaks a login: a failure to write the row is logged and swallowed. Inside a
  transaction (the SSO pipeline runs in one) the event is written when it commits, so a user creation
  rolled back by a later refusal leaves no "user created" event, only the refusal.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from netbox_sso.events import LOG_NAMES

logger = logging.getLogger("netbox_sso.audit")
_internal = logging.getLogger("netbox_sso")

#: Keys whose values are secrets wherever they appear (compared lower-case).
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code",
        "code_verifier",
        "password",
        "secret",
        "token",
        "assertion",
        "client_assertion",
        "authorization",
        "cookie",
        "sessionid",
        "api_key",
    }
)
_SECRET_SUFFIXES = ("_token", "_secret", "password")
#: A JWT/JWS (header.payload.signature, base64url JSON header) anywhere in a string.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
REDACTED = "[redacted]"
MAX_STRING = 1000
MAX_ITEMS = 500
MAX_DEPTH = 8
#: Upper bound of one event's details as JSON; larger details are replaced by a note saying so.
MAX_DETAILS_BYTES = 64 * 1024
#: Widths of SSOEvent's text columns (netbox_sso.models): a value is cut to fit, never lost with its row.
MAX_MESSAGE = 300
MAX_USERNAME = 150
MAX_BACKEND = 64
MAX_REASON = 64

#: Failures any anonymous client can cause at will, with text (a username) of its choosing, throttled per
#: client and reason (`netbox_sso.throttle`): every login failure, and refused password sign-ins. SSO
#: refusals are not: the provider vouched for that identity first.
THROTTLED_EVENTS = frozenset({"login_failure"})
THROTTLED_BACKEND_EVENTS = frozenset({("refused", "local")})
#: Events logged at WARNING (everything else at INFO).
_WARNING_OUTCOMES = frozenset({"failure", "refused", "denied"})
#: Successes logged at WARNING all the same, for alerting (a break-glass account's password sign-in).
_WARNING_REASONS = frozenset({"break_glass"})
#: Failure codes that are a policy refusal, not a fault (AuthForbidden subclasses are refusals too).
REFUSAL_CODES = frozenset({"foreign_tenant", "refused", "forbidden", "required_groups", "missing_groups_claim"})


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(_SECRET_SUFFIXES)


def redact_text(text: str, limit: int = MAX_STRING, *, fit: bool = False) -> str:
    """The string without JWTs, bearer tokens or NUL characters, cut to `limit` characters.

    A cut string says how much was cut ("…[+N chars]"); with `fit` that note is inside the limit, so the
    result fits a column of `limit` characters (a longer value would make the INSERT fail and lose the row).
    PostgreSQL refuses NUL in text and JSON columns, so it is replaced too.
    """
    text = _BEARER.sub("Bearer " + REDACTED, _JWT.sub("[redacted jwt]", text)).replace("\x00", "\ufffd")
    if len(text) <= limit:
        return text
    if not fit:
        return f"{text[:limit]}…[+{len(text) - limit} chars]"
    keep = limit
    while keep > 0 and keep + len(f"…[+{len(text) - keep} chars]") > limit:
        keep -= 1
    note = f"…[+{len(text) - keep} chars]"
    return f"{text[:keep]}{note}" if len(note) <= limit else text[:limit]


def redact(value: Any, *, depth: int = 0) -> Any:
    """A JSON-ready copy of `value` with secrets replaced and sizes capped."""
    if depth > MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more keys"
                break
            name = redact_text(str(key), 200)
            # A secret-named key holding an object is decoded claims (the "id_token" source), not a token.
            secret = is_secret_key(name) and not isinstance(item, Mapping)
            out[name] = REDACTED if secret else redact(item, depth=depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        capped = [redact(item, depth=depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            capped.append(f"… {len(items) - MAX_ITEMS} more")
        return capped
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _capped_details(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    clean = redact(details)
    size = len(json.dumps(clean, default=str))
    if size > MAX_DETAILS_BYTES:
        return {
            "truncated": f"details of {size} bytes exceed the {MAX_DETAILS_BYTES}-byte cap",
            "keys": sorted(clean)[:50],
        }
    return clean


def event_type(event: str) -> str:
    """The SSOEvent type for `event`, which may also be its log name (e.g. 'sso.login.failed')."""
    if event in LOG_NAMES:
        return event
    for short, log_name in LOG_NAMES.items():
        if log_name == event:
            return short
    raise ValueError(f"unknown SSO event {event!r}; one of {sorted(LOG_NAMES)}")


#: Where NetBox looks for the client address behind a proxy (its HTTP_CLIENT_IP_HEADERS default).
DEFAULT_CLIENT_IP_HEADERS = ("HTTP_X_REAL_IP", "HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")


def client_address(request: Any) -> str | None:
    """The client's address as the audit trail and the throttles see it: never the caller's choice.

    The peer (REMOTE_ADDR), unless the peer is one of `trusted_proxies`; then the headers NetBox reads
    (HTTP_CLIENT_IP_HEADERS, in that order) are believed, each read right to left past the trusted proxies:
    the first address no trusted proxy owns is the client. A header's leftmost entries are whatever the
    client sent, so a request cannot pick its own address (NetBox's get_client_ip takes the leftmost).
    """
    if request is None:
        return None
    raw_peer = request.META.get("REMOTE_ADDR") or None
    peer = _ip(raw_peer)
    if peer is None:
        return raw_peer  # e.g. a Unix-socket peer
    trusted = _trusted_proxies()
    if not _owned(peer, trusted):
        return str(peer)
    from django.conf import settings

    for header in getattr(settings, "HTTP_CLIENT_IP_HEADERS", DEFAULT_CLIENT_IP_HEADERS):
        value = request.META.get(header) if header != "REMOTE_ADDR" else None
        if not value:
            continue
        client = peer
        for hop in reversed(str(value).split(",")):
            address = _ip(hop)
            if address is None:
                break  # unreadable: nothing left of it can be trusted; the last proxy's peer it is
            client = address
            if not _owned(address, trusted):
                break
        return str(client)
    return str(peer)


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header entry ('192.0.2.1', '192.0.2.1:4711', '[2001:db8::1]:443'), else None."""
    text = str(value or "").strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _owned(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Any, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def _trusted_proxies() -> tuple[Any, ...]:
    try:
        from netbox_sso.conf import audit_setting

        return tuple(audit_setting("trusted_proxies"))
    except Exception:  # misconfigured (reported at start-up) or no Django settings: trust no proxy
        return ()


def record(
    event: str,
    *,
    request: Any = None,
    backend: str | None = None,
    user: Any = None,
    username: str | None = None,
    outcome: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """Record one SSO event: the audit log line, the SSOEvent row and the login metrics.

    `event` is an SSOEvent type (login_success, login_failure, refused, user_created, groups_changed,
    flags_changed, permission_denied, logout, claims_captured) or its log name. Returns the logged payload.
    """
    kind = event_type(event)
    if user is not None and not getattr(user, "pk", None):
        user = None  # unsaved or anonymous: keep the name only
    name = username or (user.get_username() if user is not None else "")
    payload: dict[str, Any] = {
        "event": LOG_NAMES[kind],
        "type": kind,
        "outcome": outcome,
        "reason": reason or "",
        "backend": redact_text(backend or "", MAX_BACKEND, fit=True),
        "user": redact_text(str(name), MAX_USERNAME, fit=True),
        "client": client_address(request) or "",
        "path": redact_text(request.path, 200) if request else "",
    }
    if user is None and (kind in THROTTLED_EVENTS or (kind, payload["backend"]) in THROTTLED_BACKEND_EVENTS):
        from netbox_sso import throttle

        admission = throttle.admit(kind, payload["client"], payload["backend"], payload["reason"])
        if not admission.record:
            _count_throttled(kind, payload["reason"])
            return {**payload, "throttled": True}
        if admission.suppressed_before:
            _emit(kind, *_aggregate(payload, admission.suppressed_before))
    clean_message = redact_text(message, MAX_MESSAGE, fit=True) if message else ""
    if clean_message:
        payload["message"] = clean_message
    clean_details = _capped_details(details)
    if clean_details is not None:
        payload["details"] = clean_details
    _emit(kind, payload, user, clean_details, clean_message)
    return payload


def _emit(kind: str, payload: dict[str, Any], user: Any, details: dict[str, Any] | None, message: str) -> None:
    """The log line, the metrics and the row of one event, when the caller's transaction commits."""

    def write() -> None:
        warning = payload["outcome"] in _WARNING_OUTCOMES or payload["reason"] in _WARNING_REASONS
        logger.log(
            logging.WARNING if warning else logging.INFO,
            json.dumps(payload, sort_keys=True, default=str),
            extra={"sso_event": payload},
        )
        _count(kind, payload["backend"], payload["outcome"])
        _store(kind, payload, user, details, message)

    _on_commit(write)


def _aggregate(payload: Mapping[str, Any], count: int) -> tuple[dict[str, Any], None, dict[str, Any], str]:
    """One event standing for `count` like `payload` that the throttle counted instead of recording."""
    from netbox_sso import throttle

    window, burst = throttle.limits()
    details = {"throttled": count, "window_seconds": window, "recorded_per_window": burst}
    message = (
        f"{count} more {payload['event']} events ({payload['reason'] or 'no reason'}) from this client "
        f"were counted, not recorded: at most {burst} per {window} s are recorded"
    )
    aggregated = {**payload, "user": "", "path": "", "details": details, "message": message}
    return aggregated, None, details, message


def record_failure(
    request: Any, exception: BaseException, *, backend: str, code: str, subject: str = "", stage: str = ""
) -> dict[str, Any]:
    """Record a failed SSO request: a refusal (policy) or a login failure (fault), from the exception.

    Refusals are social-core's AuthForbidden and its subclasses (our pipeline's refusals) and the policy
    codes in REFUSAL_CODES (foreign tenant). Exceptions may carry `audit_details` (a dict) and `username`.
    """
    from social_core.exceptions import AuthForbidden

    refused = isinstance(exception, AuthForbidden) or code in REFUSAL_CODES
    details: dict[str, Any] = {"stage": stage, "subject": subject, "exception": type(exception).__name__}
    extra = getattr(exception, "audit_details", None)
    if isinstance(extra, Mapping):
        details.update(extra)
    return record(
        "refused" if refused else "login_failure",
        request=request,
        backend=backend,
        username=getattr(exception, "username", None) or None,
        outcome="refused" if refused else "failure",
        reason=code,
        details=details,
        message=str(exception),
    )


def _on_commit(write: Any) -> None:
    try:
        from django.db import transaction

        transaction.on_commit(write, robust=True)
    except Exception:  # no database configured (CLI use): log only
        write()


def _count(kind: str, backend: str, outcome: str) -> None:
    try:
        from netbox_sso import metrics

        metrics.count_event(kind, backend, outcome)
    except Exception:  # metrics must never break a login
        _internal.debug("netbox-sso: metrics update failed", exc_info=True)


def _count_throttled(kind: str, reason: str) -> None:
    try:
        from netbox_sso import metrics

        metrics.count_throttled(kind, reason)
    except Exception:
        _internal.debug("netbox-sso: metrics update failed", exc_info=True)


def _store(kind: str, payload: Mapping[str, Any], user: Any, details: dict[str, Any] | None, message: str) -> None:
    from django.apps import apps

    if not apps.is_installed("netbox_sso"):  # a plain Django site without the NetBox plugin: log only
        return
    try:
        from netbox_sso.models import SSOEvent

        event = SSOEvent(
            event=kind,
            outcome=payload["outcome"],
            reason=str(payload["reason"])[:MAX_REASON],
            backend=str(payload["backend"])[:MAX_BACKEND],
            user=user,
            username=str(payload["user"])[:MAX_USERNAME],
            client=_ip_or_none(payload["client"]),
            message=message,
            details=details,
        )
    except Exception:
        _internal.exception("netbox-sso: could not store the SSO audit event %s", payload.get("event"))
        return
    pending = _batch.get()
    if pending is not None:  # inside batched(): written with the request's other events when it ends
        pending.append(event)
    else:
        _save([event])


#: The events of the current SSO request not yet written (None outside `batched()`).
_batch: ContextVar[list[Any] | None] = ContextVar("netbox_sso_audit_batch", default=None)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Write the rows of the events recorded inside this block in one INSERT when it ends (even on error).

    An SSO callback records up to three events (user created, groups changed, login): one round trip
    instead of three. Events still reach the log and the metrics as they happen, and an event recorded
    inside a transaction still waits for its commit (a rolled-back one is never written).
    """
    token = _batch.set([])
    try:
        yield
    finally:
        pending = _batch.get() or []
        _batch.reset(token)
        if pending:
            _save(pending)


def _save(events: list[Any]) -> None:
    """One INSERT for all `events`; if that fails, each alone, so one bad row never costs the others."""
    from django.db import transaction

    from netbox_sso.models import SSOEvent

    def insert(rows: list[Any]) -> None:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint: a failed insert never poisons the caller's transaction
                _insert(SSOEvent, rows)
        else:  # the usual case, after the login's commit: one autocommit INSERT, no transaction round trips
            _insert(SSOEvent, rows)

    try:
        insert(events)
        return
    except Exception:
        if len(events) == 1:
            _internal.exception("netbox-sso: could not store the SSO audit event %s", events[0].event)
            return
    for event in events:
        try:
            insert([event])
        except Exception:
            _internal.exception("netbox-sso: could not store the SSO audit event %s", event.event)


def _insert(model: Any, rows: list[Any]) -> None:
    if len(rows) == 1:
        rows[0].save()
    else:
        model.objects.bulk_create(rows)


def _ip_or_none(value: str) -> str | None:
    """The client address when it is an IP address (a Unix-socket peer has none)."""
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


class JsonFormatter(logging.Formatter):
    """One JSON object per log record; audit records carry their event fields at the top level.

    LOGGING = {..., 'formatters': {'json': {'()': 'netbox_sso.audit.JsonFormatter'}}, ...}
    """

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        event = getattr(record, "sso_event", None)
        if isinstance(event, Mapping):
            document.update(event)
        else:
            document["message"] = redact_text(record.getMessage(), 4000)
        if record.exc_info:
            document["exception"] = redact_text(self.formatException(record.exc_info), 8000)
        return json.dumps(document, sort_keys=False, default=str)
