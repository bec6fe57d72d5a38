"""A "Single sign-on" menu in NetBox's navigation: Events and Status."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from netbox.plugins import PluginMenu, PluginMenuItem

menu = PluginMenu(
    label=_("Single sign-on"),
    icon_class="mdi mdi-shield-account",
    groups=(
        (_("Audit"), (
            PluginMenuItem(link="plugins:netbox_sso:ssoevent_list", link_text=_("Events"),
                           permissions=["netbox_sso.view_ssoevent"]),
        )),
        (_("Diagnostics"), (
            # The status page itself checks for a superuser; the menu shows it to those who see events.
            PluginMenuItem(link="plugins:netbox_sso:status", link_text=_("Status"),
                           permissions=["netbox_sso.view_ssoevent"], staff_only=True),
        )),
    ),
)
