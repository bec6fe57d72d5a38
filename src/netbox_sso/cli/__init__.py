"""The `netbox-sso` command line: one click group, one module per subcommand."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netbox-sso")
def main() -> None:
    """netbox-sso: OpenID Connect single sign-on for NetBox."""


def _register() -> None:
    # Subcommands register themselves on import; each module owns one subcommand.
    from netbox_sso.cli import check, devidp, doctor, explain, redirect_uris, token  # noqa: F401


_register()
