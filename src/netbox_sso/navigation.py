"""A "Single sign-on" menu in NetBox's navigation: Mapping rules, Events, Status and SCIM connections."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from netbox.plugins import PluginMenu, PluginMenuButton, PluginMenuItem

menu = PluginMenu(
    label=_("Single sign-on"),
    icon_class="mdi mdi-shield-account",
    groups=(
        (
            _("Mapping"),
            (
                PluginMenuItem(
                    link="plugins:netbox_sso:mappingrule_list",
                    link_text=_("Mapping rules"),
                    permissions=["netbox_sso.view_mappingrule"],
                    buttons=(
                        PluginMenuButton(
                            "plugins:netbox_sso:mappingrule_add",
                            _("Add"),
                            "mdi mdi-plus-thick",
                            permissions=["netbox_sso.add_mappingrule"],
                        ),
                        PluginMenuButton(
                            "plugins:netbox_sso:mappingrule_bulk_import",
                            _("Import"),
                            "mdi mdi-upload",
                            permissions=["netbox_sso.add_mappingrule"],
                        ),
                    ),
                ),
                PluginMenuItem(
                    link="plugins:netbox_sso:backendsettings_list",
                    link_text=_("Backend settings"),
                    permissions=["netbox_sso.view_backendsettings"],
                    buttons=(
                        PluginMenuButton(
                            "plugins:netbox_sso:backendsettings_add",
                            _("Add"),
                            "mdi mdi-plus-thick",
                            permissions=["netbox_sso.add_backendsettings"],
                        ),
                    ),
                ),
                PluginMenuItem(
                    link="plugins:netbox_sso:try_rules",
                    link_text=_("Try the rules"),
                    permissions=["netbox_sso.view_mappingrule"],
                ),
            ),
        ),
        (
            _("Audit"),
            (
                PluginMenuItem(
                    link="plugins:netbox_sso:ssoevent_list",
                    link_text=_("Events"),
                    permissions=["netbox_sso.view_ssoevent"],
                ),
            ),
        ),
        (
            _("Diagnostics"),
            (
                # The status page itself checks for a superuser; the menu shows it to those who see events.
                PluginMenuItem(
                    link="plugins:netbox_sso:status",
                    link_text=_("Status"),
                    permissions=["netbox_sso.view_ssoevent"],
                    staff_only=True,
                ),
            ),
        ),
        (
            _("Provisioning"),
            (
                # Superusers only (checked by the view): connections and their token rotation.
                PluginMenuItem(
                    link="plugins:netbox_sso:scim_connections",
                    link_text=_("SCIM connections"),
                    permissions=["netbox_sso.view_scimconnection"],
                    staff_only=True,
                ),
            ),
        ),
    ),
)
