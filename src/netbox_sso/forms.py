"""The filter form of the SSO events list."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms.mixins import SavedFiltersMixin
from users.models import User
from utilities.forms import FilterForm
from utilities.forms.fields import DynamicModelMultipleChoiceField
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import DateTimePicker

from netbox_sso.choices import SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.models import SSOEvent

__all__ = ("SSOEventFilterForm",)


class SSOEventFilterForm(SavedFiltersMixin, FilterForm):
    model = SSOEvent
    fieldsets = (
        FieldSet("q", "filter_id"),
        FieldSet("time_after", "time_before", name=_("Time")),
        FieldSet("event", "outcome", "backend", "user_id", "username", name=_("Attributes")),
    )
    time_after = forms.DateTimeField(required=False, label=_("After"), widget=DateTimePicker())
    time_before = forms.DateTimeField(required=False, label=_("Before"), widget=DateTimePicker())
    event = forms.MultipleChoiceField(choices=SSOEventTypeChoices, required=False, label=_("Event"))
    outcome = forms.MultipleChoiceField(choices=SSOOutcomeChoices, required=False, label=_("Outcome"))
    backend = forms.CharField(required=False, label=_("Backend"))
    user_id = DynamicModelMultipleChoiceField(queryset=User.objects.all(), required=False, label=_("User"))
    username = forms.CharField(required=False, label=_("Username"))
