"""The SCIM 2.0 service provider over HTTP (RFC 7644), under /api/plugins/sso/scim/v2/.

One view per endpoint family. Every request: bearer token of a connection (401 otherwise, in SCIM's
error schema), the connection's rate limit (429), a bounded body (413), JSON parsed as
application/scim+json or application/json. Every error is a SCIM Error document with its status, never
an HTML page or an unhandled 500. NetBox 4.7 keeps no change log for users, groups or tokens (no
`to_objectchange` on those models), and a SCIM request has no NetBox user to attribute one to (the provider
is not a NetBox user), so SCIM's changes are recorded in the SSO audit trail (`scim_*` events) instead
(docs/provisioning.md, "NetBox's change log and SCIM").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, IntegrityError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import (
    Error,
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    SCIMException,
)

from netbox_sso import audit, metrics
from netbox_sso.scim import discovery, groups, tokens, users
from netbox_sso.scim.models import SCIMConnection

logger = logging.getLogger("netbox_sso.scim")

CONTENT_TYPE = "application/scim+json"
MAX_BODY = 1024 * 1024
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump(mode="json", exclude_none=True)
    return scim_response(body, status, headers)


def _from_exception(error: SCIMException) -> HttpResponse:
    body = error.to_error()
    return error_response(int(body.status or 400), body.detail or str(error), body.scim_type or None)


def _base(request: HttpRequest) -> str:
    path = request.path
    marker = "/scim/v2"
    return request.build_absolute_uri(path[: path.index(marker) + len(marker)])


def _body(request: HttpRequest) -> Any:
    if len(request.body) > MAX_BODY:
        raise _TooLarge()
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidSyntaxException(detail=f"the request body is not JSON: {error}") from None


class _TooLarge(SCIMException):
    status = 413
    _default_detail = f"request body larger than {MAX_BODY} bytes"


class _RateLimited(SCIMException):
    status = 429
    _default_detail = "too many requests for this SCIM connection; retry later"


def _int_param(request: HttpRequest, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValueException(detail=f"{name} must be an integer") from None
    return max(minimum, min(maximum, value))


def _project(body: dict[str, Any], request: HttpRequest) -> dict[str, Any]:
    """attributes / excludedAttributes (RFC 7644 3.4.2.5) on top-level attributes; id and schemas always stay."""
    wanted = {
        a.strip().rsplit(":", 1)[-1].split(".")[0].casefold()
        for a in request.GET.get("attributes", "").split(",")
        if a.strip()
    }
    excluded = {
        a.strip().rsplit(":", 1)[-1].split(".")[0].casefold()
        for a in request.GET.get("excludedAttributes", "").split(",")
        if a.strip()
    }
    always = {"id", "schemas"}
    result = {}
    for key, value in body.items():
        folded = key.rsplit(":", 1)[-1].casefold() if key.startswith("urn:") else key.casefold()
        if key in always or ((not wanted or folded in wanted or key.casefold() in wanted) and folded not in excluded):
            result[key] = value
    return result


def _search_params(request: HttpRequest) -> None:
    """POST .../.search (RFC 7644 3.4.3): the SearchRequest body's parameters, read like the query string's."""
    body = _body(request)
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="a SearchRequest body must be a JSON object")
    params = request.GET.copy()
    for key in ("filter", "startIndex", "count", "attributes", "excludedAttributes"):
        value = body.get(key)
        if value is not None:
            params[key] = ",".join(value) if isinstance(value, list) else str(value)
    request.GET = params


def _list(request: HttpRequest, search: Callable[..., tuple[int, list[dict[str, Any]]]], **kwargs: Any) -> HttpResponse:
    start = _int_param(request, "startIndex", 1, 1, 10**9)
    count = _int_param(request, "count", discovery.DEFAULT_COUNT, 0, discovery.MAX_RESULTS)
    total, resources = search(
        request.scim_connection, request.GET.get("filter") or None, start, count, _base(request), **kwargs
    )
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": [_project(r, request) for r in resources],
        }
    )


def _one(request: HttpRequest, body: dict[str, Any], status: int = 200) -> HttpResponse:
    headers = {"ETag": body["meta"]["version"]}
    if status == 201:
        headers["Location"] = body["meta"]["location"]
    return scim_response(_project(body, request), status, headers)


def scim_view(handler: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authentication, rate limit, error mapping and metrics around one SCIM handler."""

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        connection = tokens.authenticate(request.headers.get("Authorization"))
        if connection is None:
            metrics.count_scim_request("unauthenticated", request.method or "", 401)
            return error_response(
                401,
                "a valid SCIM bearer token is required (Authorization: Bearer ...)",
                headers={"WWW-Authenticate": 'Bearer realm="netbox-sso SCIM"'},
            )
        if tokens.over_rate_limit(connection):
            metrics.count_scim_request(connection.name, request.method or "", 429)
            return error_response(
                429,
                "too many requests for this SCIM connection; retry later",
                headers={"Retry-After": str(tokens.retry_after(time.time()))},
            )
        request.scim_connection = connection
        response = _handle(handler, request, connection, *args, **kwargs)
        metrics.count_scim_request(connection.name, request.method or "", response.status_code)
        return response

    return view


def _handle(
    handler: Callable[..., HttpResponse], request: HttpRequest, connection: SCIMConnection, *args: Any, **kwargs: Any
) -> HttpResponse:
    from netbox.context import current_request

    reset = current_request.set(None)  # no NetBox user to attribute changes to: the SSO audit trail records them
    try:
        return handler(request, connection, *args, **kwargs)
    except SCIMException as error:
        if error.status >= 400 and error.status not in (404, 412):
            audit.record(
                "scim_refused",
                request=request,
                backend=connection.backend,
                outcome="refused",
                reason=(error.scim_type or str(error.status))[:64],
                details={"connection": connection.name, "method": request.method, "detail": str(error)[:300]},
            )
        return _from_exception(error)
    except IntegrityError as error:  # a concurrent request created the same userName / link first
        logger.warning("netbox-sso SCIM (%s): conflict: %s", connection.name, type(error).__name__)
        return error_response(409, "the resource conflicts with one created concurrently; retry", "uniqueness")
    except DatabaseError:
        logger.exception("netbox-sso SCIM (%s): database error", connection.name)
        return error_response(503, "NetBox's database is unavailable; retry later", headers={"Retry-After": "30"})
    except Exception:
        logger.exception(
            "netbox-sso SCIM (%s): unexpected error on %s %s", connection.name, request.method, request.path
        )
        return error_response(500, "internal error while processing the SCIM request; see NetBox's log")
    finally:
        current_request.reset(reset)


def _method_not_allowed(request: HttpRequest) -> HttpResponse:
    return error_response(405, f"method {request.method} is not supported here")


# ---- discovery ------------------------------------------------------------------------------------------
@scim_view
def service_provider_config(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    if request.method != "GET":
        return _method_not_allowed(request)
    return scim_response(discovery.service_provider_config(_base(request)))


def _collection(request: HttpRequest, items: list[dict[str, Any]], item_id: str | None, kind: str) -> HttpResponse:
    if request.method != "GET":
        return _method_not_allowed(request)
    if item_id is not None:
        for item in items:
            if item["id"] == item_id:
                return scim_response(item)
        raise NotFoundException(detail=f"{kind} {item_id[:200]} not found")
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@scim_view
def resource_types(request: HttpRequest, connection: SCIMConnection, item_id: str | None = None) -> HttpResponse:
    return _collection(request, discovery.resource_types(_base(request)), item_id, "ResourceType")


@scim_view
def schemas(request: HttpRequest, connection: SCIMConnection, item_id: str | None = None) -> HttpResponse:
    return _collection(request, discovery.schemas(_base(request)), item_id, "Schema")


# ---- resources ------------------------------------------------------------------------------------------
@scim_view
def users_search(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    if request.method != "POST":
        return _method_not_allowed(request)
    _search_params(request)
    return _list(request, users.search)


@scim_view
def groups_search(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    if request.method != "POST":
        return _method_not_allowed(request)
    _search_params(request)
    return _list(request, groups.search, with_members=_with_members(request))


@scim_view
def root_search(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    return error_response(
        501, "searching several resource types at once is not supported: POST /Users/.search or /Groups/.search"
    )


@scim_view
def users_view(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    if request.method == "GET":
        return _list(request, users.search)
    if request.method == "POST":
        row = users.create(connection, _body(request), request=request)
        return _one(request, users.render(row, _base(request)), 201)
    return _method_not_allowed(request)


@scim_view
def user_view(request: HttpRequest, connection: SCIMConnection, scim_id: str) -> HttpResponse:
    if_match = request.headers.get("If-Match")
    if request.method == "GET":
        return _one(request, users.render(users.get(connection, scim_id), _base(request)))
    if request.method == "PUT":
        row = users.replace(connection, scim_id, _body(request), request=request, if_match=if_match)
    elif request.method == "PATCH":
        row = users.patch(connection, scim_id, _body(request), request=request, if_match=if_match)
    elif request.method == "DELETE":
        users.delete(connection, scim_id, request=request, if_match=if_match)
        return HttpResponse(status=204)
    else:
        return _method_not_allowed(request)
    return _one(request, users.render(row, _base(request)))


def _with_members(request: HttpRequest) -> bool:
    excluded = {a.strip().casefold() for a in request.GET.get("excludedAttributes", "").split(",")}
    wanted = {a.strip().casefold() for a in request.GET.get("attributes", "").split(",") if a.strip()}
    return "members" not in excluded and (not wanted or "members" in wanted)


@scim_view
def groups_view(request: HttpRequest, connection: SCIMConnection) -> HttpResponse:
    if request.method == "GET":
        return _list(request, groups.search, with_members=_with_members(request))
    if request.method == "POST":
        row = groups.create(connection, _body(request), request=request)
        return _one(request, groups.render(row, _base(request)), 201)
    return _method_not_allowed(request)


@scim_view
def group_view(request: HttpRequest, connection: SCIMConnection, scim_id: str) -> HttpResponse:
    if_match = request.headers.get("If-Match")
    if request.method == "GET":
        row = groups.get(connection, scim_id)
        return _one(request, groups.render(row, _base(request), with_members=_with_members(request)))
    if request.method == "PUT":
        row = groups.replace(connection, scim_id, _body(request), request=request, if_match=if_match)
    elif request.method == "PATCH":
        row = groups.patch(connection, scim_id, _body(request), request=request, if_match=if_match)
    elif request.method == "DELETE":
        groups.delete(connection, scim_id, request=request, if_match=if_match)
        return HttpResponse(status=204)
    else:
        return _method_not_allowed(request)
    return _one(request, groups.render(row, _base(request), with_members=_with_members(request)))


@scim_view
def not_found(request: HttpRequest, connection: SCIMConnection, rest: str = "") -> HttpResponse:
    return error_response(
        404, f"no SCIM endpoint {rest[:200]!r} (Users, Groups, ServiceProviderConfig, ResourceTypes, Schemas)"
    )
