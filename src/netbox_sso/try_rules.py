"""The "Try it" page's logic: explain a login against the rules as they are, and as an unsaved edit would make them.

Claims come from pasted JSON (the `netbox-sso explain --claims` document) or from a login captured with
`debug_claims` (an SSOEvent of type claims_captured). Nothing is written: the decision is the pure core's
(`netbox_sso.core.explain`), the rules are compiled by the same parser as at login.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netbox_sso.core.claims import split_sources
from netbox_sso.core.decision import CurrentUser
from netbox_sso.core.errors import ConfigError
from netbox_sso.core.explain import explain, to_dict
from netbox_sso.core.rule_sources import RuleRecord
from netbox_sso.core.rules import SSOConfig

#: Pasted claims larger than this are refused (the page must not cost unbounded work).
MAX_CLAIMS_BYTES = 256 * 1024


@dataclass(frozen=True)
class TryResult:
    """One explanation (`core.explain.to_dict`) or the reason there is none."""

    label: str
    result: dict[str, Any] | None = None
    error: str = ""


def parse_claims(text: str) -> dict[str, Mapping[str, Any] | None]:
    """The claims document from pasted JSON; ValueError with a message naming the problem."""
    if len(text.encode()) > MAX_CLAIMS_BYTES:
        raise ValueError(f"the claims are larger than {MAX_CLAIMS_BYTES // 1024} KiB; paste only the claims")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError('claims must be a JSON object: {"id_token": {...}, "userinfo": {...}} or flat claims')
    return split_sources(document)


def event_claims(details: Any) -> dict[str, Mapping[str, Any] | None]:
    """The claims document of a claims_captured event: its details are the claims per source."""
    if not isinstance(details, Mapping) or not details:
        raise ValueError("this event carries no captured claims")
    sources = details.get("sources", details)  # {"id_token": {...}, "userinfo": {...}, "graph": {...}}
    if not isinstance(sources, Mapping):
        raise ValueError("this event carries no captured claims")
    return split_sources(sources)


def explain_with(
    label: str,
    config: SSOConfig | None,
    problems: list[str],
    backend: str,
    sources: Mapping[str, Mapping[str, Any] | None],
    user: CurrentUser,
) -> TryResult:
    if config is None:
        return TryResult(label, error="The rules would not compile: " + "; ".join(problems))
    try:
        return TryResult(label, to_dict(explain(config, backend, sources, user)))
    except ConfigError as error:
        return TryResult(label, error="; ".join(f"{p.problem} ({p.fix})" for p in error.problems))


def try_login(
    backend: str,
    sources: Mapping[str, Mapping[str, Any] | None],
    user: CurrentUser,
    edit: RuleRecord | None,
    replaces: int | None,
) -> list[TryResult]:
    """The decision with the rules as saved, and (with an edit) as they would be after saving it."""
    from netbox_sso.rule_set import current_config
    from netbox_sso.rule_validation import compile_records, other_records

    try:
        now: SSOConfig | None = current_config()
        problems: list[str] = []
    except Exception as error:  # MappingRulesInvalid: shown, never a 500
        now, problems = None, [str(error)]
    results = [explain_with("Rules as saved", now, problems, backend, sources, user)]
    if edit is not None:
        edited, edit_problems = compile_records([*other_records(replaces), edit])
        label = f"With the unsaved edit (in place of rule #{replaces})" if replaces else "With the unsaved rule added"
        results.append(explain_with(label, edited, edit_problems, backend, sources, user))
    return results
