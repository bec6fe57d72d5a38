"""The plugin's GraphQL queries (PluginConfig.graphql_schema)."""

import strawberry
import strawberry_django

from netbox_sso.graphql.types import BackendSettingsType, MappingRuleType


@strawberry.type(name="Query")
class NetBoxSSOQuery:
    mapping_rule: MappingRuleType = strawberry_django.field()
    mapping_rule_list: list[MappingRuleType] = strawberry_django.field()
    backend_settings: BackendSettingsType = strawberry_django.field()
    backend_settings_list: list[BackendSettingsType] = strawberry_django.field()


schema = [NetBoxSSOQuery]
