"""`netbox-sso explain`: what would a login with these claims do to this user, and why.

Runs the same pure core as the login pipeline on a claims JSON and the mapping configuration (NetBox's
configuration.py, or a YAML/JSON rules file), without NetBox or a database.
Exit status: 0 allowed, 3 refused, 2 configuration or input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from netbox_sso.cli.options import json_option
from netbox_sso.core.claims import split_sources
from netbox_sso.core.config_file import load_configuration, load_rules_file
from netbox_sso.core.decision import CurrentUser
from netbox_sso.core.errors import ConfigError, ConfigProblem
from netbox_sso.core.explain import explain, render, to_dict
from netbox_sso.core.rules import SSOConfig, parse_config

EXIT_ALLOWED, EXIT_CONFIG_ERROR, EXIT_REFUSED = 0, 2, 3


def _load_config(config_file: Path | None, rules_file: Path | None) -> SSOConfig:
    settings = load_configuration(config_file) if config_file else load_rules_file(rules_file)  # type: ignore[arg-type]
    return parse_config(
        settings.plugin_config,
        pipeline_config=settings.pipeline_config,
        remote_auth_default_groups=settings.remote_auth_default_groups,
    )


def _load_claims(path: Path) -> dict[str, Any]:
    def bad(problem: str) -> ConfigError:
        return ConfigError(
            ConfigProblem(str(path), problem, 'write {"id_token": {...}, "userinfo": {...}} or a flat claims object')
        )

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"cannot read claims JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise bad(f"claims must be a JSON object, got {type(document).__name__}")
    try:
        return split_sources(document)
    except ValueError as exc:
        raise bad(str(exc)) from exc


def _pick_backend(config: SSOConfig, backend: str | None) -> str:
    if backend:
        return backend
    if len(config.backends) == 1:
        return next(iter(config.backends))
    configured = ", ".join(repr(name) for name in sorted(config.backends)) or "none"
    raise ConfigError(
        ConfigProblem("--backend", f"several or no backends have rules ({configured})", "pass --backend NAME")
    )


@click.command("explain")
@click.option(
    "--claims",
    "claims_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Claims JSON: {"id_token": {...}, "userinfo": {...}, "graph": [...]} or flat ID-token claims.',
)
@click.option("--backend", default=None, help="Backend name, e.g. oidc (default: the only one with rules).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="NetBox configuration.py (executed in isolation; it is your code).",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON rules file: the content of PLUGINS_CONFIG['netbox_sso'].",
)
@click.option("--user-groups", default="", help="Comma-separated NetBox groups the user has now.")
@click.option("--username", default="sso-user", show_default=True, help="Username (break-glass check).")
@click.option("--superuser", is_flag=True, help="The user is a superuser now.")
@click.option("--new", "is_new", is_flag=True, help="First login: the user is being created.")
@json_option
@click.pass_context
def explain_command(
    ctx: click.Context,
    claims_file: Path,
    backend: str | None,
    config_file: Path | None,
    rules_file: Path | None,
    user_groups: str,
    username: str,
    superuser: bool,
    is_new: bool,
    as_json: bool,
) -> None:
    """Show what a login with these claims would do: allowed or refused, groups, superuser, and why."""
    if (config_file is None) == (rules_file is None):
        raise click.UsageError("pass exactly one of --config or --rules")
    user = CurrentUser(
        username=username,
        groups=frozenset(name.strip() for name in user_groups.split(",") if name.strip()),
        is_superuser=superuser,
        is_new=is_new,
    )
    try:
        config = _load_config(config_file, rules_file)
        sources = _load_claims(claims_file)
        explanation = explain(config, _pick_backend(config, backend), sources, user)
    except ConfigError as exc:
        if as_json:
            problems = [{"path": p.path, "problem": p.problem, "fix": p.fix} for p in exc.problems]
            click.echo(json.dumps({"error": "configuration", "problems": problems}, indent=2))
        else:  # plain text, unwrapped: paths and fixes are copied from here
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
        ctx.exit(EXIT_CONFIG_ERROR)
        return
    if as_json:
        click.echo(json.dumps(to_dict(explanation), indent=2))
    else:
        Console(highlight=False).print(render(explanation))
    ctx.exit(EXIT_ALLOWED if explanation.decision.allowed else EXIT_REFUSED)
