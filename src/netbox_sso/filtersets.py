"""Filters of the SSO events list and API: user, backend, outcome, event, time range, free text."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from netbox.filtersets import BaseFilterSet
from users.models import User

from netbox_sso.choices import SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.models import SSOEvent

__all__ = ("SSOEventFilterSet",)


class SSOEventFilterSet(BaseFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    time = django_filters.DateTimeFromToRangeFilter()
    event = django_filters.MultipleChoiceFilter(choices=SSOEventTypeChoices)
    outcome = django_filters.MultipleChoiceFilter(choices=SSOOutcomeChoices)
    user_id = django_filters.ModelMultipleChoiceFilter(queryset=User.objects.all(), distinct=False,
                                                       label=_("User (ID)"))
    user = django_filters.ModelMultipleChoiceFilter(field_name="user__username", queryset=User.objects.all(),
                                                    distinct=False, to_field_name="username",
                                                    label=_("User name"))

    class Meta:
        model = SSOEvent
        fields = ("id", "event", "outcome", "reason", "backend", "username", "client")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        return queryset.filter(Q(username__icontains=value) | Q(reason__icontains=value)
                               | Q(message__icontains=value) | Q(backend__icontains=value))
