"""SCIM /Groups: the provider's groups and their members; every membership change re-maps the users it
touches (through the sign-in's rules), in the same transaction.

Membership is kept as rows (not inside the group's JSON), so the operations clients send for large
groups cost queries in proportion to the members they name, not to the group's size: Entra ID's
`{"op": "Add"|"Remove", "path": "members", "value": [...]}`, `members[value eq "..."]` removals, and Okta's
PUT of the whole group. Other PATCH operations (displayName, externalId) go through scim2-models.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from scim2_models import Group, InvalidValueException, NotFoundException, UniquenessException
from scim2_models.path import CompareOperator, Comparison, Path, ValuePath

from netbox_sso.scim import accounts
from netbox_sso.scim import resources as res
from netbox_sso.scim.filters import group_query
from netbox_sso.scim.models import SCIMConnection, SCIMGroup, SCIMMembership, SCIMUser
from netbox_sso.scim.users import check_version, parse_id

#: At most this many members named by one request (a provider pages larger changes).
MAX_MEMBERS_PER_REQUEST = 10000


def get(connection: SCIMConnection, scim_id: str, *, lock: bool = False) -> SCIMGroup:
    queryset = SCIMGroup.objects.select_for_update() if lock else SCIMGroup.objects
    row = queryset.filter(connection=connection, pk=parse_id(scim_id, "Group")).first()
    if row is None:
        raise NotFoundException(detail=f"Group {scim_id} not found")
    return row


def members_of(rows: list[SCIMGroup]) -> dict[Any, list[tuple[str, str]]]:
    through = SCIMGroup.members.through
    result: dict[Any, list[tuple[str, str]]] = {row.pk: [] for row in rows}
    for group_id, user_id, name, display in through.objects.filter(scimgroup_id__in=list(result)).values_list(
        "scimgroup_id", "scimuser_id", "scimuser__user_name", "display"
    ):
        result[group_id].append((str(user_id), display or name))
    return result


def render(row: SCIMGroup, base: str, *, with_members: bool = True) -> dict[str, Any]:
    return res.render_group(row, base, members_of([row])[row.pk] if with_members else None)


def search(
    connection: SCIMConnection, filter_text: str | None, start: int, count: int, base: str, *, with_members: bool
) -> tuple[int, list[dict[str, Any]]]:
    queryset = SCIMGroup.objects.filter(connection=connection)
    if filter_text:
        queryset = queryset.filter(group_query(filter_text)).distinct()
    total = queryset.count()
    rows = list(queryset.order_by("display_name_folded", "pk")[start - 1 : start - 1 + count]) if count else []
    members = members_of(rows) if with_members else {}
    return total, [res.render_group(row, base, members.get(row.pk) if with_members else None) for row in rows]


def _member_ids(connection: SCIMConnection, values: list[Any]) -> dict[Any, str]:
    """SCIM user pk -> display, for the members named; unknown users are refused (no half-applied membership)."""
    ids: dict[Any, str] = {}
    for value in values:
        raw = _value_of(value)
        display = value.get("display") if isinstance(value, dict) else getattr(value, "display", None)
        if not isinstance(raw, str) or not raw:
            raise InvalidValueException(detail="each member needs a value (the SCIM id of a User)")
        ids[parse_member(raw)] = str(display or "")[:255]
    if len(ids) > MAX_MEMBERS_PER_REQUEST:
        raise InvalidValueException(detail=f"more than {MAX_MEMBERS_PER_REQUEST} members in one request")
    known = set(SCIMUser.objects.filter(connection=connection, pk__in=list(ids)).values_list("pk", flat=True))
    unknown = set(ids) - known
    if unknown:
        raise InvalidValueException(
            detail=f"unknown member(s) {sorted(map(str, unknown))[:5]}: provision the "
            "users before adding them to a group"
        )
    return ids


def _value_of(member: Any) -> Any:
    """A member's value, whether scim2-models left it a dict or made it a GroupMember."""
    return member.get("value") if isinstance(member, dict) else getattr(member, "value", member)


def parse_member(raw: str) -> Any:
    try:
        return parse_id(raw, "User")
    except NotFoundException:
        raise InvalidValueException(detail=f"member {raw[:100]!r} is not a User id of this service") from None


def _store(row: SCIMGroup, resource: Group) -> None:
    if not resource.display_name:
        raise InvalidValueException(detail="displayName is required")
    row.display_name = str(resource.display_name)[:255]
    row.display_name_folded = row.display_name.casefold()
    row.external_id = str(resource.external_id or "")[:255]
    row.attributes = res.document(resource)


def _unique(connection: SCIMConnection, row: SCIMGroup) -> None:
    clash = SCIMGroup.objects.filter(connection=connection, display_name_folded=row.display_name_folded)
    if row.pk:
        clash = clash.exclude(pk=row.pk)
    if clash.exists():
        raise UniquenessException(detail=f"a group named {row.display_name!r} already exists")


def _remap(connection: SCIMConnection, user_ids: set[Any], *, request: Any) -> None:
    if user_ids:
        rows = list(SCIMUser.objects.filter(pk__in=user_ids).select_related("user"))
        accounts.apply_groups(connection, rows, request=request)


def _add_members(row: SCIMGroup, members: dict[Any, str]) -> set[Any]:
    """Add (or re-display) members in one statement; returns the users that were not members before."""
    current = set(
        SCIMMembership.objects.filter(scimgroup=row, scimuser_id__in=list(members)).values_list(
            "scimuser_id", flat=True
        )
    )
    SCIMMembership.objects.bulk_create(
        [SCIMMembership(scimgroup=row, scimuser_id=pk, display=display) for pk, display in members.items()],
        update_conflicts=True,
        unique_fields=("scimgroup", "scimuser"),
        update_fields=("display",),
    )
    return set(members) - current


def _remove_members(row: SCIMGroup, ids: set[Any]) -> set[Any]:
    SCIMMembership.objects.filter(scimgroup=row, scimuser_id__in=list(ids)).delete()
    return ids


def _set_members(row: SCIMGroup, wanted: dict[Any, str]) -> set[Any]:
    current = set(SCIMMembership.objects.filter(scimgroup=row).values_list("scimuser_id", flat=True))
    removed = _remove_members(row, current - set(wanted)) if current - set(wanted) else set()
    return _add_members(row, wanted) | removed


def create(connection: SCIMConnection, payload: Any, *, request: Any) -> SCIMGroup:
    resource = res.parse_group(payload)
    with transaction.atomic():
        row = SCIMGroup(connection=connection)
        _store(row, resource)
        _unique(connection, row)
        ids = _member_ids(connection, resource.members or [])
        row.save()
        if ids:
            _add_members(row, ids)
        accounts.record(
            "scim_provisioned",
            connection,
            request=request,
            username=row.display_name,
            reason="group_created",
            details={"scim_id": str(row.pk), "members": len(ids)},
        )
        _remap(connection, set(ids), request=request)
    return row


def replace(connection: SCIMConnection, scim_id: str, payload: Any, *, request: Any, if_match: str | None) -> SCIMGroup:
    resource = res.parse_group(payload, replace=True)
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        key_before = (row.display_name, row.external_id)
        _store(row, resource)
        _unique(connection, row)
        row.version += 1
        row.save()
        # Okta's PUT carries the whole membership; a PUT without "members" leaves it as it is.
        changed = set()
        if resource.members is not None:
            changed = _set_members(row, _member_ids(connection, resource.members))
        if key_before != (row.display_name, row.external_id):  # the key the rules read changed: every member
            changed |= set(row.members.values_list("pk", flat=True))
        _remap(connection, changed, request=request)
    return row


def _is_members_path(path: Any) -> tuple[bool, Any]:
    """(targets members, the member id when the path is members[value eq "..."])."""
    if not path or not isinstance(path, str):
        return False, None
    text = path
    if text.casefold() in ("members", "urn:ietf:params:scim:schemas:core:2.0:group:members"):
        return True, None
    if not text.casefold().startswith(("members[", "urn:ietf:params:scim:schemas:core:2.0:group:members[")):
        return False, None
    try:
        node = Path(text).ast
    except Exception as error:
        raise InvalidValueException(detail=f"invalid path {text!r}: {error}") from None
    if (
        isinstance(node, ValuePath)
        and isinstance(node.val_filter, Comparison)
        and node.val_filter.attr_path.attr.casefold() == "value"
        and node.val_filter.op == CompareOperator.eq
        and node.sub_attr is None
    ):
        return True, node.val_filter.value
    raise InvalidValueException(detail=f'unsupported members path {text!r}: use members or members[value eq "id"]')


PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _operations(payload: Any) -> list[dict[str, Any]]:
    """The raw operations of a PatchOp. Member operations are read here, before scim2-models validates the
    rest, because Entra ID removes members with a value list (`"op": "Remove", "path": "members", "value":
    [...]`), which RFC 7644 does not define and scim2-models rightly refuses."""
    if not isinstance(payload, dict) or PATCH_SCHEMA not in (payload.get("schemas") or []):
        raise InvalidValueException(detail=f"a PATCH body is a PatchOp: schemas must contain {PATCH_SCHEMA}")
    operations = payload.get("Operations", payload.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise InvalidValueException(detail="Operations must be a non-empty list")
    for operation in operations:
        op = operation.get("op") if isinstance(operation, dict) else None
        if not isinstance(op, str) or op.casefold() not in ("add", "remove", "replace"):
            raise InvalidValueException(detail="each operation needs op: add, remove or replace")
    return operations


def patch(connection: SCIMConnection, scim_id: str, payload: Any, *, request: Any, if_match: str | None) -> SCIMGroup:
    operations = _operations(payload)
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        key_before = (row.display_name, row.external_id)
        other = []
        changed: set[Any] = set()
        for operation in operations:
            op, path, value = operation["op"].casefold(), operation.get("path"), operation.get("value")
            members_path, member = _is_members_path(path)
            if not path and isinstance(value, dict) and any(k.casefold() == "members" for k in value):
                members = next(v for k, v in value.items() if k.casefold() == "members")
                rest = {k: v for k, v in value.items() if k.casefold() != "members"}
                changed |= _member_op(connection, row, op, members, None)
                if rest:
                    other.append({"op": op, "value": rest})
            elif members_path:
                changed |= _member_op(connection, row, op, value, member)
            else:
                other.append({**operation, "op": op})
        if other:
            resource = res.load_group({**row.attributes, "displayName": row.display_name})
            res.parse_patch(Group, {"schemas": [PATCH_SCHEMA], "Operations": other}).patch(resource)
            _store(row, resource)
            _unique(connection, row)
        row.version += 1
        row.save()
        if key_before != (row.display_name, row.external_id):
            changed |= set(row.members.values_list("pk", flat=True))
        _remap(connection, changed, request=request)
    return row


def _member_op(connection: SCIMConnection, row: SCIMGroup, op: str, value: Any, member: Any) -> set[Any]:
    values = value if isinstance(value, list) else ([value] if value else [])
    if member is not None:  # members[value eq "id"]
        if op != "remove":
            raise InvalidValueException(detail="members[value eq ...] is supported with remove only")
        return _remove_members(row, {parse_member(str(member))})
    if op == "add":
        return _add_members(row, _member_ids(connection, values))
    if op == "replace":
        return _set_members(row, _member_ids(connection, values))
    if op == "remove":
        if not values:  # remove all members
            return _set_members(row, {})
        return _remove_members(row, {parse_member(str(_value_of(v))) for v in values})
    raise InvalidValueException(detail=f"unknown PATCH op {op!r}")


def delete(connection: SCIMConnection, scim_id: str, *, request: Any, if_match: str | None) -> None:
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        members = set(row.members.values_list("pk", flat=True))
        name = row.display_name
        row.delete()
        accounts.record(
            "scim_provisioned",
            connection,
            request=request,
            username=name,
            reason="group_deleted",
            details={"scim_id": scim_id, "members": len(members)},
        )
        _remap(connection, members, request=request)
