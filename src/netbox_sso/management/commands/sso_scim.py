"""`netbox sso_scim create|rotate|list|show|set`: SCIM connections and their bearer tokens.

The token is printed once, on stdout only (never logged); NetBox keeps its SHA-256 digest.

    netbox sso_scim create entra --backend azuread-oauth2 --tenant-id <tenant id>
    netbox sso_scim create okta --backend okta-openidconnect
    netbox sso_scim rotate entra
    netbox sso_scim revoke entra
    netbox sso_scim set entra --dry-run on --token-action expire
    netbox sso_scim list
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from netbox_sso.scim import tokens
from netbox_sso.scim.models import GroupKey, SCIMConnection, TokenAction

_ON_OFF = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}


class Command(BaseCommand):
    help = "Manage SCIM provisioning connections (Entra ID, Okta, ...) and their bearer tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a connection and print its token once")
        create.add_argument("name")
        for command in (create, sub.add_parser("set", help="change a connection's settings")):
            if command is not create:
                command.add_argument("name")
            command.add_argument(
                "--backend",
                required=command is create,
                help="sign-in backend of the provisioned users: azuread-oauth2, okta-openidconnect, oidc",
            )
            command.add_argument("--tenant-id", help="Entra ID directory (tenant) ID")
            command.add_argument(
                "--group-key",
                choices=[c.value or "auto" for c in GroupKey],
                help="group attribute the mapping rules are keyed by (auto: Entra externalId)",
            )
            command.add_argument(
                "--token-action",
                choices=[c.value for c in TokenAction],
                help="what deprovisioning does to the user's API tokens (default disable)",
            )
            command.add_argument("--dry-run", choices=sorted(_ON_OFF), help="report deprovisioning only")
            command.add_argument("--enabled", choices=sorted(_ON_OFF))
            command.add_argument("--rate-limit", type=int, help="requests per minute (0: unlimited)")
        rotate = sub.add_parser("rotate", help="replace a connection's token and print the new one once")
        rotate.add_argument("name")
        revoke = sub.add_parser("revoke", help="invalidate a connection's token (no token works until rotate)")
        revoke.add_argument("name")
        show = sub.add_parser("show", help="a connection's settings (never its token)")
        show.add_argument("name")
        sub.add_parser("list", help="every connection (never a token)")

    def _get(self, name: str) -> SCIMConnection:
        connection = SCIMConnection.objects.filter(name=name).first()
        if connection is None:
            raise CommandError(f"no SCIM connection named {name!r} (netbox sso_scim list)")
        return connection

    @staticmethod
    def _fields(options: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for option, field in (
            ("backend", "backend"),
            ("tenant_id", "tenant_id"),
            ("token_action", "token_action"),
            ("rate_limit", "rate_limit"),
        ):
            if options.get(option) is not None:
                fields[field] = options[option]
        if options.get("group_key") is not None:
            fields["group_key"] = "" if options["group_key"] == "auto" else options["group_key"]
        for option in ("dry_run", "enabled"):
            if options.get(option) is not None:
                fields[option] = _ON_OFF[options[option]]
        return fields

    def _describe(self, connection: SCIMConnection) -> str:
        return (
            f"{connection.name}: backend={connection.backend} tenant_id={connection.tenant_id or '-'} "
            f"group_key={connection.effective_group_key} token_action={connection.token_action} "
            f"dry_run={connection.dry_run} enabled={connection.enabled} rate_limit={connection.rate_limit}/min "
            f"token={'revoked' if connection.token_revoked else f'nbscim_{connection.token_prefix}_...'} "
            f"rotated={connection.token_rotated:%Y-%m-%d %H:%M} "
            f"last_used={f'{connection.token_last_used:%Y-%m-%d %H:%M}' if connection.token_last_used else 'never'} "
            f"created_by={connection.created_by or '-'}"
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            for connection in SCIMConnection.objects.all():
                self.stdout.write(self._describe(connection))
            return
        name = options["name"]
        if action == "create":
            if SCIMConnection.objects.filter(name=name).exists():
                raise CommandError(f"a SCIM connection named {name!r} exists; use rotate or set")
            fields = self._fields(options)
            backend = fields.pop("backend")
            if backend == "azuread-oauth2" and not fields.get("tenant_id"):
                raise CommandError(
                    "--tenant-id is required for azuread-oauth2 (Entra ID sign-ins are keyed by tenant and object ID)"
                )
            connection, token = tokens.create_connection(name, backend, created_by="command line", **fields)
            self.stdout.write(self._describe(connection))
            self.stdout.write(f"Token (shown once, store it in the provider now): {token}")
        elif action == "rotate":
            connection = self._get(name)
            token = tokens.rotate(connection)
            self.stdout.write(f"New token for {name} (shown once; the old one no longer works): {token}")
        elif action == "revoke":
            tokens.revoke(self._get(name))
            self.stdout.write(f"Token of {name} revoked: no token works until `netbox sso_scim rotate {name}`")
        elif action == "set":
            connection = self._get(name)
            for field, value in self._fields(options).items():
                setattr(connection, field, value)
            connection.save()
            self.stdout.write(self._describe(connection))
        elif action == "show":
            self.stdout.write(self._describe(self._get(name)))
