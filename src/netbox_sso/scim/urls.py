"""SCIM 2.0 endpoints, mounted at /api/plugins/sso/scim/v2/ (netbox_sso.api.urls)."""

from __future__ import annotations

from django.urls import path, re_path

from netbox_sso.scim import views

urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config),
    path("ResourceTypes", views.resource_types),
    path("ResourceTypes/<str:item_id>", views.resource_types),
    path("Schemas", views.schemas),
    path("Schemas/<str:item_id>", views.schemas),
    path(".search", views.root_search),
    path("Users/.search", views.users_search),
    path("Groups/.search", views.groups_search),
    path("Users", views.users_view),
    path("Users/<str:scim_id>", views.user_view),
    path("Groups", views.groups_view),
    path("Groups/<str:scim_id>", views.group_view),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
