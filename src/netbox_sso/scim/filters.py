"""SCIM filters (RFC 7644 3.4.2.2) as Django queries: parsed by scim2-models, translated here to `Q`.

Every filter becomes one SQL WHERE clause on indexed columns for the attributes provisioning clients
filter on (Entra ID: userName, externalId, displayName, members; Okta: userName, displayName, id), so a
list request costs the same few queries whatever the directory's size. Attribute names are
case-insensitive (RFC 7643 2.1); userName and displayName compare case-insensitively (caseExact false),
externalId and id exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import Q
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
MAX_FILTER_LENGTH = 2048

_TEXT_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}


class _Field:
    """How one SCIM attribute is compared in SQL."""

    def __init__(
        self,
        column: str,
        *,
        fold: bool = False,
        ci: bool = False,
        kind: str = "text",
        present: Callable[[], Q] | None = None,
    ) -> None:
        # fold: the column holds a case-folded copy; ci: compare case-insensitively in SQL.
        self.column, self.fold, self.ci, self.kind, self._present = column, fold, ci, kind, present

    def compare(self, op: CompareOperator, value: Any, attr: str) -> Q:
        if op == CompareOperator.ne:
            return ~self.compare(CompareOperator.eq, value, attr)
        if self.kind == "uuid":
            if op != CompareOperator.eq:
                raise InvalidFilterException(detail=f"{attr} supports only eq and ne")
            try:
                return Q(**{self.column: uuid.UUID(str(value))})
            except ValueError:
                return Q(pk__in=[])  # not an id of ours: matches nothing (never an error)
        if self.kind == "bool":
            if op != CompareOperator.eq or not isinstance(value, bool):
                raise InvalidFilterException(detail=f"{attr} is boolean: use eq true or eq false")
            return Q(**{self.column: value})
        if self.kind == "datetime":
            if op not in (
                CompareOperator.eq,
                CompareOperator.gt,
                CompareOperator.ge,
                CompareOperator.lt,
                CompareOperator.le,
            ):
                raise InvalidFilterException(detail=f"{attr} is a dateTime: use eq, gt, ge, lt or le")
            return Q(**{f"{self.column}__{_TEXT_LOOKUPS[op]}": value})
        if not isinstance(value, str):
            raise InvalidFilterException(detail=f"{attr} is a string: compare it with a quoted value")
        if self.kind == "json-list":  # emails.value and friends: one value in a list of objects
            if op == CompareOperator.eq:
                return Q(**{f"{self.column}__contains": [{"value": value}]})
            return Q(**{f"{self.column}__icontains": value})
        text = value.casefold() if self.fold else value
        lookup = _TEXT_LOOKUPS[op]
        if self.ci and op in _CI:
            lookup = f"i{lookup}"
        return Q(**{f"{self.column}__{lookup}": text})

    def present(self) -> Q:
        if self._present is not None:
            return self._present()
        if self.kind in ("uuid", "bool", "datetime"):
            return Q(**{f"{self.column}__isnull": False})
        if self.kind == "json-list":
            return Q(**{f"{self.column}__isnull": False}) & ~Q(**{self.column: []})
        return ~Q(**{self.column: ""})


_CI = frozenset({CompareOperator.eq, CompareOperator.co, CompareOperator.sw, CompareOperator.ew})
_META = {
    "meta.created": _Field("created", kind="datetime"),
    "meta.lastmodified": _Field("last_modified", kind="datetime"),
}

USER_FIELDS: dict[str, _Field] = {
    "id": _Field("id", kind="uuid"),
    "username": _Field("user_name_folded", fold=True),
    "externalid": _Field("external_id"),
    "displayname": _Field("display_name", ci=True),
    "active": _Field("active", kind="bool"),
    "emails": _Field("attributes__emails", kind="json-list"),
    "emails.value": _Field("attributes__emails", kind="json-list"),
    "name.givenname": _Field("attributes__name__givenName", ci=True),
    "name.familyname": _Field("attributes__name__familyName", ci=True),
    "groups": _Field("scim_groups__id", kind="uuid"),
    "groups.value": _Field("scim_groups__id", kind="uuid"),
    **_META,
}
GROUP_FIELDS: dict[str, _Field] = {
    "id": _Field("id", kind="uuid"),
    "displayname": _Field("display_name_folded", fold=True),
    "externalid": _Field("external_id"),
    "members": _Field("members__id", kind="uuid"),
    "members.value": _Field("members__id", kind="uuid"),
    **_META,
}


def _key(path: AttrPath, schema: str) -> str:
    uri = (path.uri or "").casefold()
    if uri and uri not in (schema, ENTERPRISE_SCHEMA):
        raise InvalidFilterException(detail=f"unknown schema {path.uri!r} in the filter")
    key = path.attr.casefold()
    return f"{key}.{path.sub_attr.casefold()}" if path.sub_attr else key


class _ToQuery(FilterVisitor[Q]):
    def __init__(self, fields: dict[str, _Field], schema: str) -> None:
        self.fields, self.schema = fields, schema

    def _field(self, path: AttrPath) -> tuple[str, _Field]:
        key = _key(path, self.schema)
        field = self.fields.get(key)
        if field is None:
            supported = ", ".join(sorted({name for name in self.fields if "." not in name or name.startswith("meta")}))
            raise InvalidFilterException(detail=f"filtering on {path} is not supported; filter on one of: {supported}")
        return key, field

    def visit_comparison(self, node: Comparison) -> Q:
        _, field = self._field(node.attr_path)
        return field.compare(node.op, node.value, str(node.attr_path))

    def visit_present(self, node: Present) -> Q:
        return self._field(node.attr_path)[1].present()

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        queries = [self.visit(term) for term in node.terms]
        combined = queries[0]
        for query in queries[1:]:
            combined = combined & query if node.op == LogicalOperator.and_ else combined | query
        return combined

    def visit_value_path(self, node: ValuePath) -> Q:
        # emails[value eq "x"], members[value eq "id"]: the sub-filter names attributes of the parent.
        parent = node.attr_path.attr
        inner = _rebase(node.val_filter, parent)
        return self.visit(inner)


def _rebase(node: Any, parent: str) -> Any:
    """members[value eq "x"] -> members.value eq "x" (the forms mean the same for our attributes)."""
    if isinstance(node, Comparison):
        return Comparison(AttrPath(parent, node.attr_path.attr), node.op, node.value)
    if isinstance(node, Present):
        return Present(AttrPath(parent, node.attr_path.attr))
    if isinstance(node, Not):
        return Not(_rebase(node.expr, parent))
    if isinstance(node, LogicalExpr):
        return LogicalExpr(node.op, tuple(_rebase(term, parent) for term in node.terms))
    raise InvalidFilterException(detail="nested value filters are not supported")


def parse(text: str) -> Any:
    """The filter's syntax tree; InvalidFilterException (400 invalidFilter) when it is not a SCIM filter."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail=f"filter longer than {MAX_FILTER_LENGTH} characters")
    try:
        return ScimFilter(text).ast
    except InvalidFilterException:
        raise
    except Exception as error:  # the grammar's own errors: a readable message, never a 500
        raise InvalidFilterException(detail=f"invalid filter: {error}") from error


def user_query(text: str) -> Q:
    return _ToQuery(USER_FIELDS, USER_SCHEMA).visit(parse(text))


def group_query(text: str) -> Q:
    return _ToQuery(GROUP_FIELDS, GROUP_SCHEMA).visit(parse(text))
