"""`netbox sso_housekeeping [--days N]`: delete SSO events older than the retention now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from netbox_sso.jobs import prune_events


class Command(BaseCommand):
    help = "Delete SSO audit events older than PLUGINS_CONFIG['netbox_sso']['audit_retention_days'] (default 90)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days (overrides the setting)")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        deleted = prune_events(days)
        self.stdout.write(f"Deleted {deleted} SSO event(s).")
