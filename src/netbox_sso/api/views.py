"""REST API: SSO events (read-only) and mapping rules (read-write), under NetBox's object permissions."""

from __future__ import annotations

from netbox.api.viewsets import NetBoxModelViewSet, NetBoxReadOnlyModelViewSet

from netbox_sso import filtersets
from netbox_sso.api.serializers import BackendSettingsSerializer, MappingRuleSerializer, SSOEventSerializer
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent

__all__ = ("BackendSettingsViewSet", "MappingRuleViewSet", "SSOEventViewSet")


class SSOEventViewSet(NetBoxReadOnlyModelViewSet):
    queryset = SSOEvent.objects.select_related("user")
    serializer_class = SSOEventSerializer
    filterset_class = filtersets.SSOEventFilterSet


class MappingRuleViewSet(NetBoxModelViewSet):
    queryset = MappingRule.objects.prefetch_related("groups", "tags")
    serializer_class = MappingRuleSerializer
    filterset_class = filtersets.MappingRuleFilterSet


class BackendSettingsViewSet(NetBoxModelViewSet):
    queryset = BackendSettings.objects.prefetch_related("tags")
    serializer_class = BackendSettingsSerializer
    filterset_class = filtersets.BackendSettingsFilterSet
