"""`netbox sso_housekeeping [--days N]`: delete SSO events older than the retention now, and remove
plaintext tokens stock social-core left in UserSocialAuth.extra_data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from netbox_sso.jobs import prune_events, scrub_tokens


class Command(BaseCommand):
    help = (
        "Delete SSO audit events older than PLUGINS_CONFIG['netbox_sso']['audit_retention_days'] (default 90) "
        "and plaintext tokens left in social-auth links."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days (overrides the setting)")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        deleted = prune_events(days)
        self.stdout.write(f"Deleted {deleted} SSO event(s).")
        self.stdout.write(f"Removed plaintext tokens from {scrub_tokens()} social-auth link(s).")
