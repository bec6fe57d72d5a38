"""GraphQL filters of mapping rules."""

import strawberry_django
from netbox.graphql.filters import PrimaryModelFilter, register_filter
from strawberry_django import StrFilterLookup

from netbox_sso.models import BackendSettings, MappingRule

__all__ = ("BackendSettingsFilter", "MappingRuleFilter")


@register_filter(MappingRule, lookups=True)
class MappingRuleFilter(PrimaryModelFilter):
    backend: StrFilterLookup | None = strawberry_django.filter_field()
    effect: StrFilterLookup | None = strawberry_django.filter_field()
    match_type: StrFilterLookup | None = strawberry_django.filter_field()
    value: StrFilterLookup | None = strawberry_django.filter_field()


@register_filter(BackendSettings, lookups=True)
class BackendSettingsFilter(PrimaryModelFilter):
    backend: StrFilterLookup | None = strawberry_django.filter_field()
    groups_claim: StrFilterLookup | None = strawberry_django.filter_field()
