"""Doctor's HTTP: the shared bounded call every provider call goes through, routed as the backend routes it,
and every failure to get an HTTP answer turned into a finding (DNS, plain http, TLS, timeout, unreachable)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import requests

from netbox_sso.backends import idp_http
from netbox_sso.backends.idp_http import CallOptions, Method
from netbox_sso.core import oidc_checks as checks
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import Backend, NetBoxSettings

DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 1024 * 1024
USER_AGENT = "netbox-sso-doctor"
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
    """Doctor's HTTP: the shared bounded call (`idp_http.bounded_request`: https rule, total deadline, size
    cap, no redirect followed) routed as the backend routes its own calls, after a DNS check of its own.

    Doctor's calls are not counted in the sign-in metrics (`netbox_sso_idp_*`): it sends a made-up code and
    an unregistered-looking authorization request on purpose, whose refusals would read as provider errors
    on the dashboards and alerts built on those series; its findings are its own report.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_bundle: str | None = None,
        options: CallOptions | None = None,
        resolved: dict[str, str | None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        self.options = options or CallOptions(
            deadline=timeout, max_bytes=MAX_BYTES, verify=ca_bundle or True, user_agent=USER_AGENT
        )
        #: host -> None when it resolves, else why not; shared by the backends' probers.
        self._resolved: dict[str, str | None] = {} if resolved is None else resolved

    def for_backend(self, settings: NetBoxSettings, backend: Backend) -> Prober:
        """This prober with the backend's route to its provider, as NetBox's sign-in calls it.

        - proxies: the backend's PROXIES setting (social-core's SOCIAL_AUTH_<BACKEND>_PROXIES, then
          SOCIAL_AUTH_PROXIES), else the environment's (HTTPS_PROXY, NO_PROXY), as requests does;
        - certificates: the backend's VERIFY_SSL when False or a CA bundle path (requests then ignores
          REQUESTS_CA_BUNDLE, and so does NetBox), else --ca-bundle, REQUESTS_CA_BUNDLE or the system's CAs;
        - plain http off loopback: refused as sign-in refuses it, unless `allow_insecure_http`; stock
          social-core backends (netbox_sso not in PLUGINS) have no such rule.
        """
        _, proxies = settings.backend_setting(backend, "PROXIES")
        _, configured = settings.backend_setting(backend, "VERIFY_SSL")
        verify: bool | str = self.ca_bundle or True
        if configured is False or (isinstance(configured, str) and configured):
            verify = configured
        allow_http = not settings.plugin_enabled or settings.plugin_config.get("allow_insecure_http") is True
        options = replace(
            self.options,
            proxies=dict(proxies) if isinstance(proxies, Mapping) and proxies else None,
            verify=verify,
            allow_http=allow_http,
        )
        return Prober(timeout=self.timeout, ca_bundle=self.ca_bundle, options=options, resolved=self._resolved)

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

    def _through_proxy(self, url: str) -> bool:
        """Whether a proxy carries this request (then the proxy resolves the host, not this machine)."""
        proxies = {**requests.utils.get_environ_proxies(url), **(self.options.proxies or {})}
        return requests.utils.select_proxy(url, proxies) is not None

    def request(self, method: Method, url: str, *, setting: str, backend: str, what: str, **send: Any) -> Answer:
        """The answer of any HTTP status; no answer at all is a `Failure` carrying its finding."""
        host = urlsplit(url).hostname or ""
        reason = None if self._through_proxy(url) else self.resolve(host)
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
        sent = time.time()
        try:
            response = idp_http.bounded_request(url, self.options, method=method, **send)
        except checks.InsecureEndpointError as error:
            raise Failure(
                Finding(
                    "url.insecure_http",
                    "error",
                    setting,
                    f"{what}: {url} uses plain http on {host!r}; netbox-sso refuses it, so sign-in fails",
                    "use the provider's https URL",
                    backend,
                )
            ) from error
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
        # An answer over the size cap is reported as too slow, as doctor always has (one finding: no usable
        # answer in time); requests' own timeouts arrive here as ProviderTimeoutError too.
        except (checks.ProviderTimeoutError, checks.ResponseTooLargeError) as error:
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
        return Answer(response.status_code, dict(response.headers), response.content, sent, time.time())


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
