"""REST API serializers: SSO events (read-only) and mapping rules (checked like the edit form)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netbox.api.fields import ChoiceField, SerializedPKRelatedField
from netbox.api.serializers import BaseModelSerializer, PrimaryModelSerializer
from rest_framework import serializers
from users.api.serializers_.users import GroupSerializer, UserSerializer
from users.models import Group

from netbox_sso.choices import MappingEffectChoices, MappingMatchChoices, SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent
from netbox_sso.rule_validation import check_change, check_settings

__all__ = ("BackendSettingsSerializer", "MappingRuleSerializer", "SSOEventSerializer")


def _field_errors(problems: Iterable[tuple[str | None, str]]) -> dict[str, list[str]]:
    """The checker's (field, message) pairs as DRF's errors; a problem of no one field is a non-field error."""
    errors: dict[str, list[str]] = {}
    for field_name, message in problems:
        errors.setdefault(field_name or "non_field_errors", []).append(message)
    return errors


class SSOEventSerializer(BaseModelSerializer):
    event = ChoiceField(choices=SSOEventTypeChoices, read_only=True)
    outcome = ChoiceField(choices=SSOOutcomeChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True)

    class Meta:
        model = SSOEvent
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "time",
            "event",
            "outcome",
            "reason",
            "backend",
            "user",
            "username",
            "client",
            "message",
            "details",
        )
        brief_fields = ("id", "url", "display", "time", "event", "outcome", "username")
        read_only_fields = fields


class MappingRuleSerializer(PrimaryModelSerializer):
    effect = ChoiceField(choices=MappingEffectChoices, required=False)
    match_type = ChoiceField(choices=MappingMatchChoices, required=False)
    groups = SerializedPKRelatedField(
        queryset=Group.objects.all(), serializer=GroupSerializer, nested=True, required=False, many=True
    )
    confirm_superuser_change = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Required when the change takes superuser away from every SSO account that has it today",
    )

    class Meta:
        model = MappingRule
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "backend",
            "effect",
            "match_type",
            "value",
            "groups",
            "description",
            "owner",
            "comments",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
            "confirm_superuser_change",
        )
        brief_fields = ("id", "url", "display", "backend", "effect", "match_type", "value", "description")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        confirmed = bool(data.pop("confirm_superuser_change", False))
        data = super().validate(data)
        if self.nested:
            return data
        instance = self.instance

        def pick(name: str, default: str) -> str:
            if name in data:
                return str(data[name] or "")
            return str(getattr(instance, name)) if instance is not None else default

        if "groups" in data:
            groups = [group.name for group in data["groups"]]
        else:
            groups = list(instance.groups.values_list("name", flat=True)) if instance is not None else []
        record = RuleRecord(
            pick("backend", ""),
            pick("effect", MappingEffectChoices.GROUPS),
            pick("match_type", MappingMatchChoices.EXACT),
            pick("value", ""),
            tuple(sorted(groups)),
            instance.pk if instance is not None else None,
        )
        check = check_change(record, replaces=record.pk)
        errors = _field_errors(check.errors)
        if not errors and check.superuser_risk and not confirmed:
            errors["confirm_superuser_change"] = [check.superuser_risk + " Send confirm_superuser_change: true."]
        if errors:
            raise serializers.ValidationError(errors)
        return data


class BackendSettingsSerializer(PrimaryModelSerializer):
    class Meta:
        model = BackendSettings
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            *BackendSettingsRecord.FIELDS,
            "description",
            "owner",
            "comments",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        brief_fields = ("id", "url", "display", "backend", "description")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        if self.nested:
            return data
        instance = self.instance
        # A partial update (PATCH) is checked as the row will be: the sent fields over the stored ones.
        values = {
            name: data[name] if name in data else getattr(instance, name, None) for name in BackendSettingsRecord.FIELDS
        }
        record = BackendSettingsRecord.from_fields(values, instance.pk if instance is not None else None)
        check = check_settings(record, replaces=record.pk)
        if check.errors:
            raise serializers.ValidationError(_field_errors(check.errors))
        return data
