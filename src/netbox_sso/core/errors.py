"""Typed errors and warnings, and the one base of every failure a user is shown.

`SSOError` is the base of every sign-in failure that carries a stable `code` (audit trail, tests), a
`subject` (the claim, discovery field, parameter or setting concerned) and `user_message()` (what the
login page shows, never token contents): the provider-response errors (`netbox_sso.core.oidc_errors`,
raised by `core.oidc_checks`), the pipeline's refusals (`netbox_sso.pipeline.errors`). The failure
middleware reads those three and nothing else.

Every configuration problem names the exact setting it concerns (`PLUGINS_CONFIG['netbox_sso'][...]`
or `SOCIAL_AUTH_PIPELINE_CONFIG[...]`), what is wrong, and how to fix it, so one place (NetBox start-up,
`netbox-sso explain`, `netbox-sso check`) can show it verbatim. Problems are collected, not raised one
by one: an administrator fixes a configuration in one pass, not one restart per typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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


class SSOError(Exception):
    """A sign-in failure with a stable code, a subject and a message for the login page.

    Subclasses set `code` (class attribute or instance) and `subject`, and override `user_message()`.
    Adapter errors that must also be social-core exceptions inherit from both (`SSOError` first).
    """

    code: str = "failed"
    subject: str = ""

    def user_message(self) -> str:
        """What the login page shows: specific, but never token contents."""
        return "Single sign-on failed. Please try again or contact your administrator."


class ConfigWarning(str):
    """A valid setting that is probably not what the administrator meant: `path: message`, with a code.

    A `str` (so it logs, compares and is searched like the text it is) carrying the finding `code` that
    `netbox-sso check` reports and the `fix` it suggests.
    """

    path: str
    message: str
    code: str
    fix: str

    def __new__(cls, path: str, message: str, code: str = "mapping.warning", fix: str = "") -> ConfigWarning:
        self = super().__new__(cls, f"{path}: {message}")
        self.path, self.message, self.code, self.fix = path, message, code, fix
        return self

    def __getnewargs__(self) -> tuple[str, str, str, str]:  # type: ignore[override]  # pickling (caches)
        return self.path, self.message, self.code, self.fix


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid setting: where it is, what is wrong, how to fix it (`code`: the `check` finding)."""

    path: str
    problem: str
    fix: str
    code: str = field(default="mapping.invalid", compare=False)

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
