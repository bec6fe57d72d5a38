"""REST API URLs: /api/plugins/sso/events/, /rules/, /backends/ and the SCIM 2.0 service provider /scim/v2/."""

from __future__ import annotations

from django.urls import include, path
from netbox.api.routers import NetBoxRouter

from netbox_sso.api import views

app_name = "netbox_sso-api"

router = NetBoxRouter()
router.register("events", views.SSOEventViewSet)
router.register("rules", views.MappingRuleViewSet)
router.register("backends", views.BackendSettingsViewSet)

urlpatterns = [*router.urls, path("scim/v2/", include("netbox_sso.scim.urls"))]
