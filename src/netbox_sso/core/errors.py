"""Typed errors of the pure core.

Every configuration problem names the exact setting it concerns (`PLUGINS_CONFIG['netbox_sso'][...]`
or `SOCIAL_AUTH_PIPELINE_CONFIG[...]`), what is wrong, and how to fix it, so one place (NetBox start-up,
`netbox-sso explain`, `netbox-sso check`) can show it verbatim. Problems are collected, not raised one
by one: an administrator fixes a configuration in one pass, not one restart per typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PLUGIN_ROOT = "PLUGINS_CONFIG['netbox_sso']"
LEGACY_ROOT = "SOCIAL_AUTH_PIPELINE_CONFIG"


def setting_path(root: str, *keys: str | int) -> str:
    """Spell a setting the way it is written in configuration.py: `root['a'][0]['b']`."""
    return root + "".join(f"[{key!r}]" for key in keys)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'did you mean 'x'?' for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


class SSOCoreError(Exception):
    """Base class of every error raised by `netbox_sso.core`."""


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid setting: where it is, what is wrong, how to fix it."""

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}. Fix: {self.fix}"


class ConfigError(SSOCoreError, ValueError):
    """The configuration is invalid; carries every problem found, in configuration order."""

    def __init__(self, problems: ConfigProblem | Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = (
            (problems,) if isinstance(problems, ConfigProblem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__(self._message())

    @property
    def path(self) -> str:
        """The setting path of the first problem."""
        return self.problems[0].path

    def _message(self) -> str:
        if len(self.problems) == 1:
            return f"netbox-sso configuration: {self.problems[0]}"
        lines = [f"netbox-sso configuration: {len(self.problems)} problems:"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)
