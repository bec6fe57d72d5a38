"""GraphQL type of a mapping rule."""

from typing import TYPE_CHECKING, Annotated

import strawberry
from netbox.graphql.types import PrimaryObjectType, register_type

from netbox_sso.graphql.filters import BackendSettingsFilter, MappingRuleFilter
from netbox_sso.models import BackendSettings, MappingRule

if TYPE_CHECKING:
    from users.graphql.types import GroupType

__all__ = ("BackendSettingsType", "MappingRuleType")


@register_type(MappingRule, fields="__all__", filters=MappingRuleFilter, pagination=True)
class MappingRuleType(PrimaryObjectType):
    groups: list[Annotated["GroupType", strawberry.lazy("users.graphql.types")]]


@register_type(BackendSettings, fields="__all__", filters=BackendSettingsFilter, pagination=True)
class BackendSettingsType(PrimaryObjectType):
    pass
