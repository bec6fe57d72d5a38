"""One call to the provider: https rule, total deadline, streamed size cap, proxies, metrics, typed errors."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import requests
from social_core.exceptions import AuthConnectionError

from netbox_sso import metrics
from netbox_sso.backends import idp_http
from netbox_sso.core import oidc_checks as checks

logger = logging.getLogger("netbox_sso")
_CHUNK = 16384


def _endpoint_label(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{parts.path}"


class ProviderTransport:
    """Part of `HardenedOIDCMixin` (netbox_sso.backends.hardening), which mixes it in."""

    if TYPE_CHECKING:  # social-core's backend and the rest of the mixin provide these

        def __getattr__(self, name: str) -> Any: ...

    # ---- transport --------------------------------------------------------------------------------------
    def request(
        self,
        url: str,
        *,
        method: Literal["GET", "POST", "DELETE"] = "GET",
        headers: Any = None,
        data: dict | None = None,
        json: dict | None = None,
        auth: Any = None,
        params: dict | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One call to the provider, timed for the metrics (latency by endpoint, errors by code)."""
        with metrics.idp_call(self.name, metrics.idp_endpoint(url)):  # type: ignore[attr-defined]
            return self._bounded_request(
                url, method=method, headers=headers, data=data, json=json, auth=auth, params=params, timeout=timeout
            )

    def _bounded_request(
        self,
        url: str,
        *,
        method: Literal["GET", "POST", "DELETE"] = "GET",
        headers: Any = None,
        data: dict | None = None,
        json: dict | None = None,
        auth: Any = None,
        params: dict | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One call to the provider: https, a total deadline, a size cap; HTTP errors as typed errors.

        requests' timeouts apply per socket operation, so a provider dripping one byte at a time never
        trips them. The call runs in a worker thread instead; at the deadline we stop waiting and close
        its session, which aborts the blocked read. The session is the calling thread's, whose connections
        are reused while fresh (`idp_http`).
        """
        cfg = self.hardening
        label = _endpoint_label(url)
        checks.validate_https(url, label, allow_http=cfg.allow_insecure_http)
        total = min(timeout, cfg.idp_timeout) if timeout else cfg.idp_timeout
        headers = dict(headers or {})
        headers.setdefault("User-Agent", "netbox-sso")
        session = idp_http.session()  # this thread's, reused while fresh (see netbox_sso.backends.idp_http)
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                response = session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    json=json,
                    auth=auth,
                    params=params,
                    timeout=(total, total),
                    stream=True,
                    allow_redirects=False,
                    proxies=self.setting("PROXIES"),
                    verify=self.setting("VERIFY_SSL", True),  # type: ignore[attr-defined]
                )
                with response:
                    body = bytearray()
                    for chunk in response.iter_content(_CHUNK):
                        body.extend(chunk)
                        checks.validate_response_size(len(body), cfg.max_response_bytes, label)
                response._content = bytes(body)  # consumed while streaming; kept for .json()/.text
                outcome["response"] = response
            except BaseException as error:  # handed to the calling thread
                outcome["error"] = error

        worker = threading.Thread(target=call, name="netbox-sso-idp-call", daemon=True)
        worker.start()
        worker.join(total)
        if worker.is_alive():
            idp_http.done(session, ok=False)  # closing it aborts the blocked read
            raise checks.ProviderTimeoutError(label, f"no complete answer within {total:g} s")
        error = outcome.get("error")
        idp_http.done(session, ok=error is None)
        if isinstance(error, requests.Timeout):
            raise checks.ProviderTimeoutError(label, f"no answer within {total:g} s") from error
        if isinstance(error, requests.ConnectionError):
            raise AuthConnectionError(self, f"cannot reach {label}") from error  # type: ignore[arg-type]  # mixin
        if isinstance(error, requests.RequestException):
            raise checks.ProviderUnavailableError(label, type(error).__name__) from error
        if error is not None:
            raise error
        response = outcome["response"]
        if response.status_code >= 300:
            refused = checks.ProviderUnavailableError(label, self._error_summary(response))
            refused.status = response.status_code
            raise refused
        return response

    @staticmethod
    def _error_summary(response: requests.Response) -> str:
        """HTTP status plus the OAuth `error` code when the body has one (RFC 6749 section 5.2)."""
        summary = f"HTTP {response.status_code}"
        try:
            error = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, str) and error.isascii() and len(error) < 64:
            summary += f" {error}"
        return summary

    def get_json(
        self,
        url: str,
        method: Literal["GET", "POST", "DELETE"] = "GET",
        headers: Any = None,
        data: dict | None = None,
        json: dict | None = None,
        auth: Any = None,
        params: dict | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        response = self.request(
            url, method=method, headers=headers, data=data, json=json, auth=auth, params=params, timeout=timeout
        )
        return checks.parse_json_object(response.content, _endpoint_label(url))
