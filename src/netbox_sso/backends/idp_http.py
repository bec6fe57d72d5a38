"""Connections to the identity provider, kept open between the calls of a login and between logins.

A callback calls the provider twice (token, userinfo) and, with cold caches, twice more (discovery, JWKS).
Opening a new HTTPS connection for each call, as social-core does, costs a TCP and TLS handshake every
time: a few milliseconds of the callback. Each gunicorn thread keeps one `requests.Session` instead, whose
connections are reused while they are fresh.

- A connection idle for more than `REUSE_SECONDS` is not reused: servers close idle keep-alive connections
  (5 s is the shortest common default), and a request written into a connection the server is closing at
  that moment fails. Below that age the server has no reason to close it.
- A session that saw an error or a timeout is closed and replaced, so a broken connection is never reused.
- Certificate verification, proxies, timeouts, the size cap and redirects are per request, as before.
- The session stores no cookies: nothing a provider sets in one user's login is sent in another's.
"""

from __future__ import annotations

import threading
import time
from http.cookiejar import DefaultCookiePolicy

import requests

#: Connections idle longer than this are not reused (below every common server keep-alive timeout).
REUSE_SECONDS = 2.0

_local = threading.local()


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
