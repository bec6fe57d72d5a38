"""Views: SSO events (list, detail), mapping rules (the NetBox object views, "Try it"), the status page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import PermissionRequiredMixin, UserPassesTestMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from extras.ui.panels import CustomFieldsPanel, TagsPanel
from netbox.object_actions import AddObject, BulkDelete, BulkExport, BulkImport
from netbox.ui import attrs, layout, panels
from netbox.views import generic
from utilities.views import register_model_view

from netbox_sso import filtersets, forms, status, tables
from netbox_sso.models import BackendSettings, MappingRule, SSOEvent

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
            "changed_settings": status.changed_settings(),
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


# ---- mapping rules ------------------------------------------------------------------------------------------


class MappingRulePanel(panels.ObjectAttributesPanel):
    title = _("Mapping rule")
    backend = attrs.TextAttr("backend", style="font-monospace")
    effect = attrs.ChoiceAttr("effect")
    match_type = attrs.ChoiceAttr("match_type", label=_("Match type"))
    value = attrs.TextAttr("value", label=_("IdP value"), style="font-monospace")
    groups = attrs.RelatedObjectListAttr("groups", label=_("NetBox groups"), linkify=True)
    description = attrs.TextAttr("description")


@register_model_view(MappingRule, "list", path="", detail=False)
class MappingRuleListView(generic.ObjectListView):
    queryset = MappingRule.objects.prefetch_related("groups", "tags")
    filterset = filtersets.MappingRuleFilterSet
    filterset_form = forms.MappingRuleFilterForm
    table = tables.MappingRuleTable
    template_name = "netbox_sso/mappingrule_list.html"
    # No bulk edit: every change goes through the rule check of the edit form, import or API.
    actions = (AddObject, BulkImport, BulkExport, BulkDelete)

    def get_extra_context(self, request: HttpRequest) -> dict[str, Any]:
        return {"configured": status.configured_rules()}


@register_model_view(MappingRule)
class MappingRuleView(generic.ObjectView):
    queryset = MappingRule.objects.prefetch_related("groups")
    template_name = "netbox_sso/mappingrule.html"
    layout = layout.SimpleLayout(
        left_panels=[MappingRulePanel(), TagsPanel()],
        right_panels=[CustomFieldsPanel(), panels.CommentsPanel()],
    )


@register_model_view(MappingRule, "add", detail=False)
@register_model_view(MappingRule, "edit")
class MappingRuleEditView(generic.ObjectEditView):
    queryset = MappingRule.objects.all()
    form = forms.MappingRuleForm


@register_model_view(MappingRule, "delete")
class MappingRuleDeleteView(generic.ObjectDeleteView):
    queryset = MappingRule.objects.all()


@register_model_view(MappingRule, "bulk_import", path="import", detail=False)
class MappingRuleBulkImportView(generic.BulkImportView):
    queryset = MappingRule.objects.all()
    model_form = forms.MappingRuleImportForm


@register_model_view(MappingRule, "bulk_delete", path="delete", detail=False)
class MappingRuleBulkDeleteView(generic.BulkDeleteView):
    queryset = MappingRule.objects.all()
    filterset = filtersets.MappingRuleFilterSet
    table = tables.MappingRuleTable


class BackendSettingsPanel(panels.ObjectAttributesPanel):
    title = _("Backend settings")
    backend = attrs.TextAttr("backend", style="font-monospace")
    groups_claim = attrs.TextAttr("groups_claim", label=_("Groups claim"), style="font-monospace")
    groups_sources = attrs.TextAttr("groups_sources", label=_("Groups sources"))
    case = attrs.ChoiceAttr("case")
    strip_prefixes = attrs.TextAttr("strip_prefixes", label=_("Strip prefixes"), style="font-monospace")
    missing_claim = attrs.ChoiceAttr("missing_claim", label=_("Missing claim"))
    create_groups = attrs.BooleanAttr("create_groups", label=_("Create groups"))
    description = attrs.TextAttr("description")


@register_model_view(BackendSettings, "list", path="", detail=False)
class BackendSettingsListView(generic.ObjectListView):
    queryset = BackendSettings.objects.prefetch_related("tags")
    filterset = filtersets.BackendSettingsFilterSet
    filterset_form = forms.BackendSettingsFilterForm
    table = tables.BackendSettingsTable
    actions = (AddObject, BulkImport, BulkExport, BulkDelete)


@register_model_view(BackendSettings)
class BackendSettingsView(generic.ObjectView):
    queryset = BackendSettings.objects.all()
    layout = layout.SimpleLayout(
        left_panels=[BackendSettingsPanel(), TagsPanel()],
        right_panels=[CustomFieldsPanel(), panels.CommentsPanel()],
    )


@register_model_view(BackendSettings, "add", detail=False)
@register_model_view(BackendSettings, "edit")
class BackendSettingsEditView(generic.ObjectEditView):
    queryset = BackendSettings.objects.all()
    form = forms.BackendSettingsForm


@register_model_view(BackendSettings, "delete")
class BackendSettingsDeleteView(generic.ObjectDeleteView):
    queryset = BackendSettings.objects.all()


@register_model_view(BackendSettings, "bulk_import", path="import", detail=False)
class BackendSettingsBulkImportView(generic.BulkImportView):
    queryset = BackendSettings.objects.all()
    model_form = forms.BackendSettingsImportForm


@register_model_view(BackendSettings, "bulk_delete", path="delete", detail=False)
class BackendSettingsBulkDeleteView(generic.BulkDeleteView):
    queryset = BackendSettings.objects.all()
    filterset = filtersets.BackendSettingsFilterSet
    table = tables.BackendSettingsTable


class TryRulesView(PermissionRequiredMixin, View):
    """Paste claims (or pick a captured login) and see the decision, now and with an unsaved edit."""

    permission_required = "netbox_sso.view_mappingrule"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = forms.TryRulesForm(request.user, initial=request.GET.dict())
        return render(request, "netbox_sso/try_rules.html", {"form": form, "results": None})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.TryRulesForm(request.user, data=request.POST)
        results = None
        if form.is_valid():
            from netbox_sso.try_rules import try_login

            results = try_login(
                form.cleaned_data["backend"],
                form.sources,
                form.current_user,
                form.edit,
                form.cleaned_data.get("replaces"),
            )
        return render(request, "netbox_sso/try_rules.html", {"form": form, "results": results})


class SCIMConnectionsView(UserPassesTestMixin, View):
    """SCIM provisioning connections: create, rotate and revoke their tokens (docs/provisioning.md); superusers
    only (a connection's token can provision superusers through the mapping rules).

    A new token is shown once, in the response to the POST that made it: never stored in clear, never logged,
    never on a later page (`Cache-Control: no-store`). Each action names the token it replaces (its prefix),
    so a re-sent form (reload, back) changes nothing and shows no token.
    """

    def test_func(self) -> bool:
        return bool(self.request.user.is_superuser)

    def _render(self, request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
        from netbox_sso.scim.models import GroupKey, SCIMConnection, TokenAction

        endpoint = request.build_absolute_uri("/api/plugins/sso/scim/v2/")
        response = render(
            request,
            "netbox_sso/scim_connections.html",
            {
                "connections": SCIMConnection.objects.order_by("name"),
                "endpoint": endpoint,
                "backends": ("azuread-oauth2", "okta-openidconnect", "oidc"),
                "group_keys": GroupKey.choices,
                "token_actions": TokenAction.choices,
                **extra,
            },
            status=status,
        )
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        from netbox_sso.scim.models import SCIMConnection

        if request.POST.get("action") == "create":
            return self._create(request)
        connection = SCIMConnection.objects.filter(pk=request.POST.get("connection") or None).first()
        action = request.POST.get("action")
        if connection is None or action not in ("rotate", "revoke"):
            return redirect("plugins:netbox_sso:scim_connections")
        if request.POST.get("prefix") != connection.token_prefix or (action == "revoke" and connection.token_revoked):
            # A re-sent form: the token it names was already replaced. Never rotate twice, never show a token.
            return self._render(
                request,
                409,
                error=_("The token of %(name)s was already changed; nothing was done.") % {"name": connection.name},
            )
        return self._rotate(request, connection) if action == "rotate" else self._revoke(request, connection)

    def _audit(self, request: HttpRequest, connection: Any, reason: str) -> None:
        from netbox_sso import audit

        audit.record(
            "scim_provisioned",
            request=request,
            backend=connection.backend,
            user=request.user,
            outcome="info",
            reason=reason,
            details={"connection": connection.name, "by": request.user.get_username()},
        )

    def _rotate(self, request: HttpRequest, connection: Any) -> HttpResponse:
        from netbox_sso.scim import tokens

        token = tokens.rotate(connection)
        self._audit(request, connection, "token_rotated")
        return self._render(request, new_token=token, token_for=connection)

    def _revoke(self, request: HttpRequest, connection: Any) -> HttpResponse:
        from netbox_sso.scim import tokens

        tokens.revoke(connection)
        self._audit(request, connection, "token_revoked")
        message = _("The token of %(name)s is revoked: rotate to issue a new one.") % {"name": connection.name}
        return self._render(request, message=message)

    def _create(self, request: HttpRequest) -> HttpResponse:
        from netbox_sso.scim import tokens
        from netbox_sso.scim.models import GroupKey, SCIMConnection, TokenAction

        name = request.POST.get("name", "").strip()
        backend = request.POST.get("backend", "").strip()
        tenant_id = request.POST.get("tenant_id", "").strip()
        group_key = request.POST.get("group_key", "")
        token_action = request.POST.get("token_action", TokenAction.DISABLE)
        error = None
        if not name or len(name) > 100:
            error = _("Name: required, at most 100 characters.")
        elif SCIMConnection.objects.filter(name=name).exists():
            error = _("A connection named %(name)s exists: rotate its token instead.") % {"name": name}
        elif not backend or len(backend) > 64:
            error = _("Backend: the sign-in backend of the provisioned users, e.g. azuread-oauth2, okta-openidconnect.")
        elif backend == "azuread-oauth2" and not tenant_id:
            error = _("Tenant ID: required for azuread-oauth2 (Entra ID sign-ins are keyed by tenant and object ID).")
        elif len(tenant_id) > 64 or group_key not in GroupKey.values or token_action not in TokenAction.values:
            error = _("Tenant ID, group key or API token action: not a valid value.")
        if error:
            return self._render(request, 400, error=error, form=request.POST)
        connection, token = tokens.create_connection(
            name,
            backend,
            tenant_id=tenant_id,
            group_key=group_key,
            token_action=token_action,
            created_by=request.user.get_username(),
        )
        self._audit(request, connection, "connection_created")
        return self._render(request, 201, new_token=token, token_for=connection)
