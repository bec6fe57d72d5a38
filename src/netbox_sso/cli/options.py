"""Options several subcommands share, worded once (the help reads the same in every subcommand)."""

from __future__ import annotations

from pathlib import Path

import click

CONFIG_HELP = "NetBox configuration.py or a file of Python overrides (default: $NETBOX_ROOT/conf/configuration.py)."

config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP
)
base_url_option = click.option(
    "--base-url", default=None, help="NetBox's public URL, e.g. https://netbox.example.com/ ."
)
ca_bundle_option = click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM bundle of CAs to trust (default: REQUESTS_CA_BUNDLE, else the system's).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
