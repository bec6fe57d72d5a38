"""SCIM resources in and out: parsing with scim2-models (RFC 7643 schemas), rendering rows as JSON.

scim2-models validates what the provider sends and absorbs the documented quirks of real clients:
Entra ID's capitalised PATCH ops ("Replace", "Add") and `active` as the string "False", the enterprise
extension URN, value filters in PATCH paths. What we store is the resource as the provider wrote it
(without id, meta, groups and any password), so a GET answers what the provider expects to read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    EnterpriseUser,
    Error,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    PatchOp,
    SCIMException,
    User,
)

UserResource = User[EnterpriseUser]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#: Attributes the server owns or never keeps (RFC 7643 3.1 id/meta; groups is read-only; passwords unused).
_NOT_STORED = frozenset({"id", "meta", "groups", "password", "members", "schemas"})


class SCIMValidationError(SCIMException):
    """A payload that does not follow the schema; the detail names the attribute (status 400)."""

    status = 400
    scim_type = "invalidValue"


def _validate(model: Any, payload: Any, ctx: Context) -> Any:
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="the request body must be a JSON object")
    try:
        return model.model_validate(payload, scim_ctx=ctx)
    except ValidationError as error:
        errors = Error.from_validation_errors(error)
        exc = SCIMValidationError(detail="; ".join(e.detail or "" for e in errors)[:1000])
        exc.scim_type = errors[0].scim_type or "invalidValue" if errors else "invalidValue"
        raise exc from error
    except SCIMException:
        raise
    except (TypeError, ValueError) as error:
        raise InvalidValueException(detail=str(error)[:500]) from error


def parse_user(payload: Any, *, replace: bool = False) -> Any:
    ctx = Context.RESOURCE_REPLACEMENT_REQUEST if replace else Context.RESOURCE_CREATION_REQUEST
    return _validate(UserResource, payload, ctx)


def parse_group(payload: Any, *, replace: bool = False) -> Group:
    ctx = Context.RESOURCE_REPLACEMENT_REQUEST if replace else Context.RESOURCE_CREATION_REQUEST
    return _validate(Group, payload, ctx)


def parse_patch(model: Any, payload: Any) -> PatchOp:
    return _validate(PatchOp[model], payload, Context.RESOURCE_PATCH_REQUEST)


_TYPED_VALUE_PATH = re.compile(r'^(?P<attr>[A-Za-z]+)\[type eq "(?P<type>[^"]*)"\]\.(?P<sub>[A-Za-z]+)$', re.IGNORECASE)


def add_missing_typed_values(payload: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Entra ID sets `emails[type eq "work"].value` (also phoneNumbers, addresses) with Add or Replace even
    when the user has no value of that type yet; RFC 7644 3.5.2 would answer noTarget. Such an operation
    becomes the add of a new value of that type, as Microsoft's SCIM guidance expects."""
    operations = []
    for operation in payload.get("Operations") or []:
        match = _TYPED_VALUE_PATH.match(str(operation.get("path") or "")) if isinstance(operation, dict) else None
        if match and str(operation.get("op", "")).casefold() in ("add", "replace"):
            attr = next((key for key in stored if key.casefold() == match["attr"].casefold()), match["attr"])
            values = stored.get(attr) or []
            if not any(
                isinstance(v, dict) and str(v.get("type", "")).casefold() == match["type"].casefold() for v in values
            ):
                new = {"type": match["type"], match["sub"]: operation.get("value")}
                if not values and attr.casefold() == "emails":
                    new["primary"] = True
                operation = {"op": "add", "path": attr, "value": [new]}
        operations.append(operation)
    return {**payload, "Operations": operations}


def document(resource: Any) -> dict[str, Any]:
    """The attributes we keep of a validated resource (JSON-ready, server-owned attributes dropped)."""
    data = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, mode="json")
    return {key: value for key, value in data.items() if key not in _NOT_STORED and value is not None}


def load_user(attributes: dict[str, Any]) -> Any:
    """A stored document back as a model (for PATCH): our own data, validated without a request context."""
    return UserResource.model_validate({"schemas": _user_schemas(attributes), **attributes})


def load_group(attributes: dict[str, Any]) -> Group:
    return Group.model_validate({"schemas": [GROUP_SCHEMA], **attributes})


def _user_schemas(attributes: dict[str, Any]) -> list[str]:
    return [USER_SCHEMA, ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in attributes else [USER_SCHEMA]


@dataclass(frozen=True)
class Account:
    """The NetBox account fields a user resource describes."""

    user_name: str
    external_id: str
    display_name: str
    email: str
    first_name: str
    last_name: str
    active: bool


def account(resource: Any) -> Account:
    if not resource.user_name:
        raise InvalidValueException(detail="userName is required")
    emails = resource.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    name = resource.name
    return Account(
        user_name=str(resource.user_name),
        external_id=str(resource.external_id or ""),
        display_name=str(resource.display_name or "")[:255],
        email=str(primary.value or "")[:254] if primary else "",
        first_name=str(getattr(name, "given_name", None) or "")[:150],
        last_name=str(getattr(name, "family_name", None) or "")[:150],
        active=resource.active is not False,
    )


def meta(kind: str, row: Any, base: str) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "created": row.created.isoformat(),
        "lastModified": row.last_modified.isoformat(),
        "location": f"{base}/{kind}s/{row.pk}",
        "version": etag(row),
    }


def etag(row: Any) -> str:
    return f'W/"{row.version}"'


def render_user(row: Any, base: str, groups: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    attributes = dict(row.attributes)
    body = {
        "schemas": _user_schemas(attributes),
        "id": str(row.pk),
        **attributes,
        "userName": row.user_name,
        "meta": meta("User", row, base),
    }
    if "active" in attributes:  # what the provider last said (absent: never sent, or removed by PATCH)
        body["active"] = row.active
    if groups:
        body["groups"] = [
            {"value": gid, "display": name, "$ref": f"{base}/Groups/{gid}", "type": "direct"} for gid, name in groups
        ]
    return body


def render_group(row: Any, base: str, members: list[tuple[str, str]] | None) -> dict[str, Any]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "id": str(row.pk),
        **row.attributes,
        "displayName": row.display_name,
        "meta": meta("Group", row, base),
    }
    if members is not None:
        body["members"] = [
            {"value": uid, "display": name, "$ref": f"{base}/Users/{uid}", "type": "User"} for uid, name in members
        ]
    return body
