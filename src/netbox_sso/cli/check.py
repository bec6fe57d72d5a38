"""`netbox-sso check`: every misconfiguration of NetBox's SSO settings, without network or Django.

Reads configuration.py (or a file of Python overrides such as the admin console's box), executed in
isolation. Exit status: 0 clean (notes only), 1 warnings, 2 errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from netbox_sso.cli.options import config_option, json_option
from netbox_sso.diagnostics.findings import EXIT_ERRORS, Finding, exit_code, print_findings, summary
from netbox_sso.diagnostics.settings import NetBoxSettings, SettingsLoadError, default_config_path, load_settings
from netbox_sso.diagnostics.static import netbox_group_names, run_checks


def config_path(value: Path | None) -> Path:
    return value if value is not None else default_config_path()


def load_error_finding(error: SettingsLoadError, path: Path) -> Finding:
    return Finding(error.code, "error", str(path), error.problem, error.fix)


def load_or_exit(ctx: click.Context, config_file: Path | None, as_json: bool) -> tuple[Path, NetBoxSettings]:
    """The configuration file's settings; an unreadable file is reported as a finding and exits 2."""
    path = config_path(config_file)
    try:
        return path, load_settings(path)
    except SettingsLoadError as error:
        emit([load_error_finding(error, path)], path, as_json)
        ctx.exit(EXIT_ERRORS)
        raise  # unreachable: ctx.exit raises


def emit(findings: list[Finding], path: Path, as_json: bool, extra: dict | None = None) -> int:
    """Print the report (JSON or terminal) and return the exit status."""
    code = exit_code(findings)
    if as_json:
        document = {
            "config": str(path),
            **(extra or {}),
            "findings": [f.to_dict() for f in findings],
            "summary": summary(findings),
            "exit_code": code,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        console = Console(highlight=False)
        console.print(f"[bold]{path}[/]", soft_wrap=True)
        print_findings(console, findings)
    return code


@click.command("check")
@config_option
@click.option("--database", is_flag=True, help="Also check that mapped NetBox groups exist (reads NetBox's database).")
@json_option
@click.pass_context
def check_command(ctx: click.Context, config_file: Path | None, database: bool, as_json: bool) -> None:
    """Report every SSO misconfiguration: the setting, the problem and the fix (no network)."""
    path, settings = load_or_exit(ctx, config_file, as_json)
    existing: set[str] | None = None
    groups_error: str | None = None
    if database:
        try:
            existing = netbox_group_names(settings)
        except Exception as error:  # driver missing, database down, bad credentials: a note, not a crash
            groups_error = f"{type(error).__name__}: {error}".strip()
    ctx.exit(emit(run_checks(settings, existing_groups=existing, groups_error=groups_error), path, as_json))
