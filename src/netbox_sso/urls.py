"""URLs under /plugins/sso/: events (list, detail), mapping rules (NetBox object views, try it), status, SCIM
connections."""

from __future__ import annotations

from django.urls import include, path
from utilities.urls import get_model_urls

from netbox_sso import views

app_name = "netbox_sso"

urlpatterns = [
    path("events/", include(get_model_urls("netbox_sso", "ssoevent", detail=False))),
    path("events/<int:pk>/", include(get_model_urls("netbox_sso", "ssoevent"))),
    path("rules/", include(get_model_urls("netbox_sso", "mappingrule", detail=False))),
    path("rules/<int:pk>/", include(get_model_urls("netbox_sso", "mappingrule"))),
    path("rules/try/", views.TryRulesView.as_view(), name="try_rules"),
    path("backends/", include(get_model_urls("netbox_sso", "backendsettings", detail=False))),
    path("backends/<int:pk>/", include(get_model_urls("netbox_sso", "backendsettings"))),
    path("status/", views.StatusView.as_view(), name="status"),
    path("scim/", views.SCIMConnectionsView.as_view(), name="scim_connections"),
]
