"""SCIM /Users: create, read, list, replace, patch and delete, each in one transaction.

A user resource describes one NetBox account (`accounts`); `active` false or DELETE deprovisions it and
true reactivates it (`lifecycle`). DELETE removes the SCIM resource and its group memberships; the NetBox
account stays, inactive, so its change history and ownership remain (an administrator may delete it).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from scim2_models import NotFoundException

from netbox_sso.scim import accounts, lifecycle
from netbox_sso.scim import resources as res
from netbox_sso.scim.filters import user_query
from netbox_sso.scim.models import SCIMConnection, SCIMMembership, SCIMUser


def get(connection: SCIMConnection, scim_id: str, *, lock: bool = False) -> SCIMUser:
    queryset = SCIMUser.objects.select_related("user", "connection")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    row = queryset.filter(connection=connection, pk=parse_id(scim_id, "User")).first()
    if row is None:
        raise NotFoundException(detail=f"User {scim_id} not found")
    return row


def parse_id(scim_id: str, kind: str) -> uuid.UUID:
    try:
        return uuid.UUID(scim_id)
    except ValueError:
        raise NotFoundException(detail=f"{kind} {scim_id[:100]} not found") from None


def groups_of(rows: list[SCIMUser]) -> dict[Any, list[tuple[str, str]]]:
    """SCIM user pk -> [(group id, displayName)] in one query."""
    result: dict[Any, list[tuple[str, str]]] = {row.pk: [] for row in rows}
    for user_id, group_id, name in SCIMMembership.objects.filter(scimuser_id__in=list(result)).values_list(
        "scimuser_id", "scimgroup_id", "scimgroup__display_name"
    ):
        result[user_id].append((str(group_id), name))
    return result


def render(row: SCIMUser, base: str) -> dict[str, Any]:
    return res.render_user(row, base, groups_of([row])[row.pk])


def search(
    connection: SCIMConnection, filter_text: str | None, start: int, count: int, base: str
) -> tuple[int, list[dict[str, Any]]]:
    queryset = SCIMUser.objects.filter(connection=connection)
    if filter_text:
        queryset = queryset.filter(user_query(filter_text)).distinct()
    total = queryset.count()
    rows = list(queryset.order_by("user_name_folded", "pk")[start - 1 : start - 1 + count]) if count else []
    groups = groups_of(rows)
    return total, [res.render_user(row, base, groups[row.pk]) for row in rows]


def _store(row: SCIMUser, resource: Any, account: res.Account) -> None:
    row.user_name = account.user_name
    row.user_name_folded = account.user_name.casefold()
    row.external_id = account.external_id
    row.display_name = account.display_name
    row.attributes = res.document(resource)


def create(connection: SCIMConnection, payload: Any, *, request: Any) -> SCIMUser:
    resource = res.parse_user(payload)
    account = res.account(resource)
    uid = accounts.social_uid(connection, account.external_id)
    with transaction.atomic():
        if SCIMUser.objects.filter(connection=connection, user_name_folded=account.user_name.casefold()).exists():
            raise accounts.UniquenessException(detail=f"userName {account.user_name!r} is already provisioned")
        user, created = accounts.find_or_create(connection, account, uid)
        if not created:
            accounts.update_account(user, account)
        row = SCIMUser(connection=connection, user=user, active=account.active)
        _store(row, resource, account)
        row.save()
        accounts.link(connection, user, uid)
        accounts.record(
            "scim_provisioned",
            connection,
            request=request,
            user=user,
            reason="created" if created else "adopted",
            details={"scim_id": str(row.pk), "linked": uid is not None},
        )
        if not account.active:
            lifecycle.deprovision(row, request=request, reason="created_inactive")
        elif not user.is_active:
            lifecycle.reactivate(row, request=request)
        accounts.apply_groups(connection, [row], request=request, new=frozenset({row.pk}) if created else frozenset())
    return row


def _save(connection: SCIMConnection, row: SCIMUser, resource: Any, *, request: Any) -> SCIMUser:
    """Write a replaced or patched resource back: account fields, link, activity (in the transaction)."""
    account = res.account(resource)
    uid = accounts.social_uid(connection, account.external_id)
    folded = account.user_name.casefold()
    if (
        folded != row.user_name_folded
        and SCIMUser.objects.filter(connection=connection, user_name_folded=folded).exclude(pk=row.pk).exists()
    ):
        raise accounts.UniquenessException(detail=f"userName {account.user_name!r} is already provisioned")
    was_active = row.active
    if not lifecycle.is_break_glass(row.user):
        accounts.update_account(row.user, account)
    accounts.link(connection, row.user, uid)
    _store(row, resource, account)
    row.active = account.active
    row.version += 1
    row.save()
    if was_active and not account.active:
        lifecycle.deprovision(row, request=request, reason="active_false")
    elif account.active and (not was_active or not row.user.is_active):
        lifecycle.reactivate(row, request=request)
    return row


def replace(connection: SCIMConnection, scim_id: str, payload: Any, *, request: Any, if_match: str | None) -> SCIMUser:
    resource = res.parse_user(payload, replace=True)
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        return _save(connection, row, resource, request=request)


def patch(connection: SCIMConnection, scim_id: str, payload: Any, *, request: Any, if_match: str | None) -> SCIMUser:
    res.parse_patch(res.UserResource, payload)  # the whole request is valid before anything is read or locked
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        stored = {**row.attributes, "userName": row.user_name}
        operations = res.parse_patch(res.UserResource, res.add_missing_typed_values(payload, stored))
        resource = res.load_user(stored)
        operations.patch(resource)
        return _save(connection, row, resource, request=request)


def delete(connection: SCIMConnection, scim_id: str, *, request: Any, if_match: str | None) -> None:
    with transaction.atomic():
        row = get(connection, scim_id, lock=True)
        check_version(row, if_match)
        if row.user.is_active or row.active:
            lifecycle.deprovision(row, request=request, reason="deleted")
        SCIMMembership.objects.filter(scimuser=row).delete()
        if not connection.dry_run:
            accounts.apply_groups(connection, [row], request=request)
        accounts.record(
            "scim_deprovisioned",
            connection,
            request=request,
            user=row.user,
            reason="resource_deleted",
            details={"scim_id": str(row.pk)},
            outcome="info",
        )
        row.delete()


def check_version(row: Any, if_match: str | None) -> None:
    """If-Match (RFC 7644 3.14): the request applies only to the version the client read."""
    if not if_match or if_match.strip() == "*":
        return
    from scim2_models import PreconditionFailedException

    wanted = {tag.strip() for tag in if_match.split(",")}
    if res.etag(row) not in wanted and res.etag(row).removeprefix("W/") not in wanted:
        raise PreconditionFailedException(detail=f"the resource changed (now version {res.etag(row)})")
