"""Views: SSO events (list and detail, under NetBox's object permissions) and the SSO status page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from netbox.object_actions import BulkExport
from netbox.ui import attrs, layout, panels
from netbox.views import generic
from utilities.views import register_model_view

from netbox_sso import filtersets, forms, status, tables
from netbox_sso.models import SSOEvent

RECENT_EVENTS = 20


class SSOEventPanel(panels.ObjectAttributesPanel):
    title = _("SSO event")
    time = attrs.DateTimeAttr("time")
    event = attrs.ChoiceAttr("event")
    outcome = attrs.ChoiceAttr("outcome")
    reason = attrs.TextAttr("reason", style="font-monospace")
    backend = attrs.TextAttr("backend", style="font-monospace")
    username = attrs.TextAttr("username")
    user = attrs.RelatedObjectAttr("user", linkify=True)
    client = attrs.TextAttr("client", label=_("Client address"))
    message = attrs.TextAttr("message")


@register_model_view(SSOEvent, "list", path="", detail=False)
class SSOEventListView(generic.ObjectListView):
    queryset = SSOEvent.objects.select_related("user")
    filterset = filtersets.SSOEventFilterSet
    filterset_form = forms.SSOEventFilterForm
    table = tables.SSOEventTable
    # Events are records written by the audit trail: export only, never add, edit or delete by hand.
    actions = (BulkExport,)


@register_model_view(SSOEvent)
class SSOEventView(generic.ObjectView):
    queryset = SSOEvent.objects.select_related("user")
    actions = ()
    template_name = "netbox_sso/ssoevent.html"
    layout = layout.SimpleLayout(
        left_panels=[SSOEventPanel()],
        bottom_panels=[panels.JSONPanel("details", title=_("Details"))],
    )


class StatusView(UserPassesTestMixin, View):
    """Providers, redirect URIs, mapping rules, doctor results and recent events; superusers only.

    Superuser only, like NetBox's System page: the page shows how sign-in is configured.
    """

    def test_func(self) -> bool:
        return bool(self.request.user.is_superuser)

    def get(self, request: HttpRequest) -> HttpResponse:
        events = tables.SSOEventTable(SSOEvent.objects.select_related("user")[:RECENT_EVENTS], orderable=False)
        events.configure(request)
        doctor_available, doctor = status.doctor_report()
        context: dict[str, Any] = {
            "providers": status.providers(request),
            "mapping": status.mapping(),
            "events_table": events,
            "doctor_available": doctor_available,
            "doctor": doctor,
        }
        return render(request, "netbox_sso/status.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        """Run doctor now (live probes of every enabled provider, bounded timeouts) and show the result."""
        from netbox_sso.diagnostics.published import run_and_publish

        run_and_publish(base_url=request.build_absolute_uri("/").rstrip("/"))
        return redirect("plugins:netbox_sso:status")
