"""Forms: the SSO events filter; mapping rules (edit, import, filter), checked by the configuration parser."""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import PrimaryModelFilterSetForm, PrimaryModelForm, PrimaryModelImportForm
from netbox.forms.mixins import SavedFiltersMixin
from users.models import Group, User
from utilities.forms import FilterForm
from utilities.forms.fields import (
    CommentField,
    CSVChoiceField,
    DynamicModelMultipleChoiceField,
    TagFilterField,
)
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import DateTimePicker

from netbox_sso.choices import MappingEffectChoices, MappingMatchChoices, SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.core.decision import CurrentUser
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord, shape_problems
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent
from netbox_sso.rule_validation import check_change, check_settings
from netbox_sso.try_rules import event_claims, parse_claims

__all__ = (
    "BackendSettingsFilterForm",
    "BackendSettingsForm",
    "BackendSettingsImportForm",
    "MappingRuleFilterForm",
    "MappingRuleForm",
    "MappingRuleImportForm",
    "SSOEventFilterForm",
    "TryRulesForm",
)


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


# ---- mapping rules ------------------------------------------------------------------------------------------


def backend_choices(current: str = "") -> list[tuple[str, str]]:
    """Enabled social-auth backends, configured ones and those with saved rules (the current value kept)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from netbox_sso.conf import file_config

    names: set[str] = set()
    for path in getattr(settings, "AUTHENTICATION_BACKENDS", ()):
        with contextlib.suppress(Exception):
            name = getattr(import_string(path), "name", "")
            if name and path.split(".")[0] in ("social_core", "netbox_sso"):
                names.add(name)
    names.update(file_config().backends)
    with contextlib.suppress(Exception):
        names.update(MappingRule.objects.values_list("backend", flat=True).distinct())
        names.update(BackendSettings.objects.values_list("backend", flat=True))
    if current:
        names.add(current)
    return [(name, name) for name in sorted(names)]


def split_names(value: Any) -> list[str]:
    """Group names from a list (YAML/JSON import, API) or a comma-separated string (CSV, form)."""
    if value in (None, ""):
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


class RuleCheckMixin:
    """Runs the rule set, as it would be after this save, through the configuration parser."""

    rule_warnings: tuple[str, ...] = ()

    def check_rule(self, record: RuleRecord) -> None:
        check = check_change(record, replaces=self.instance.pk)  # type: ignore[attr-defined]
        for field_name, message in check.errors:
            self.add_error(field_name if field_name in self.fields else None, message)  # type: ignore[attr-defined]
        if check.ok and check.superuser_risk and not self.cleaned_data.get("confirm_superuser_change"):  # type: ignore[attr-defined]
            self.add_error(  # type: ignore[attr-defined]
                None
                if "confirm_superuser_change" not in self.fields  # type: ignore[attr-defined]
                else "confirm_superuser_change",
                check.superuser_risk + " Tick the confirmation to save.",
            )
        self.rule_warnings = check.warnings

    def report_warnings(self) -> None:
        """The parser's warnings for the saved rule set (valid but probably unintended) as page messages."""
        from django.contrib import messages
        from netbox.context import current_request

        request = current_request.get()
        if request is not None:
            for warning in self.rule_warnings:
                messages.warning(request, warning)


class MappingRuleForm(RuleCheckMixin, PrimaryModelForm):
    backend = forms.ChoiceField(
        label=_("Backend"), choices=(), help_text=_("The social-auth backend whose logins this rule maps")
    )
    value = forms.CharField(
        label=_("IdP value"),
        required=False,
        max_length=512,
        help_text=_(
            "Exact group name or object ID, a glob (team-*) or a regex (^site-[a-z]+$), "
            "as the provider sends it; empty for default groups"
        ),
    )
    groups = DynamicModelMultipleChoiceField(queryset=Group.objects.all(), required=False, label=_("NetBox groups"))
    new_groups = forms.CharField(
        label=_("Create groups"),
        required=False,
        help_text=_("Names of NetBox groups to create and assign (comma-separated)"),
    )
    confirm_superuser_change = forms.BooleanField(
        label=_("Confirm superuser change"),
        required=False,
        help_text=_("Required when this change takes superuser away from every SSO account that has it today"),
    )
    comments = CommentField()

    fieldsets = (
        FieldSet("backend", "effect", "match_type", "value", "description", "tags", name=_("Rule")),
        FieldSet("groups", "new_groups", name=_("NetBox groups")),
        FieldSet("confirm_superuser_change", name=_("Confirmation")),
    )

    class Meta:
        model = MappingRule
        fields = ("backend", "effect", "match_type", "value", "groups", "description", "owner", "comments", "tags")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.initial.get("backend") or getattr(self.instance, "backend", "") or ""
        self.fields["backend"].choices = backend_choices(str(current))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        new = split_names(data.get("new_groups"))
        names = {group.name for group in data.get("groups") or ()} | set(new)
        self.new_group_names = [name for name in new if not Group.objects.filter(name=name).exists()]
        self.check_rule(
            RuleRecord(
                str(data.get("backend") or ""),
                str(data.get("effect") or ""),
                str(data.get("match_type") or ""),
                str(data.get("value") or ""),
                tuple(sorted(names)),
                self.instance.pk,
            )
        )
        return data

    def save(self, *args: Any, **kwargs: Any) -> MappingRule:
        instance = super().save(*args, **kwargs)
        names = split_names(self.cleaned_data.get("new_groups"))
        if names:
            groups = [Group.objects.get_or_create(name=name)[0] for name in names]
            instance.groups.add(*groups)
        self.report_warnings()
        return instance


class GroupNamesField(forms.Field):
    """NetBox group names: a list (YAML, JSON) or comma-separated text (CSV)."""

    def to_python(self, value: Any) -> list[str]:
        return split_names(value)


class MappingRuleImportForm(RuleCheckMixin, PrimaryModelImportForm):
    backend = forms.CharField(label=_("Backend"), max_length=64, help_text=_("social-auth backend name, e.g. oidc"))
    effect = CSVChoiceField(
        label=_("Effect"),
        choices=MappingEffectChoices,
        required=False,
        help_text=_("groups (default), superuser, required or default"),
    )
    match_type = CSVChoiceField(
        label=_("Match type"),
        choices=MappingMatchChoices,
        required=False,
        help_text=_("exact (default), glob or regex"),
    )
    groups = GroupNamesField(
        label=_("NetBox groups"),
        required=False,
        help_text=_("NetBox group names (comma-separated in CSV, a list in YAML/JSON)"),
    )
    create_groups = forms.BooleanField(
        label=_("Create groups"),
        required=False,
        help_text=_("Create NetBox groups named in this row that do not exist"),
    )
    confirm_superuser_change = forms.BooleanField(label=_("Confirm superuser change"), required=False)

    class Meta:
        model = MappingRule
        fields = ("backend", "effect", "match_type", "value", "description", "owner", "comments", "tags")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        data["effect"] = data.get("effect") or MappingEffectChoices.GROUPS
        data["match_type"] = data.get("match_type") or MappingMatchChoices.EXACT
        self.instance.effect, self.instance.match_type = data["effect"], data["match_type"]
        names = data.get("groups") or []
        existing = set(Group.objects.filter(name__in=names).values_list("name", flat=True))
        missing = [name for name in names if name not in existing]
        if missing and not data.get("create_groups"):
            self.add_error(
                "groups",
                f"NetBox group(s) {', '.join(map(repr, missing))} do not exist: create them "
                "first, or set create_groups to true in this row to create them",
            )
            return data
        self.check_rule(
            RuleRecord(
                str(data.get("backend") or ""),
                data["effect"],
                data["match_type"],
                str(data.get("value") or ""),
                tuple(sorted(set(names))),
                self.instance.pk,
            )
        )
        return data

    def _post_clean(self) -> None:
        super()._post_clean()
        # `groups` holds names here (set in save()), not the primary keys NetBox's M2M handling expects.
        getattr(self.instance, "_m2m_values", {}).pop("groups", None)

    def save(self, *args: Any, **kwargs: Any) -> MappingRule:
        instance = super().save(*args, **kwargs)
        names = self.cleaned_data.get("groups") or []
        instance.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
        self.report_warnings()
        return instance


class MappingRuleFilterForm(PrimaryModelFilterSetForm):
    model = MappingRule
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet("backend", "effect", "match_type", "value", "group_id", name=_("Rule")),
        FieldSet("owner_group_id", "owner_id", name=_("Ownership")),
    )
    backend = forms.CharField(required=False, label=_("Backend"))
    effect = forms.MultipleChoiceField(choices=MappingEffectChoices, required=False, label=_("Effect"))
    match_type = forms.MultipleChoiceField(choices=MappingMatchChoices, required=False, label=_("Match type"))
    value = forms.CharField(required=False, label=_("IdP value"))
    group_id = DynamicModelMultipleChoiceField(queryset=Group.objects.all(), required=False, label=_("NetBox group"))
    tag = TagFilterField(model)


class TryRulesForm(forms.Form):
    """Claims (pasted, or a captured login), the user as they are now, and an optional unsaved edit."""

    backend = forms.ChoiceField(label=_("Backend"), choices=())
    claims = forms.CharField(
        label=_("Claims JSON"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_('{"id_token": {...}, "userinfo": {...}} or the flat ID-token claims'),
    )
    event = forms.ModelChoiceField(
        queryset=SSOEvent.objects.none(),
        required=False,
        label=_("Captured login"),
        help_text=_("A login captured with debug_claims (used when no claims are pasted)"),
    )
    username = forms.CharField(label=_("Username"), required=False, initial="sso-user")
    user_groups = forms.CharField(
        label=_("NetBox groups now"), required=False, help_text=_("The user's current NetBox groups (comma-separated)")
    )
    is_superuser = forms.BooleanField(label=_("Superuser now"), required=False)
    is_new = forms.BooleanField(label=_("First login"), required=False)
    edit_effect = forms.ChoiceField(
        label=_("Effect"), required=False, choices=(("", "---------"), *MappingEffectChoices)
    )
    edit_match_type = forms.ChoiceField(label=_("Match type"), required=False, choices=MappingMatchChoices)
    edit_value = forms.CharField(label=_("IdP value"), required=False, max_length=512)
    edit_groups = forms.CharField(label=_("NetBox groups"), required=False, help_text=_("comma-separated"))
    replaces = forms.IntegerField(
        label=_("In place of rule (ID)"), required=False, min_value=1, help_text=_("Empty: the edit is a new rule")
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["backend"].choices = backend_choices()
        captured = (
            SSOEvent.objects.restrict(user, "view")
            .filter(event=SSOEventTypeChoices.CLAIMS_CAPTURED)
            .order_by("-time", "-pk")
        )
        field = self.fields["event"]
        field.queryset = captured  # validation looks the chosen one up here (unsliced)
        latest = [
            (event.pk, f"{event.time:%Y-%m-%d %H:%M:%S} {event.username} ({event.backend})") for event in captured[:50]
        ]
        field.choices = [("", "---------"), *latest]
        self.sources: dict[str, Any] = {}
        self.edit: RuleRecord | None = None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            if data.get("claims"):
                self.sources = parse_claims(data["claims"])
            elif data.get("event"):
                self.sources = event_claims(data["event"].details)
            else:
                self.add_error("claims", _("Paste claims, or choose a captured login"))
        except ValueError as error:
            self.add_error("claims" if data.get("claims") else "event", str(error))
        self.current_user = CurrentUser(
            str(data.get("username") or "sso-user"),
            frozenset(split_names(data.get("user_groups"))),
            bool(data.get("is_superuser")),
            bool(data.get("is_new")),
        )
        if data.get("edit_effect"):
            self.edit = RuleRecord(
                str(data.get("backend") or ""),
                data["edit_effect"],
                data.get("edit_match_type") or "exact",
                str(data.get("edit_value") or ""),
                tuple(split_names(data.get("edit_groups"))),
                data.get("replaces"),
            )
            for field_name, message in shape_problems(self.edit):
                self.add_error(f"edit_{field_name}" if f"edit_{field_name}" in self.fields else None, message)
        return data


# ---- backend settings -----------------------------------------------------------------------------------------


class BackendSettingsCheckMixin:
    rule_warnings: tuple[str, ...] = ()

    def check_settings(self) -> None:
        record = BackendSettingsRecord.from_fields(self.cleaned_data, self.instance.pk)  # type: ignore[attr-defined]
        check = check_settings(record, replaces=record.pk)
        for field_name, message in check.errors:
            self.add_error(field_name if field_name in self.fields else None, message)  # type: ignore[attr-defined]
        self.rule_warnings = check.warnings


class BackendSettingsForm(BackendSettingsCheckMixin, PrimaryModelForm):
    backend = forms.ChoiceField(label=_("Backend"), choices=())
    comments = CommentField()

    fieldsets = (
        FieldSet("backend", "groups_claim", "groups_sources", "description", "tags", name=_("Groups claim")),
        FieldSet("case", "strip_prefixes", name=_("Normalization")),
        FieldSet("missing_claim", "create_groups", name=_("Policy")),
    )

    class Meta:
        model = BackendSettings
        fields = (
            *BackendSettingsRecord.FIELDS,
            "description",
            "owner",
            "comments",
            "tags",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.initial.get("backend") or getattr(self.instance, "backend", "") or ""
        self.fields["backend"].choices = backend_choices(str(current))

    def clean(self) -> dict[str, Any]:
        super().clean()
        if not self.errors:
            self.check_settings()
        return self.cleaned_data

    def save(self, *args: Any, **kwargs: Any) -> BackendSettings:
        instance = super().save(*args, **kwargs)
        RuleCheckMixin.report_warnings(self)  # type: ignore[arg-type]  # same messages, same way
        return instance


class BackendSettingsImportForm(BackendSettingsCheckMixin, PrimaryModelImportForm):
    case = CSVChoiceField(
        label=_("Case"),
        choices=(("preserve", "preserve"), ("lower", "lower")),
        required=False,
        help_text=_("preserve (default) or lower"),
    )
    missing_claim = CSVChoiceField(
        label=_("Missing claim"),
        choices=(("keep", "keep"), ("refuse", "refuse")),
        required=False,
        help_text=_("keep (default) or refuse"),
    )

    class Meta:
        model = BackendSettings
        fields = (
            *BackendSettingsRecord.FIELDS,
            "description",
            "owner",
            "comments",
            "tags",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        if not self.errors:
            self.check_settings()
        return self.cleaned_data


class BackendSettingsFilterForm(PrimaryModelFilterSetForm):
    model = BackendSettings
    fieldsets = (FieldSet("q", "filter_id", "tag"), FieldSet("backend", "missing_claim", name=_("Settings")))
    backend = forms.CharField(required=False, label=_("Backend"))
    missing_claim = forms.MultipleChoiceField(choices=(("keep", "keep"), ("refuse", "refuse")), required=False)
    tag = TagFilterField(model)
