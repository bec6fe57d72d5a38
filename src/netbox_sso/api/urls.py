"""REST API URLs: /api/plugins/sso/events/ and /api/plugins/sso/rules/."""

from __future__ import annotations

from netbox.api.routers import NetBoxRouter

from netbox_sso.api import views

app_name = "netbox_sso-api"

router = NetBoxRouter()
router.register("events", views.SSOEventViewSet)
router.register("rules", views.MappingRuleViewSet)

urlpatterns = router.urls
