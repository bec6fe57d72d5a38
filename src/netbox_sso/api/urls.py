"""REST API URLs: /api/plugins/sso/events/, /rules/ and /backends/."""

from __future__ import annotations

from netbox.api.routers import NetBoxRouter

from netbox_sso.api import views

app_name = "netbox_sso-api"

router = NetBoxRouter()
router.register("events", views.SSOEventViewSet)
router.register("rules", views.MappingRuleViewSet)
router.register("backends", views.BackendSettingsViewSet)

urlpatterns = router.urls
