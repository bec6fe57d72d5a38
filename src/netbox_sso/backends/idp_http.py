"""HTTP to the identity provider: the one bounded call every provider call goes through, and the per-thread
sessions it uses.

`bounded_request` is the only place netbox-sso sends a request to a provider: sign-in, refresh and logout
(through the backends' `ProviderTransport`), Microsoft Graph (through the Entra backend's transport) and
`netbox-sso doctor` (`diagnostics/prober.py`). It applies, in this order:

- the https rule (`oidc_checks.validate_https`: TLS except on loopback or with `allow_http`);
- proxies and certificate verification as given (the backend's PROXIES / VERIFY_SSL settings);
- a total deadline: requests' timeouts apply per socket operation, so a provider dripping one byte at a
  time never trips them. The call runs in a worker thread instead; at the deadline we stop waiting and
  close its session, which aborts the blocked read;
- a size cap on the body, read streamed: a larger answer is refused after `max_bytes`, never read whole;
- no redirect followed.

It returns the answer whatever its HTTP status: the backends turn a non-2xx into a typed error, doctor
reads it. Its own failures are typed (`InsecureEndpointError`, `ProviderTimeoutError`,
`ResponseTooLargeError`); a failure of requests (connection refused, TLS) is raised as requests raised it,
for the caller to classify. Metrics are the caller's (`ProviderTransport` counts sign-in calls; doctor's
probes are not counted). Nothing here needs Django.

Connections are kept open between the calls of a login and between logins. A callback calls the provider
twice (token, userinfo) and, with cold caches, twice more (discovery, JWKS). Opening a new HTTPS connection
for each call, as social-core does, costs a TCP and TLS handshake every time: a few milliseconds of the
callback. Each thread keeps one `requests.Session` instead, whose connections are reused while fresh.

- A connection idle for more than `REUSE_SECONDS` is not reused: servers close idle keep-alive connections
  (5 s is the shortest common default), and a request written into a connection the server is closing at
  that moment fails. Below that age the server has no reason to close it.
- A session that saw an error or a timeout is closed and replaced, so a broken connection is never reused.
- Certificate verification, proxies, timeouts, the size cap and redirects are per request.
- The session stores no cookies: nothing a provider sets in one user's login is sent in another's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import urlsplit

import requests

from netbox_sso.core import oidc_checks as checks

#: Connections idle longer than this are not reused (below every common server keep-alive timeout).
REUSE_SECONDS = 2.0
_CHUNK = 16384

_local = threading.local()

Method = Literal["GET", "POST", "DELETE"]


class Body(TypedDict, total=False):
    """What a call sends besides its method (requests' own keyword arguments, those provider calls use)."""

    headers: Mapping[str, str | bytes] | None
    data: dict[str, Any] | None
    json: dict[str, Any] | None
    auth: Any
    params: dict[str, Any] | None


class Send(Body, total=False):
    method: Method


@dataclass(frozen=True)
class CallOptions:
    """How a call is bounded and routed (the caller's settings, resolved)."""

    #: Seconds for the whole call: connection, TLS, request and the last byte of the answer.
    deadline: float
    #: The largest answer body accepted, in bytes.
    max_bytes: int
    #: Plain http off loopback (the `allow_insecure_http` opt-in).
    allow_http: bool = False
    #: requests' proxies mapping (the backend's PROXIES setting); None: the environment's (HTTPS_PROXY).
    proxies: Mapping[str, str] | None = None
    #: requests' verify: True (REQUESTS_CA_BUNDLE or the system's CAs), a CA bundle path, or False.
    verify: bool | str = True
    user_agent: str = "netbox-sso"


def endpoint_label(url: str) -> str:
    """How errors name an endpoint: host and path, never the query (it may carry a code or a token)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{parts.path}"


def bounded_request(url: str, options: CallOptions, **send: Unpack[Send]) -> requests.Response:
    """One call to the provider (see the module's docstring): the answer of any HTTP status, its body read."""
    label = endpoint_label(url)
    checks.validate_https(url, label, allow_http=options.allow_http)
    method = send.get("method") or "GET"
    headers = dict(send.get("headers") or {})
    headers.setdefault("User-Agent", options.user_agent)
    total = options.deadline
    used = session()  # this thread's, reused while fresh
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            response = used.request(
                method,
                url,
                headers=headers,
                timeout=(total, total),
                stream=True,
                allow_redirects=False,
                proxies=dict(options.proxies) if options.proxies else None,
                verify=options.verify,
                data=send.get("data"),
                json=send.get("json"),
                auth=send.get("auth"),
                params=send.get("params"),
            )
            with response:
                body = bytearray()
                for chunk in response.iter_content(_CHUNK):
                    body.extend(chunk)
                    checks.validate_response_size(len(body), options.max_bytes, label)
            response._content = bytes(body)  # consumed while streaming; kept for .json()/.text
            outcome["response"] = response
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=call, name="netbox-sso-idp-call", daemon=True)
    worker.start()
    worker.join(total)
    if worker.is_alive():
        done(used, ok=False)  # closing it aborts the blocked read
        raise checks.ProviderTimeoutError(label, f"no complete answer within {total:g} s")
    error = outcome.get("error")
    done(used, ok=error is None)
    if isinstance(error, requests.Timeout):
        raise checks.ProviderTimeoutError(label, f"no answer within {total:g} s") from error
    if error is not None:
        raise error
    response: requests.Response = outcome["response"]
    return response


def session() -> requests.Session:
    """This thread's session to the provider (a new one when the last use is older than REUSE_SECONDS)."""
    current: requests.Session | None = getattr(_local, "session", None)
    if current is not None and time.monotonic() - getattr(_local, "used", 0.0) > REUSE_SECONDS:
        current.close()
        current = None
    if current is None:
        current = requests.Session()
        current.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # accepts no cookie at all
        _local.session = current
    return current


def done(used: requests.Session, *, ok: bool) -> None:
    """After a call: keep the session for the next one, or close it (an error, a timeout)."""
    if ok and getattr(_local, "session", None) is used:
        _local.used = time.monotonic()
        return
    used.close()
    if getattr(_local, "session", None) is used:
        _local.session = None
