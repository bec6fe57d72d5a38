"""Prometheus metrics of SSO, exported on NetBox's /metrics (METRICS_ENABLED = True).

- `netbox_sso_logins_total{backend,outcome}`: logins by backend and outcome (success, failure, refused).
- `netbox_sso_events_total{event,outcome}`: every audit event.
- `netbox_sso_api_tokens_total{backend,outcome,reason}`: API requests with provider access tokens.
- `netbox_sso_events_throttled_total{event,reason}`: failure events of unauthenticated requests counted
  instead of recorded (`netbox_sso.throttle`).
- `netbox_sso_backchannel_rejected_total{backend,reason}`: rejected back-channel logout requests.
- `netbox_sso_callback_seconds{backend}`: server time of GET /oauth/complete/<backend>/.
- `netbox_sso_idp_request_seconds{backend,endpoint}`, `netbox_sso_idp_errors_total{backend,endpoint,error}`:
  calls to the identity provider, reported by the backends through `observe_idp_call`.
- `netbox_sso_scim_requests_total{connection,method,status}`: SCIM provisioning requests (netbox_sso.scim).

Only Counters and Histograms, which prometheus_client aggregates across gunicorn workers when
PROMETHEUS_MULTIPROC_DIR is set (as NetBox's documentation asks for several workers). Label values are
bounded: backends not configured in NetBox become "other", so a crafted URL cannot add series.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

try:
    from prometheus_client import Counter, Histogram
except ImportError:  # outside NetBox (CLI): metrics are accepted and dropped

    class _Nothing:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def labels(self, *args: Any, **kwargs: Any) -> _Nothing:
            return self

        def inc(self, *args: Any) -> None:
            pass

        def observe(self, *args: Any) -> None:
            pass

    Counter = Histogram = _Nothing  # type: ignore[assignment,misc]

LOGIN_EVENTS = {"login_success": "success", "login_failure": "failure", "refused": "refused"}
_ENDPOINTS = frozenset({"discovery", "jwks", "token", "userinfo", "graph", "authorization", "other"})
_ERROR_MAX = 40

LOGINS = Counter("netbox_sso_logins", "SSO logins by backend and outcome", ["backend", "outcome"])
EVENTS = Counter("netbox_sso_events", "SSO audit events by type and outcome", ["event", "outcome"])
CALLBACK_SECONDS = Histogram(
    "netbox_sso_callback_seconds",
    "Server time of the SSO callback (/oauth/complete/<backend>/)",
    ["backend"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
IDP_SECONDS = Histogram(
    "netbox_sso_idp_request_seconds",
    "Duration of calls to the identity provider",
    ["backend", "endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
API_TOKENS = Counter(
    "netbox_sso_api_tokens",
    "API requests with identity-provider access tokens by outcome (accepted: person/service; refused: the reason code)",
    ["backend", "outcome", "reason"],
)
THROTTLED = Counter(
    "netbox_sso_events_throttled",
    "Audit events of unauthenticated requests counted instead of recorded (netbox_sso.throttle)",
    ["event", "reason"],
)
BACKCHANNEL_REJECTED = Counter(
    "netbox_sso_backchannel_rejected", "Rejected back-channel logout requests", ["backend", "reason"]
)
IDP_ERRORS = Counter("netbox_sso_idp_errors", "Failed calls to the identity provider", ["backend", "endpoint", "error"])


@cache
def configured_backends() -> frozenset[str]:
    """Names of the social-auth backends NetBox is configured with (settings do not change at run time)."""
    from django.conf import settings
    from social_core.backends.utils import load_backends

    try:
        return frozenset(load_backends(settings.AUTHENTICATION_BACKENDS))
    except Exception:  # an unimportable backend is reported elsewhere; keep metrics alive
        return frozenset()


def backend_label(name: str | None) -> str:
    if not name:
        return "none"
    return name if name in configured_backends() else "other"


def count_event(event: str, backend: str | None, outcome: str) -> None:
    EVENTS.labels(event=event, outcome=outcome).inc()
    if event in LOGIN_EVENTS:
        LOGINS.labels(backend=backend_label(backend), outcome=LOGIN_EVENTS[event]).inc()


def count_api_token(backend: str | None, outcome: str, reason: str) -> None:
    """One API request with a provider access token (`reason`: person/service, or the refusal code)."""
    API_TOKENS.labels(backend=backend_label(backend), outcome=outcome, reason=reason[:_ERROR_MAX]).inc()


def count_throttled(event: str, reason: str) -> None:
    THROTTLED.labels(event=event, reason=str(reason)[:_ERROR_MAX]).inc()


def count_backchannel_rejected(backend: str | None, reason: str) -> None:
    BACKCHANNEL_REJECTED.labels(backend=backend_label(backend), reason=str(reason)[:_ERROR_MAX]).inc()


def observe_callback(backend: str | None, seconds: float) -> None:
    CALLBACK_SECONDS.labels(backend=backend_label(backend)).observe(seconds)


def observe_idp_call(backend: str, endpoint: str, seconds: float, error: str | None = None) -> None:
    """Report one call to the identity provider (for the backends' transport).

    `endpoint`: discovery, jwks, token, userinfo, graph or authorization (anything else counts as other);
    `error`: None on success, else a short stable code (e.g. 'timeout', 'http_500', 'tls', the typed
    error's `code`).
    """
    endpoint = endpoint if endpoint in _ENDPOINTS else "other"
    label = backend_label(backend)
    IDP_SECONDS.labels(backend=label, endpoint=endpoint).observe(max(seconds, 0.0))
    if error:
        IDP_ERRORS.labels(backend=label, endpoint=endpoint, error=str(error)[:_ERROR_MAX]).inc()


def idp_endpoint(url: str, discovery: Mapping[str, Any] | None = None) -> str:
    """The endpoint label of an identity-provider URL (compared with the discovery document when given)."""
    base = url.split("?", 1)[0].rstrip("/")
    if base.endswith("/.well-known/openid-configuration"):
        return "discovery"
    # The discovery document first: Entra's userinfo_endpoint is on the Graph host, and is userinfo.
    for key, label in (
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", "jwks"),
        ("authorization_endpoint", "authorization"),
    ):
        known = (discovery or {}).get(key)
        if isinstance(known, str) and known.split("?", 1)[0].rstrip("/") == base:
            return label
    if "graph.microsoft" in base:
        return "graph"
    # Without the discovery document at hand: the providers' usual path endings.
    last = base.rsplit("/", 1)[-1].lower()
    return {
        "token": "token",
        "userinfo": "userinfo",
        "jwks": "jwks",
        "keys": "jwks",
        "certs": "jwks",
        "authorize": "authorization",
        "auth": "authorization",
    }.get(last, "other")


@contextmanager
def idp_call(backend: str, endpoint: str) -> Iterator[None]:
    """Time one call to the identity provider; an exception counts as an error (its `code` or class name)."""
    started = time.perf_counter()
    error: str | None = None
    try:
        yield
    except BaseException as exc:
        error = str(getattr(exc, "code", "") or type(exc).__name__)
        raise
    finally:
        observe_idp_call(backend, endpoint, time.perf_counter() - started, error)


SCIM_REQUESTS = Counter(
    "netbox_sso_scim_requests", "SCIM requests by connection, method and status", ["connection", "method", "status"]
)
_SCIM_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def count_scim_request(connection: str, method: str, status: int) -> None:
    """Connection names come from NetBox's database (administrators'), never from the request."""
    SCIM_REQUESTS.labels(
        connection=connection[:64], method=method if method in _SCIM_METHODS else "other", status=str(status)
    ).inc()


RECONCILE_RUNS = Counter(
    "netbox_sso_reconcile_runs", "Directory reconciliation runs by backend and outcome", ["backend", "outcome"]
)
RECONCILE_DEACTIVATED = Counter(
    "netbox_sso_reconcile_deactivated",
    "Accounts deactivated by directory reconciliation, by backend and reason (dry runs not counted)",
    ["backend", "reason"],
)
_RECONCILE_OUTCOMES = frozenset({"applied", "dry_run", "aborted"})


def count_reconcile(backend: str, outcome: str, deactivated: dict[str, int] | None = None) -> None:
    """One reconciliation run (applied, dry_run or aborted) and its deactivations by reason."""
    label = backend_label(backend)
    RECONCILE_RUNS.labels(backend=label, outcome=outcome if outcome in _RECONCILE_OUTCOMES else "other").inc()
    for reason, count in (deactivated or {}).items():
        RECONCILE_DEACTIVATED.labels(backend=label, reason=reason[:40]).inc(count)
