"""`netbox-sso devidp`: run the local OpenID Connect identity provider until Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from netbox_sso.devidp import SAMPLE_USERS_FILE, DevIdP, load_users_file
from netbox_sso.devidp.profiles import make_profile
from netbox_sso.devidp.server import is_loopback

PROFILE_CHOICES = ("generic", "keycloak", "okta", "entra", "authentik")


@click.command("devidp")
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    default=("generic",),
    show_default=True,
    help=f"Profile to serve, repeatable: {', '.join(PROFILE_CHOICES)} (kind:prefix for a custom prefix).",
)
@click.option(
    "--users",
    "users_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Users file (YAML or JSON). Default: the bundled sample users.",
)
@click.option("--port", type=int, default=9000, show_default=True, help="TCP port (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback only by default).")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a generated local CA (printed below).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".state/devidp"),
    show_default=True,
    help="Where keys and the local CA are kept between runs.",
)
@click.option("--allow-non-loopback", is_flag=True, help="Permit a non-loopback --host. Dangerous.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request to stderr.")
def devidp(
    profiles: tuple[str, ...],
    users_file: Path | None,
    port: int,
    host: str,
    tls: bool,
    state_dir: Path,
    allow_non_loopback: bool,
    verbose: bool,
) -> None:
    """Serve a local OpenID Connect identity provider for tests and demos."""
    if not is_loopback(host):
        if not allow_non_loopback:
            raise click.UsageError(f"--host {host} is not a loopback address; add --allow-non-loopback to insist")
        click.secho(
            f"WARNING: devidp is binding {host}. It signs anyone in as any user with one click and exposes a "
            "control API. Never do this on a network you do not fully control.",
            fg="red",
            bold=True,
            err=True,
        )
    try:
        built = [make_profile(p) for p in profiles]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--profile") from exc
    directory = load_users_file(users_file or SAMPLE_USERS_FILE)
    idp = DevIdP(
        users=directory,
        profiles=built,
        host=host,
        port=port,
        tls=tls,
        state_dir=state_dir,
        allow_non_loopback=allow_non_loopback,
        verbose=verbose,
    )
    idp.start()
    click.secho(f"devidp listening on {idp.base_url}", bold=True)
    if idp.ca_bundle:
        click.echo(f"  CA bundle:  {idp.ca_bundle}   (export REQUESTS_CA_BUNDLE={idp.ca_bundle})")
    for profile in idp.profiles.values():
        click.echo(f"\n[{profile.kind}] {profile.title}")
        for label, value in profile.banner():
            click.echo(f"  {label + ':':<16}{value}")
    click.echo("\nClients:")
    for client in idp.clients.values():
        click.echo(f"  {client.client_id}  redirect_uris={', '.join(client.redirect_uris) or '-'}")
    click.echo("\nUsers:")
    for user in idp.users.values():
        groups = ", ".join(user.groups[:6]) + (f" (+{len(user.groups) - 6} more)" if len(user.groups) > 6 else "")
        extra = " [password]" if user.password else ""
        extra += " [disabled]" if user.disabled else ""
        click.echo(f"  {user.username:<10} {user.claims.get('email', ''):<24} groups: {groups or '-'}{extra}")
    click.echo(f"\nControl API: {idp.base_url}/_devidp/   Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    try:
        idp.serve_forever()
    except KeyboardInterrupt:
        click.echo("\ndevidp stopped.")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
