"""`netbox sso_reconcile --backend <name> [--dry-run] [--force]`: deactivate the NetBox accounts whose users
are gone from, or disabled in, the provider's directory (Keycloak, Authentik).

    netbox sso_reconcile --backend oidc --dry-run     # who would be deactivated, and why; changes nothing
    netbox sso_reconcile --backend oidc               # deactivate them
    netbox sso_reconcile --all                        # every backend under PLUGINS_CONFIG[...]['reconcile']

A run that cannot list the directory completely, or that would deactivate more than the backend's
`max_fraction` of its linked accounts, changes nothing and exits with status 1 saying why; `--force`
overrides the fraction (logged and audited), never a failed listing.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from netbox_sso.core.errors import PLUGIN_ROOT, setting_path
from netbox_sso.reconcile import ReconcileError, Result, configured, reconcile


class Command(BaseCommand):
    help = "Deactivate NetBox accounts whose users are gone from or disabled in the provider's directory."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--backend", help="sign-in backend to reconcile (a key of the reconcile setting)")
        target.add_argument("--all", action="store_true", help="every backend of the reconcile setting")
        parser.add_argument("--dry-run", action="store_true", help="report who would be deactivated; change nothing")
        parser.add_argument("--force", action="store_true", help="apply even beyond max_fraction (logged and audited)")
        parser.add_argument("--json", action="store_true", help="print each run's summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backends = sorted(configured()) if options["all"] else [options["backend"]]
            if not backends:
                raise ReconcileError(
                    f"{setting_path(PLUGIN_ROOT, 'reconcile')} is empty. Fix: name a backend and its directory "
                    "source, e.g. {'oidc': {'source': 'keycloak'}} (docs/provisioning.md)"
                )
            results = [reconcile(name, dry_run=options["dry_run"], force=options["force"]) for name in backends]
        except ReconcileError as error:
            raise CommandError(str(error)) from None
        for result in results:
            if options["json"]:
                self.stdout.write(json.dumps(result.summary(), default=str))
            else:
                self._report(result)
        aborted = [r for r in results if r.aborted]
        if aborted:
            raise CommandError("; ".join(f"{r.backend}: aborted, nothing changed: {r.aborted}" for r in aborted))

    def _report(self, result: Result) -> None:
        current = result.plan
        head = f"{result.backend}: "
        if current is not None:
            head += f"{current.directory_users} directory user(s), {current.considered} active linked account(s)"
        self.stdout.write(head)
        if current is not None:
            verb = "would deactivate" if result.dry_run or result.aborted else "deactivated"
            done = {item["username"] for item in result.deactivated}
            for action in current.deactivate:
                if result.aborted or result.dry_run or action.account.username in done:
                    self.stdout.write(f"  {verb} {action.account.username}: {action.reason} ({action.detail})")
            for action in current.skipped:
                self.stdout.write(f"  skipped {action.account.username}: {action.reason} ({action.detail})")
            if current.overridden:
                self.stdout.write(f"  forced past the safety limit: {current.overridden}")
        if not result.aborted:
            count = len(current.deactivate if result.dry_run and current else result.deactivated)
            tail = "dry run, nothing changed" if result.dry_run else "applied"
            self.stdout.write(f"  {count} account(s) {'to deactivate' if result.dry_run else 'deactivated'} ({tail})")
