"""SCIM 2.0 endpoints, mounted at /api/plugins/sso/scim/v2/ (netbox_sso.api.urls).

The views are loaded on the first SCIM request, not with the URL configuration: NetBox loads every
plugin's URLs in every worker, and the SCIM views bring scim2-models (pydantic), about 28 MiB of resident
memory and 0.4 s of import per worker. Only the workers that serve a provider's SCIM calls pay for it;
a NetBox without a SCIM connection never does.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

VIEWS_MODULE = "netbox_sso.scim.views"


def _view(name: str) -> Callable[..., HttpResponse]:
    """The view `name` of netbox_sso.scim.views, imported when a request first reaches it."""

    @csrf_exempt  # SCIM clients authenticate with a bearer token, never a session cookie
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        handler: Callable[..., HttpResponse] = getattr(import_module(VIEWS_MODULE), name)
        return handler(request, *args, **kwargs)

    view.__name__ = view.__qualname__ = name
    return view


urlpatterns = [
    path("ServiceProviderConfig", _view("service_provider_config")),
    path("ResourceTypes", _view("resource_types")),
    path("ResourceTypes/<str:item_id>", _view("resource_types")),
    path("Schemas", _view("schemas")),
    path("Schemas/<str:item_id>", _view("schemas")),
    path(".search", _view("root_search")),
    path("Users/.search", _view("users_search")),
    path("Groups/.search", _view("groups_search")),
    path("Users", _view("users_view")),
    path("Users/<str:scim_id>", _view("user_view")),
    path("Groups", _view("groups_view")),
    path("Groups/<str:scim_id>", _view("group_view")),
    re_path(r"^(?P<rest>.*)$", _view("not_found")),
]
