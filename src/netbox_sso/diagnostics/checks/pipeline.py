"""Checks of SOCIAL_AUTH_PIPELINE against the step roles of the pipeline owner (netbox_sso.pipeline.assemble)."""

from __future__ import annotations

import ast
import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

from netbox_sso.diagnostics.checks.context import Context, finding
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings, suggest
from netbox_sso.pipeline.assemble import (
    ASSOCIATE_BY_EMAIL,
    OTHER_KNOWN_STEPS,
    REFERENCE_ENTRA_STEP,
    REQUIRED_ROLES,
    STEP_ROLES,
    assemble,
)


def check_pipeline(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    config = ctx.config
    raw = settings.get("SOCIAL_AUTH_PIPELINE")
    if raw is None:
        return
    name = "SOCIAL_AUTH_PIPELINE"
    if isinstance(raw, str) or not isinstance(raw, list | tuple) or not all(isinstance(s, str) for s in raw):
        yield finding(
            "config.invalid_type",
            "error",
            name,
            "must be a tuple of dotted step paths",
            "copy NetBox's default pipeline and edit it",
        )
        return
    steps = list(raw)
    for step in sorted({s for s in steps if steps.count(s) > 1}):
        yield finding(
            "pipeline.duplicate_step",
            "error",
            name,
            f"{step} is listed {steps.count(step)} times",
            "list each step once",
        )
    known = known_pipeline_steps()
    for step in steps:
        if step in known:
            continue
        if step.startswith(("social_core.", "netbox_sso.", "netbox.")) or not _module_exists(step):
            close = suggest(step, sorted(known))
            yield finding(
                "pipeline.unknown_step",
                "error",
                f"{name}[{steps.index(step)}]",
                f"{step!r} does not exist; every sign-in fails" + (f"; did you mean {close!r}?" if close else ""),
                f"use {close!r}" if close else "remove it or install the package that provides it",
            )
    positions: dict[str, int] = {}
    for role, paths in STEP_ROLES:
        found = [index for index, step in enumerate(steps) if step in paths]
        if found:
            positions[role] = found[0]
    for role, _paths in STEP_ROLES:
        if role in positions:
            continue
        if role in REQUIRED_ROLES or (role == "get_username" and "create_user" in positions):
            yield finding(
                "pipeline.missing_step",
                "error",
                name,
                f"the {role} step is missing: "
                + ("create_user has no username" if role == "get_username" else "no one can sign in"),
                f"add social_core.pipeline.{'user' if role == 'get_username' else 'social_auth'}.{role} "
                "(NetBox's default pipeline has it)",
            )
        else:
            effect = {
                "create_user": "new users are never created (only accounts already linked can sign in)",
                "load_extra_data": "tokens and expiry are not kept",
                "user_details": "names and email addresses are never updated from the provider",
            }[role]
            yield finding(
                "pipeline.missing_step",
                "warning",
                name,
                f"the {role} step is missing: {effect}",
                f"add the {role} step unless that is intended",
            )
    ordered = [role for role, _ in STEP_ROLES if role in positions]
    for before, after in itertools.pairwise(ordered):
        if positions[before] > positions[after]:
            yield finding(
                "pipeline.order",
                "error",
                name,
                f"{before} must run before {after}, but is listed after it",
                "order the steps as NetBox's default pipeline: social_details, social_uid, social_user, "
                "get_username, create_user, associate_user, load_extra_data, user_details",
            )
    for step in steps:
        if step in ASSOCIATE_BY_EMAIL:
            if settings.plugin_enabled:
                yield finding(
                    "pipeline.associate_by_email",
                    "info",
                    name,
                    "associate_by_email links a sign-in to an existing account with the same email; netbox-sso "
                    "replaces it with a safe version (verified email only, never superusers or break-glass "
                    "accounts)",
                    "",
                )
            else:
                yield finding(
                    "pipeline.associate_by_email",
                    "error",
                    name,
                    "associate_by_email links a sign-in to any existing account with the same email, verified or "
                    "not (account takeover, 'nOAuth')",
                    "remove it, or enable netbox-sso, which makes it safe",
                )
    if REFERENCE_ENTRA_STEP in steps:
        yield finding(
            "pipeline.reference_step",
            "info" if settings.plugin_enabled else "error",
            name,
            f"{REFERENCE_ENTRA_STEP} is not an installed module; "
            + (
                "netbox-sso translates it into its own group-mapping steps at start-up"
                if settings.plugin_enabled
                else "every sign-in fails with ImportError"
            ),
            "" if settings.plugin_enabled else "enable netbox-sso (PLUGINS = ['netbox_sso'])",
        )
    try:
        # As at start-up: with the plugin enabled, database mapping rules need the steps in any case.
        assemble(steps, mapping_enabled=bool(config and config.backends), database_rules=settings.plugin_enabled)
    except ValueError as error:
        yield finding("pipeline.order", "error", name, str(error), "list the mapping steps as described")


def _module_exists(step: str) -> bool:
    module = step.rpartition(".")[0]
    try:
        return bool(module) and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def known_pipeline_steps() -> frozenset[str]:
    """social-core's pipeline functions (read from its source), NetBox's handler and ours."""
    steps = set(OTHER_KNOWN_STEPS)
    for _role, paths in STEP_ROLES:
        steps |= paths
    spec = importlib.util.find_spec("social_core.pipeline")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        for file in Path(directory).glob("*.py"):
            try:
                tree = ast.parse(file.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            steps |= {
                f"social_core.pipeline.{file.stem}.{node.name}"
                for node in tree.body
                if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
            }
    return frozenset(steps)
