"""`netbox-sso doctor`: probe each configured identity provider live, as NetBox will call it.

Discovery, TLS, DNS, JWKS, the token endpoint and the client ID and secret (a code exchange with a made-up
code, authenticated as the backend does), clock skew and the redirect URI registration, each with a bounded
timeout (see netbox_sso.diagnostics.probes). Exit status: 0 healthy, 1 warnings, 2 errors.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from netbox_sso.cli.check import emit, load_or_exit
from netbox_sso.cli.options import base_url_option, ca_bundle_option, config_option, json_option
from netbox_sso.diagnostics.findings import exit_code, print_findings
from netbox_sso.diagnostics.probes import DEFAULT_TIMEOUT, DoctorResult, run_doctor

_MARK = {
    "ok": "[green]ok[/]",
    "failed": "[red]failed[/]",
    "skipped": "[dim]skipped[/]",
    "inconclusive": "[yellow]inconclusive[/]",
}


def print_doctor(console: Console, path: Path, result: DoctorResult) -> None:
    console.print(f"[bold]{escape(str(path))}[/]", soft_wrap=True)
    for report in result.reports:
        probes = "  ".join(f"{name} {_MARK[state]}" for name, state in report.probes.items())
        console.print(f"[bold]{report.backend}[/]  {escape(report.discovery_url)}", soft_wrap=True)
        console.print(f"  {probes}", soft_wrap=True)
    if result.redirect_uris:
        console.print("[bold]Redirect URIs to register at the identity provider:[/]")
        for uri in result.redirect_uris:
            console.print(f"  {uri.backend:<26} {escape(uri.uri)}", soft_wrap=True)
    print_findings(console, [f for f in result.all_findings() if f.code != "redirect.uris"])


@click.command("doctor")
@config_option
@base_url_option
@ca_bundle_option
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 60),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds allowed for each request to the identity provider.",
)
@json_option
@click.pass_context
def doctor_command(
    ctx: click.Context,
    config_file: Path | None,
    base_url: str | None,
    ca_bundle: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Probe each configured identity provider live and print the redirect URIs to register."""
    path, settings = load_or_exit(ctx, config_file, as_json)
    result = run_doctor(settings, base_url=base_url, timeout=timeout, ca_bundle=ca_bundle)
    findings = result.all_findings()
    if as_json:
        extra = {
            "backends": [r.to_dict() for r in result.reports],
            "redirect_uris": [{"backend": u.backend, "uri": u.uri} for u in result.redirect_uris],
        }
        ctx.exit(emit(findings, path, True, extra))
        return
    print_doctor(Console(highlight=False), path, result)
    ctx.exit(exit_code(findings))
