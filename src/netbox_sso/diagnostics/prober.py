"""Doctor's HTTP: each request bounded by a total deadline and a size cap, no redirect followed, TLS verified,
and every failure to get an HTTP answer turned into a finding (DNS, TLS, timeout, unreachable)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from netbox_sso.diagnostics.findings import Finding

DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 1024 * 1024
CA_FIX = (
    "make NetBox trust the provider's CA: put its CA certificate (with the system CAs) in a PEM bundle and set "
    "REQUESTS_CA_BUNDLE=/path/to/bundle.pem in NetBox's environment (run doctor with the same variable or "
    "--ca-bundle). Do not set SOCIAL_AUTH_VERIFY_SSL = False"
)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    sent_at: float
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Failure(Exception):
    """A request that got no HTTP answer; carries the finding."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.problem)
        self.finding = finding


class Prober:
    """HTTP with verified TLS, a total deadline per request, a size cap and no redirects followed."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, ca_bundle: str | None = None) -> None:
        self.timeout = timeout
        self.verify: bool | str = ca_bundle or True
        self._resolved: dict[str, str | None] = {}

    def resolve(self, host: str) -> str | None:
        """None when the host resolves, else the reason (getaddrinfo has no timeout: run it in a thread)."""
        if host in self._resolved:
            return self._resolved[host]
        outcome: dict[str, str | None] = {}

        def lookup() -> None:
            try:
                socket.getaddrinfo(host, None)
                outcome["error"] = None
            except OSError as error:
                outcome["error"] = str(error) or type(error).__name__

        worker = threading.Thread(target=lookup, daemon=True, name="netbox-sso-doctor-dns")
        worker.start()
        worker.join(self.timeout)
        reason = outcome.get("error", f"no answer within {self.timeout:g} s")
        self._resolved[host] = reason
        return reason

    def request(self, method: str, url: str, *, setting: str, backend: str, what: str, **kwargs: Any) -> Answer:
        host = urlsplit(url).hostname or ""
        reason = self.resolve(host)
        if reason is not None:
            raise Failure(
                Finding(
                    "dns.unresolved",
                    "error",
                    setting,
                    f"{what}: the host {host!r} does not resolve ({reason})",
                    "check the host name in the setting, this machine's DNS servers (/etc/resolv.conf) and, for an "
                    "on-premises provider, the internal DNS zone",
                    backend,
                )
            )
        deadline = time.monotonic() + self.timeout
        sent = time.time()
        headers = {"User-Agent": "netbox-sso-doctor", **(kwargs.pop("headers", None) or {})}
        try:
            with requests.request(
                method,
                url,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=False,
                verify=self.verify,
                headers=headers,
                **kwargs,
            ) as response:
                body = bytearray()
                for chunk in response.iter_content(16384):
                    body.extend(chunk)
                    if len(body) > MAX_BYTES or time.monotonic() > deadline:
                        raise requests.Timeout("too slow or too large")
                return Answer(response.status_code, dict(response.headers), bytes(body), sent, time.time())
        except requests.exceptions.SSLError as error:
            raise Failure(
                Finding(
                    "tls.verify_failed",
                    "error",
                    setting,
                    f"{what}: the TLS certificate of {host!r} is not trusted ({_ssl_reason(error)}); NetBox fails the "
                    "same way (SSL: CERTIFICATE_VERIFY_FAILED)",
                    CA_FIX,
                    backend,
                )
            ) from error
        except requests.Timeout as error:
            raise Failure(
                Finding(
                    "net.timeout",
                    "error",
                    setting,
                    f"{what}: {url} did not answer within {self.timeout:g} s; sign-in hangs, then fails",
                    "check firewall rules for outbound HTTPS to the provider, the proxy settings (HTTPS_PROXY), and "
                    "the provider's status",
                    backend,
                )
            ) from error
        except requests.RequestException as error:
            raise Failure(
                Finding(
                    "net.unreachable",
                    "error",
                    setting,
                    f"{what}: cannot reach {url} ({_connection_reason(error)})",
                    "check that the provider is up, firewall rules allow outbound HTTPS to it, and routes exist for an "
                    "on-premises provider",
                    backend,
                )
            ) from error


def _ssl_reason(error: Exception) -> str:
    text = str(error)
    for marker in ("certificate verify failed:", "hostname mismatch", "self-signed", "SSLError"):
        index = text.find(marker)
        if index >= 0:
            return text[index:].split("(_ssl")[0].split("')")[0].strip(" ')\"")
    return text[:200]


def _connection_reason(error: Exception) -> str:
    text = str(error)
    for marker in (
        "Connection refused",
        "Connection reset",
        "Connection aborted",
        "RemoteDisconnected",
        "Network is unreachable",
        "No route to host",
    ):
        if marker in text:
            return marker
    return type(error).__name__
