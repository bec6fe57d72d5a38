"""Explain a login: run the pure core on captured claims and present the decision.

`explain()` does what the pipeline does (read the groups claim, decide) without touching NetBox;
`to_dict()` is the machine form (`netbox-sso explain --json`), `render()` the human one (rich). Every
string that comes from claims or configuration is rendered as plain text, never as rich markup, so a
group named `[bold]` prints as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from netbox_sso.core.claims import GroupsReading, read_groups
from netbox_sso.core.decision import CurrentUser, Decision, decide
from netbox_sso.core.errors import PLUGIN_ROOT, ConfigError, ConfigProblem, did_you_mean, setting_path
from netbox_sso.core.rules import BackendRules, SSOConfig

_SAMPLE = 20


@dataclass(frozen=True)
class Explanation:
    """Everything `netbox-sso explain` shows about one (simulated) login."""

    backend: str
    rules: BackendRules
    reading: GroupsReading
    decision: Decision
    user: CurrentUser
    break_glass: bool
    config_warnings: tuple[str, ...] = ()

    @property
    def groups_after(self) -> frozenset[str]:
        return (self.user.groups - self.decision.remove_groups) | self.decision.add_groups

    @property
    def superuser_after(self) -> bool:
        flag = self.decision.set_superuser
        return self.user.is_superuser if flag is None else flag


def explain(
    config: SSOConfig, backend: str, sources: Mapping[str, Mapping[str, Any] | None], user: CurrentUser
) -> Explanation:
    """Decide as the pipeline would; ConfigError when the backend has no rules."""
    rules = config.rules_for(backend)
    if rules is None:
        configured = sorted(config.backends)
        suggestion = did_you_mean(backend, configured)
        raise ConfigError(
            ConfigProblem(
                setting_path(PLUGIN_ROOT, "backends", backend),
                f"no mapping rules for backend {backend!r}",
                (f"{suggestion} " if suggestion else "")
                + f"configured backends: {', '.join(map(repr, configured)) or 'none'}",
            )
        )
    reading = read_groups(rules, sources)
    break_glass = config.is_break_glass(user.username)
    decision = decide(rules, reading, user, break_glass=break_glass)
    return Explanation(backend, rules, reading, decision, user, break_glass, config.warnings)


def to_dict(explanation: Explanation) -> dict[str, Any]:
    """JSON-ready form; sets become sorted lists."""
    reading, decision, user = explanation.reading, explanation.decision, explanation.user
    return {
        "backend": explanation.backend,
        "rules": explanation.rules.setting,
        "allowed": decision.allowed,
        "refusal": decision.refusal,
        "user": {
            "username": user.username,
            "groups": sorted(user.groups),
            "is_superuser": user.is_superuser,
            "is_new": user.is_new,
            "break_glass": explanation.break_glass,
        },
        "groups_claim": {
            "claim": reading.claim,
            "source": reading.source,
            "consulted": list(reading.consulted),
            "values": None if reading.values is None else sorted(reading.values),
            "problem": reading.problem,
            "overage": reading.overage,
        },
        "add_groups": sorted(decision.add_groups),
        "remove_groups": sorted(decision.remove_groups),
        "set_superuser": decision.set_superuser,
        "managed_groups": sorted(decision.managed_groups),
        "groups_after": sorted(explanation.groups_after) if decision.allowed else sorted(user.groups),
        "superuser_after": explanation.superuser_after,
        "warnings": list(decision.warnings),
        "config_warnings": list(explanation.config_warnings),
        "reasons": list(decision.reasons),
    }


def _names(values: frozenset[str] | set[str] | list[str]) -> str:
    ordered = sorted(values)
    text = ", ".join(ordered[:_SAMPLE])
    return text + (f" (+{len(ordered) - _SAMPLE} more)" if len(ordered) > _SAMPLE else "")


def render(explanation: Explanation) -> RenderableType:
    """Human form: verdict, claim, changes, superuser, warnings, then the reason lines."""
    decision, reading, user = explanation.decision, explanation.reading, explanation.user
    parts: list[RenderableType] = []
    verdict = Text()
    if decision.allowed:
        verdict.append("ALLOWED", style="bold green")
    else:
        verdict.append("REFUSED", style="bold red")
    verdict.append(f"  backend {explanation.backend!r}, user {user.username!r}")
    verdict.append(" (new)" if user.is_new else "")
    verdict.append(" (break-glass)" if explanation.break_glass else "", style="yellow")
    parts.append(verdict)
    parts.append(Text(f"rules: {explanation.rules.setting}", style="dim"))
    if decision.refusal:
        parts.append(Text(decision.refusal, style="red"))

    claim = Text(f"groups claim {reading.claim!r}: ")
    if reading.values is None:
        claim.append("not available", style="yellow")
        claim.append(f" ({reading.problem})" if reading.problem else "")
    else:
        claim.append(f"{len(reading.values)} value(s) from {reading.source}")
        if reading.values:
            claim.append(f": {_names(reading.values)}", style="cyan")
    parts.append(claim)

    if not decision.allowed:
        parts.append(Text("no changes: the login is refused"))
    else:
        parts.append(_changes_table(explanation))

    flag = decision.set_superuser
    superuser = Text("superuser: ")
    if flag is None:
        superuser.append(f"unchanged ({'yes' if user.is_superuser else 'no'})")
    else:
        superuser.append("granted" if flag else "revoked", style="bold green" if flag else "bold red")
    parts.append(superuser)

    for warning in (*decision.warnings, *explanation.config_warnings):
        parts.append(Text(f"warning: {warning}", style="yellow"))

    if decision.reasons:
        parts.append(Text("why:", style="bold"))
        prefix = explanation.rules.setting
        for line in decision.reasons:
            # The rules' own path is printed once above; shortening keeps each line readable.
            parts.append(Text(f"  - {line.replace(prefix, '')}"))
    return Group(*parts)


def _changes_table(explanation: Explanation) -> Table:
    decision, user = explanation.decision, explanation.user
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("change")
    table.add_column("NetBox groups")
    table.add_row(Text("add", style="green"), Text(_names(decision.add_groups) or "-"))
    table.add_row(Text("remove", style="red"), Text(_names(decision.remove_groups) or "-"))
    kept = (user.groups & decision.managed_groups) - decision.remove_groups
    table.add_row(Text("keep (managed)"), Text(_names(kept) or "-"))
    untouched = user.groups - decision.managed_groups
    table.add_row(Text("untouched (not managed)", style="dim"), Text(_names(untouched) or "-"))
    return table
