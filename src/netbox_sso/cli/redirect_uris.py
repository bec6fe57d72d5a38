"""`netbox-sso redirect-uris`: the exact redirect URIs NetBox sends, one per enabled SSO backend.

Built as NetBox builds them (BASE_PATH, SOCIAL_AUTH_REDIRECT_IS_HTTPS, the public URL); notes about how
they are built go to stderr, so stdout is one URI per line for scripts. Exit status 2 when the
configuration cannot be read or enables no SSO backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from netbox_sso.cli.check import config_path
from netbox_sso.cli.options import base_url_option, config_option, json_option
from netbox_sso.diagnostics.findings import EXIT_CLEAN, EXIT_ERRORS
from netbox_sso.diagnostics.redirects import redirect_uris
from netbox_sso.diagnostics.settings import SettingsLoadError, load_settings


@click.command("redirect-uris")
@config_option
@base_url_option
@json_option
@click.pass_context
def redirect_uris_command(ctx: click.Context, config_file: Path | None, base_url: str | None, as_json: bool) -> None:
    """Print the redirect URIs to register at the identity provider."""
    path = config_path(config_file)
    try:
        settings = load_settings(path)
    except SettingsLoadError as error:
        click.echo(f"error: {path}: {error.problem}. Fix: {error.fix}", err=True)
        ctx.exit(EXIT_ERRORS)
        return
    backends = [backend.name for backend in settings.sso_backends()]
    uris, notes = redirect_uris(settings, backends, base_url)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "redirect_uris": [{"backend": u.backend, "uri": u.uri} for u in uris],
                    "notes": [n.to_dict() for n in notes],
                },
                indent=2,
            )
        )
    else:
        for uri in uris:
            click.echo(uri.uri)
        for note in notes:
            click.echo(f"{note.severity}: {note.problem}" + (f" Fix: {note.fix}" if note.fix else ""), err=True)
    if not backends:
        click.echo("error: REMOTE_AUTH_BACKEND enables no single sign-on backend", err=True)
        ctx.exit(EXIT_ERRORS)
        return
    ctx.exit(EXIT_CLEAN)
