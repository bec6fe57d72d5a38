"""REST API of SSO events: read-only, filtered like the list view, under NetBox's object permissions."""

from __future__ import annotations

from netbox.api.viewsets import NetBoxReadOnlyModelViewSet

from netbox_sso import filtersets
from netbox_sso.api.serializers import SSOEventSerializer
from netbox_sso.models import SSOEvent

__all__ = ("SSOEventViewSet",)


class SSOEventViewSet(NetBoxReadOnlyModelViewSet):
    queryset = SSOEvent.objects.select_related("user")
    serializer_class = SSOEventSerializer
    filterset_class = filtersets.SSOEventFilterSet
