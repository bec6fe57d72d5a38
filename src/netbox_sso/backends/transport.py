"""The backends' calls to the provider: the shared bounded call (`idp_http.bounded_request`) with the
backend's settings, sign-in metrics and typed errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from social_core.exceptions import AuthConnectionError

from netbox_sso import metrics
from netbox_sso.backends import idp_http
from netbox_sso.backends.idp_http import CallOptions, Method, endpoint_label
from netbox_sso.core import oidc_checks as checks

logger = logging.getLogger("netbox_sso")
#: social-core's `get_json(url, method, headers, data, json, auth, params, timeout)`.
_GET_JSON_POSITIONAL = ("method", "headers", "data", "json", "auth", "params", "timeout")


class ProviderTransport:
    """Part of `HardenedOIDCMixin` (netbox_sso.backends.hardening), which mixes it in."""

    if TYPE_CHECKING:  # social-core's backend and the rest of the mixin provide these

        def __getattr__(self, name: str) -> Any: ...

    def call_options(self, timeout: float | None = None) -> CallOptions:
        """The bounds of this backend's calls: its hardening settings, its PROXIES and VERIFY_SSL."""
        cfg = self.hardening
        return CallOptions(
            deadline=min(timeout, cfg.idp_timeout) if timeout else cfg.idp_timeout,
            max_bytes=cfg.max_response_bytes,
            allow_http=cfg.allow_insecure_http,
            proxies=self.setting("PROXIES"),
            verify=self.setting("VERIFY_SSL", True),
        )

    def request(
        self,
        url: str,
        *,
        method: Method = "GET",
        headers: Mapping[str, str | bytes] | None = None,
        data: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        auth: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One call to the provider (social-core's `request`, same arguments), counted in the sign-in metrics;
        HTTP errors as typed errors.

        The metrics label the endpoint from the discovery document when this request already read it, so
        userinfo at a path of the provider's choosing (PingFederate's /idp/userinfo.openid, Entra's on the
        Graph host) is `userinfo`, not `other`; the document is never fetched just to label a call.
        """
        endpoint = metrics.idp_endpoint(url, self.loaded_discovery())
        with metrics.idp_call(self.name, endpoint):
            try:
                response = idp_http.bounded_request(
                    url,
                    self.call_options(timeout),
                    method=method,
                    headers=headers,
                    data=data,
                    json=json,
                    auth=auth,
                    params=params,
                )
            except requests.ConnectionError as error:
                raise AuthConnectionError(self, f"cannot reach {endpoint_label(url)}") from error  # type: ignore[arg-type]  # mixin
            except requests.RequestException as error:
                raise checks.ProviderUnavailableError(endpoint_label(url), type(error).__name__) from error
            if response.status_code >= 300:
                refused = checks.ProviderUnavailableError(endpoint_label(url), self._error_summary(response))
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

    def get_json(self, url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """social-core's `get_json` (its arguments: method first, then request's), for JSON objects only."""
        response = self.request(url, **dict(zip(_GET_JSON_POSITIONAL, args, strict=False)), **kwargs)
        return checks.parse_json_object(response.content, endpoint_label(url))
