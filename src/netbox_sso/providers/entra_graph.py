"""Entra ID groups overage: resolve the user's groups through Microsoft Graph.

When a user is in more than 200 groups, Entra ID leaves `groups` out of the ID token and sends
`_claim_names`/`_claim_sources` (or `hasgroups`) instead. We then ask Graph for the user's transitive
memberships, `GET /v1.0/me/transitiveMemberOf?$select=id`, following every `@odata.nextLink`, and keep
the groups (directory roles and administrative units also appear there; `@odata.type` tells them apart).

Why transitiveMemberOf rather than checkMemberGroups: the mirror semantics, group patterns and
`netbox-sso explain` need the user's whole set of groups, not a yes/no for the IDs the rules name;
checkMemberGroups answers at most 20 IDs per call (a rule set of 200 Entra groups would need 10 calls
per login, every login), whereas transitiveMemberOf returns up to 999 groups per page in one call, and it
is transitive like the `groups` claim it replaces (memberOf is not). It needs only the delegated
`User.Read` permission (`GroupMember.Read.All` is not required for /me).

Graph's address: the `graph_url` setting, else the discovery document's `msgraph_host` (national clouds).
Every page goes through the Entra backend's bounded transport, like every call to the provider: https
rule, total deadline (`idp_timeout`), streamed size cap (`max_response_bytes`), proxies, metrics.

Failures fail closed: a refused, slow or malformed Graph answer is a `GraphError` whose message says
what to fix; the login is refused with it, never continued as if the user had no groups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import requests
from social_core.exceptions import AuthConnectionError

from netbox_sso.backends import idp_http
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.rules import BackendRules
from netbox_sso.core.settings_schema import DEFAULT_GRAPH_URL

PAGE_SIZE = 999  # Graph's maximum $top for directory objects
MAX_PAGES = 50  # 49,950 groups: far above Entra's limits; bounds a misbehaving endpoint
TIMEOUT = 10.0  # seconds per page, without a hardened backend (with one: its idp_timeout)
MAX_PAGE_BYTES = 2_000_000
GROUP_TYPE = "#microsoft.graph.group"


class GraphError(Exception):
    """Graph could not list the user's groups; the message names the cause and the fix."""


#: A bare host name (with an optional port), as Entra's discovery document gives `msgraph_host`.
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$")


def graph_url(backend: Any = None) -> str:
    """Graph's base URL: the `graph_url` setting, else the discovery document's `msgraph_host`.

    Entra's discovery document names the Graph host of the tenant's cloud (graph.microsoft.com,
    graph.microsoft.us, microsoftgraph.chinacloudapi.cn), so national clouds work without the setting.
    """
    from netbox_sso.backends.config import plugin_values

    configured = plugin_values()["graph_url"]
    if configured:
        return str(configured)
    host = None
    if backend is not None and hasattr(backend, "oidc_config"):
        try:
            host = backend.oidc_config().get("msgraph_host")
        except Exception:  # discovery failing here is reported by the sign-in itself; Graph's default applies
            host = None
    if isinstance(host, str) and _HOST.match(host):
        return f"https://{host}"
    return DEFAULT_GRAPH_URL


def transitive_group_ids(
    access_token: str, *, base_url: str, verify: bool | str = True, backend: Any = None
) -> list[str]:
    """All group object IDs the signed-in user is a transitive member of.

    With a hardened backend, every page goes through its transport (https rule, total deadline, streamed
    size cap, proxies, metrics), like every other call to the provider; without one, through the same
    bounded call (idp_http.bounded_request) with Graph's own deadline and size cap.
    """
    url: str | None = f"{base_url}/v1.0/me/transitiveMemberOf"
    params: dict[str, str] | None = {"$select": "id", "$top": str(PAGE_SIZE)}
    ids: list[str] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return ids
        if backend is not None and hasattr(backend, "request"):
            page = _get_page_through(backend, url, params, access_token)
        else:
            page = _get_page(url, params, access_token, verify)
        params = None  # nextLink carries the query
        values = page.get("value")
        if not isinstance(values, list):
            raise GraphError("Microsoft Graph answered transitiveMemberOf without a 'value' list")
        ids.extend(
            str(item["id"])
            for item in values
            if isinstance(item, Mapping) and item.get("id") and item.get("@odata.type", GROUP_TYPE) == GROUP_TYPE
        )
        next_link = page.get("@odata.nextLink")
        url = str(next_link) if next_link else None
    raise GraphError(f"Microsoft Graph returned more than {MAX_PAGES} pages of groups; refusing to continue")


def _refused(status: int) -> GraphError:
    return GraphError(
        f"Microsoft Graph refused to list the user's groups (HTTP {status}): the access token "
        "must be for Graph with the delegated User.Read permission; with azuread-oauth2 set "
        "SOCIAL_AUTH_AZUREAD_OAUTH2_RESOURCE = 'https://graph.microsoft.com/' and grant User.Read"
    )


def _page_object(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError as error:
        raise GraphError("Microsoft Graph's answer is not JSON") from error
    if not isinstance(body, dict):
        raise GraphError("Microsoft Graph's answer is not a JSON object")
    return body


def _get_page_through(backend: Any, url: str, params: dict[str, str] | None, access_token: str) -> dict[str, Any]:
    """One page through the backend's transport (its bounds, proxies, metrics); errors become GraphErrors."""
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    return _page(lambda: backend.request(url, headers=headers, params=params))


def _get_page(url: str, params: dict[str, str] | None, access_token: str, verify: bool | str) -> dict[str, Any]:
    """One page without a hardened backend: the same bounded call (idp_http), with Graph's own bounds."""
    options = idp_http.CallOptions(deadline=TIMEOUT, max_bytes=MAX_PAGE_BYTES, verify=verify)
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

    def call() -> requests.Response:
        response = idp_http.bounded_request(url, options, headers=headers, params=params)
        if response.status_code >= 300:
            refused = checks.ProviderUnavailableError(idp_http.endpoint_label(url), f"HTTP {response.status_code}")
            refused.status = response.status_code
            raise refused
        return response

    return _page(call)


def _page(call: Callable[[], requests.Response]) -> dict[str, Any]:
    """One page's JSON object; every way the call fails becomes a GraphError naming the cause and the fix."""
    try:
        response = call()
    except checks.ProviderTimeoutError as error:
        raise GraphError("Microsoft Graph did not answer in time while resolving the groups overage") from error
    except checks.ProviderUnavailableError as error:
        if error.status in (401, 403):
            raise _refused(error.status) from error
        if error.status is not None:
            raise GraphError(
                f"Microsoft Graph answered HTTP {error.status} while resolving the groups overage"
            ) from error
        raise GraphError(
            f"Microsoft Graph could not be reached to resolve the groups overage ({error.reason})"
        ) from error
    except checks.ResponseTooLargeError as error:
        raise GraphError("Microsoft Graph's answer exceeds the size limit") from error
    except checks.InsecureEndpointError as error:
        raise GraphError(
            f"Microsoft Graph's address must use https ({error.reason}); fix PLUGINS_CONFIG['netbox_sso']['graph_url']"
        ) from error
    except (AuthConnectionError, requests.RequestException) as error:
        raise GraphError(
            f"Microsoft Graph could not be reached to resolve the groups overage ({type(error).__name__})"
        ) from error
    return _page_object(response.content)


def resolve_overage(
    backend: Any,
    rules: BackendRules,
    response: Mapping[str, Any],
    reading: GroupsReading,
    sources: Mapping[str, Mapping[str, Any] | None],
) -> GroupsReading:
    """Re-read the groups with Graph's answer added as the 'graph' source."""
    access_token = response.get("access_token")
    if not access_token:
        raise GraphError("the token response carries no access token to call Microsoft Graph with")
    verify = backend.setting("VERIFY_SSL", True) if hasattr(backend, "setting") else True
    ids = transitive_group_ids(str(access_token), base_url=graph_url(backend), verify=verify, backend=backend)
    resolved = read_groups(rules, {**sources, "graph": {"groups": ids}})
    return replace(resolved, overage=True) if resolved.values is not None else resolved
