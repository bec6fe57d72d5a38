"""Validation of a mapping-rule change before it is saved (form, bulk import, REST API), never an HTTP 500.

The rule set as it would be after the change (configuration.py plus every database rule, with the candidate
in place of the rule it edits) goes through the same parser that validates configuration.py
(`netbox_sso.conf.compile_config`), so a bad regex, a duplicate rule or a group name NetBox would never match
is reported with the parser's own message and fix.

A change that takes superuser away from every SSO account of a backend that holds it today (the superuser
rules before and after share no IdP value, or superuser becomes managed where it was not) is reported as a
risk; the form asks for confirmation before saving it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from netbox_sso.core.errors import ConfigError, ConfigProblem
from netbox_sso.core.rule_sources import BackendSettingsRecord, RuleRecord, shape_problems
from netbox_sso.core.rules import SSOConfig


@dataclass(frozen=True)
class RuleCheck:
    """The outcome of checking a change: errors (field or None, message), warnings, superuser risk."""

    errors: tuple[tuple[str | None, str], ...] = ()
    warnings: tuple[str, ...] = ()
    superuser_risk: str = ""
    config: SSOConfig | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors


def _problem_text(problem: ConfigProblem) -> str:
    return f"{problem.problem}. Fix: {problem.fix} (as configuration: {problem.path})"


def problem_field(problem: ConfigProblem) -> str | None:
    """The rule field a parser problem is about, from its setting path (None: the rule as a whole)."""
    path = problem.path
    if path.endswith(("['groups']", "['default_groups']")) or "['groups'][" in path or "['default_groups'][" in path:
        return "groups"
    if any(
        key in path
        for key in ("['group_map']", "['regex']", "['match']", "['superuser_groups']", "['required_groups']")
    ):
        return "value"
    return None


def compile_problems(
    records: Iterable[RuleRecord], backend_settings: Iterable[BackendSettingsRecord] | None = None
) -> tuple[SSOConfig | None, list[ConfigProblem]]:
    """(merged config, []) or (None, the parser's problems); backend settings default to the saved ones."""
    from netbox_sso.conf import compile_config
    from netbox_sso.rule_set import database_settings

    try:
        settings = database_settings() if backend_settings is None else backend_settings
        return compile_config(list(records), settings), []
    except ConfigError as error:
        return None, list(error.problems)


def compile_records(
    records: Iterable[RuleRecord], backend_settings: Iterable[BackendSettingsRecord] | None = None
) -> tuple[SSOConfig | None, list[str]]:
    """(merged config, []) or (None, the parser's problems as text)."""
    config, problems = compile_problems(records, backend_settings)
    return config, [_problem_text(problem) for problem in problems]


#: Backend-settings fields by the configuration key a parser problem names.
_SETTINGS_FIELDS = {
    "groups_claim": "groups_claim",
    "groups_sources": "groups_sources",
    "case": "case",
    "strip_prefixes": "strip_prefixes",
    "missing_claim": "missing_claim",
}


def check_settings(candidate: BackendSettingsRecord, *, replaces: int | None = None) -> RuleCheck:
    """Check the rule set with these backend settings saved (in place of row `replaces`)."""
    from netbox_sso.rule_set import database_settings

    if not candidate.backend.strip():
        return RuleCheck(errors=(("backend", "name the social-core backend, e.g. 'oidc'"),))
    others = database_settings(exclude_pk=replaces)
    if any(other.backend == candidate.backend for other in others):
        return RuleCheck(errors=(("backend", f"backend {candidate.backend!r} already has settings; edit them"),))
    records = other_records(None)
    after, problems = compile_problems(records, [*others, candidate])
    if after is None:
        errors = []
        for problem in problems:
            field_name = next((f for key, f in _SETTINGS_FIELDS.items() if f"['{key}']" in problem.path), None)
            errors.append((field_name, _problem_text(problem)))
        return RuleCheck(errors=tuple(errors))
    before, _ = compile_problems(records)
    known = set(before.warnings) if before is not None else set()
    return RuleCheck(warnings=tuple(w for w in after.warnings if w not in known), config=after)


def other_records(exclude_pk: int | None) -> tuple[RuleRecord, ...]:
    from netbox_sso.models import MappingRule
    from netbox_sso.rule_set import database_records

    queryset = MappingRule.objects.all()
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return database_records(queryset)


def check_change(candidate: RuleRecord | None, *, replaces: int | None = None) -> RuleCheck:
    """Check the rule set with `candidate` added (or in place of rule `replaces`; None: that rule deleted)."""
    if candidate is not None:
        shape = shape_problems(candidate)
        if shape:
            return RuleCheck(errors=tuple(shape))
    others = other_records(replaces)
    before_records = other_records(None)
    if candidate is not None:
        same = [
            r.pk
            for r in others
            if (r.backend, r.effect, r.match_type, r.value)
            == (candidate.backend, candidate.effect, candidate.match_type, candidate.value)
        ]
        if same:
            return RuleCheck(
                errors=(
                    (
                        None,
                        f"duplicate rule: rule #{same[0]} already has this backend, effect, "
                        "match type and IdP value; edit that rule instead",
                    ),
                )
            )
    after_records = [*others, *([candidate] if candidate is not None else [])]
    after, problems = compile_problems(after_records)
    if after is None:
        return RuleCheck(errors=tuple((problem_field(problem), _problem_text(problem)) for problem in problems))
    before, _ = compile_records(before_records)
    known = set(before.warnings) if before is not None else set()
    warnings = tuple(w for w in after.warnings if w not in known)
    backends = {r.backend for r in (candidate, *[r for r in before_records if r.pk == replaces]) if r is not None}
    return RuleCheck(warnings=warnings, superuser_risk=superuser_risk(before, after, backends), config=after)


def superuser_risk(before: SSOConfig | None, after: SSOConfig, backends: Iterable[str]) -> str:
    """A sentence when the change would take superuser from every SSO account of a backend that has it now."""
    if before is None:
        return ""
    for backend in sorted(backends):
        old = before.backends[backend].superuser_groups if backend in before.backends else None
        new = after.backends[backend].superuser_groups if backend in after.backends else None
        if new is None or old == new or (old is not None and not old.isdisjoint(new)):
            continue
        holders = superusers_of(backend)
        if not holders:
            continue
        granted = "no superuser rule" if old is None else f"superuser granted for {_values(old)}"
        return (
            f"Backend {backend!r} has {granted} today; after this change only {_values(new)} grants it, so "
            f"the next SSO login of each of its {len(holders)} superuser account(s) "
            f"({', '.join(holders[:5])}{' ...' if len(holders) > 5 else ''}) removes superuser unless the "
            "provider sends that value."
        )
    return ""


def superusers_of(backend: str) -> list[str]:
    """Usernames of superuser accounts linked to `backend` through social auth."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_superuser=True, social_auth__provider=backend)
    return sorted(set(users.values_list("username", flat=True)))


def _values(values: Sequence[str] | frozenset[str]) -> str:
    return ", ".join(repr(v) for v in sorted(values))
