"""The `netbox-sso` command line: one click group, one module per subcommand."""

from __future__ import annotations

import click

# Each module owns one subcommand; the group below collects them (they do not import the group, so the
# package and its modules import one way only).
from netbox_sso.cli.check import check_command
from netbox_sso.cli.devidp import devidp
from netbox_sso.cli.doctor import doctor_command
from netbox_sso.cli.explain import explain_command
from netbox_sso.cli.redirect_uris import redirect_uris_command
from netbox_sso.cli.token import token_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netbox-sso")
def main() -> None:
    """netbox-sso: OpenID Connect single sign-on for NetBox."""


for _command in (check_command, devidp, doctor_command, explain_command, redirect_uris_command, token_command):
    main.add_command(_command)
