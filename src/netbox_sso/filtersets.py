"""Filters of the SSO events and mapping rules lists and APIs."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from netbox.filtersets import BaseFilterSet, PrimaryModelFilterSet
from users.models import Group, User

from netbox_sso.choices import MappingEffectChoices, MappingMatchChoices, SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent

__all__ = ("BackendSettingsFilterSet", "MappingRuleFilterSet", "SSOEventFilterSet")


class SSOEventFilterSet(BaseFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    time = django_filters.DateTimeFromToRangeFilter()
    event = django_filters.MultipleChoiceFilter(choices=SSOEventTypeChoices)
    outcome = django_filters.MultipleChoiceFilter(choices=SSOOutcomeChoices)
    user_id = django_filters.ModelMultipleChoiceFilter(
        queryset=User.objects.all(), distinct=False, label=_("User (ID)")
    )
    user = django_filters.ModelMultipleChoiceFilter(
        field_name="user__username",
        queryset=User.objects.all(),
        distinct=False,
        to_field_name="username",
        label=_("User name"),
    )

    class Meta:
        model = SSOEvent
        fields = ("id", "event", "outcome", "reason", "backend", "username", "client")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(username__icontains=value)
            | Q(reason__icontains=value)
            | Q(message__icontains=value)
            | Q(backend__icontains=value)
        )


class MappingRuleFilterSet(PrimaryModelFilterSet):
    effect = django_filters.MultipleChoiceFilter(choices=MappingEffectChoices)
    match_type = django_filters.MultipleChoiceFilter(choices=MappingMatchChoices)
    group_id = django_filters.ModelMultipleChoiceFilter(
        field_name="groups", queryset=Group.objects.all(), label=_("NetBox group (ID)")
    )
    group = django_filters.ModelMultipleChoiceFilter(
        field_name="groups__name", queryset=Group.objects.all(), to_field_name="name", label=_("NetBox group (name)")
    )

    class Meta:
        model = MappingRule
        fields = ("id", "backend", "effect", "match_type", "value", "description")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(backend__icontains=value)
            | Q(value__icontains=value)
            | Q(description__icontains=value)
            | Q(groups__name__icontains=value)
        ).distinct()


class BackendSettingsFilterSet(PrimaryModelFilterSet):
    class Meta:
        model = BackendSettings
        fields = ("id", "backend", "groups_claim", "case", "missing_claim", "create_groups", "description")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        return queryset.filter(
            Q(backend__icontains=value) | Q(groups_claim__icontains=value) | Q(description__icontains=value)
        )
