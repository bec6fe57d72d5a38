"""REST API serializer of SSO events (read-only)."""

from __future__ import annotations

from netbox.api.fields import ChoiceField
from netbox.api.serializers import BaseModelSerializer
from users.api.serializers_.users import UserSerializer

from netbox_sso.choices import SSOEventTypeChoices, SSOOutcomeChoices
from netbox_sso.models import SSOEvent

__all__ = ("SSOEventSerializer",)


class SSOEventSerializer(BaseModelSerializer):
    event = ChoiceField(choices=SSOEventTypeChoices, read_only=True)
    outcome = ChoiceField(choices=SSOOutcomeChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True)

    class Meta:
        model = SSOEvent
        fields = ("id", "url", "display_url", "display", "time", "event", "outcome", "reason", "backend", "user",
                  "username", "client", "message", "details")
        brief_fields = ("id", "url", "display", "time", "event", "outcome", "username")
        read_only_fields = fields
