"""URLs under /plugins/sso/: events (list, detail) and the status page."""

from __future__ import annotations

from django.urls import include, path
from utilities.urls import get_model_urls

from netbox_sso import views

app_name = "netbox_sso"

urlpatterns = [
    path("events/", include(get_model_urls("netbox_sso", "ssoevent", detail=False))),
    path("events/<int:pk>/", include(get_model_urls("netbox_sso", "ssoevent"))),
    path("status/", views.StatusView.as_view(), name="status"),
]
