"""Mapping rules: the native format, the reference's legacy format, validation and compilation.

Native format (`PLUGINS_CONFIG['netbox_sso']` in NetBox's configuration.py)::

    PLUGINS_CONFIG = {'netbox_sso': {
        'break_glass_users': ['admin'],          # local accounts that mapping never changes
        'backends': {                            # keyed by social-core backend name; several at once
            'oidc': {
                'groups_claim': 'groups',        # dotted string (exact key first, then dot path) or a
                                                 # list of keys: ['resource_access', 'netbox.app', 'roles']
                'groups_sources': ['id_token', 'userinfo'],   # precedence; 'graph' for Entra ID only
                'normalize': {'case': 'lower', 'strip_prefixes': ['/']},   # 'preserve' (default) | 'lower'
                'group_map': {'netbox-admins': ['Admins'], 'ops': 'Operators'},   # IdP value -> group(s)
                'group_patterns': [{'match': 'team-*', 'groups': ['Teams']},      # glob, whole value
                                   {'regex': '^site-[a-z]+$', 'groups': 'Site staff'}],  # re.search
                'superuser_groups': ['netbox-admins'],   # grant is_superuser; revoke when in none
                'required_groups': ['netbox-users'],     # refuse login unless one is present
                'default_groups': ['Viewers'],           # NetBox groups added on a user's first login
                'missing_claim': 'keep',                 # 'keep' (change nothing, warn) | 'refuse'
                'create_groups': False,                  # create mapped NetBox groups that do not exist
                'permissions': {'Operators': [           # "permissions as code" (ObjectPermission rows)
                    {'name': 'ops-dcim', 'actions': ['view', 'change'],
                     'object_types': ['dcim.site', 'dcim.device'], 'constraints': None,
                     'description': '', 'enabled': True}]},
            },
        },
    }}

Every key is optional. Defaults: groups_claim 'groups'; groups_sources ['id_token', 'graph'] for Entra
ID backends (names starting 'azuread' or 'microsoft', or containing 'entra') and ['id_token', 'userinfo']
otherwise; case 'preserve'; missing_claim 'keep'; create_groups False. `superuser_groups` absent (or None)
means superuser is never changed; an empty list is an error (it would revoke every superuser).
NetBox's REMOTE_AUTH_DEFAULT_GROUPS are added to every backend's default_groups.

Rule keys (group_map keys, superuser_groups, required_groups) are normalized like claim values at parse
time, so they may be written in either form (`'/netbox/admins'` or `'netbox/admins'`). Patterns match
the normalized value; with case 'lower' they are compiled case-insensitive. Globs (fnmatch: `*`, `?`,
`[...]`) must match the whole value; regexes use `re.search`, so anchor them with `^...$`.

Legacy format (the reference manual's `SOCIAL_AUTH_PIPELINE_CONFIG`)::

    SOCIAL_AUTH_PIPELINE_CONFIG = {
        'AZUREAD_USER_FLAGS_BY_GROUP': {'is_superuser': ['<object-id>'], 'is_staff': ['<object-id>']},
        'AZUREAD_GROUP_MAP': {'<object-id>': '<netbox-group-name>'},
    }

is translated into native rules for backend 'azuread-oauth2': groups claim 'groups' from the ID token,
then Graph on overage; case-insensitive matching (object IDs are GUIDs); groups must already exist
(create_groups False), as the reference says. `is_staff` does not exist on NetBox >= 4.5: accepted,
ignored, reported in `SSOConfig.warnings`. Native rules and the legacy config for the same backend are an
error: one source of truth.

Unknown keys are errors with a "did you mean" suggestion. Every key is declared in
`netbox_sso.core.settings_schema`; the top-level keys outside the mapping rules (hardening, sessions,
audit) are validated here with the schema's validators, so one call reports every problem. Callers may
declare further keys (`other_top_level_keys`, `other_backend_keys`), accepted without parsing.

Matching is compiled here, once: exact values go into a dict; wildcard-free globs into a dict; globs
and `^literal...` regexes are indexed by literal prefix; only patterns with no literal prefix are
scanned, behind one combined regex that skips values none of them can match.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from netbox_sso.core import settings_schema
from netbox_sso.core.claims import MAX_VALUE_LENGTH, SOURCES, ClaimPath, Normalization
from netbox_sso.core.errors import (
    LEGACY_ROOT,
    PLUGIN_ROOT,
    ConfigError,
    ConfigProblem,
    ConfigWarning,
    did_you_mean,
    setting_path,
)
from netbox_sso.core.regex_bounds import backtracking_risk

#: The backend the reference's SOCIAL_AUTH_PIPELINE_CONFIG applies to.
LEGACY_BACKEND = "azuread-oauth2"
#: NetBox's users.Group.name max_length.
MAX_GROUP_NAME_LENGTH = 150
#: NetBox's ObjectPermission.name max_length.
MAX_PERMISSION_NAME_LENGTH = 100

#: Every key of PLUGINS_CONFIG['netbox_sso'] and of a backend's entry: declared in core.settings_schema.
TOP_LEVEL_KEYS = settings_schema.TOP_LEVEL_KEYS
BACKEND_KEYS = settings_schema.BACKEND_KEYS
NORMALIZE_KEYS = ("case", "strip_prefixes")
PATTERN_KEYS = ("match", "regex", "groups")
PERMISSION_KEYS = ("name", "actions", "object_types", "constraints", "description", "enabled")
LEGACY_KEYS = ("AZUREAD_USER_FLAGS_BY_GROUP", "AZUREAD_GROUP_MAP")
LEGACY_FLAG_KEYS = ("is_superuser", "is_staff")
CASES = ("preserve", "lower")
MISSING_CLAIM_MODES = ("keep", "refuse")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_OBJECT_TYPE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
# Regex features that would change meaning once the pattern is embedded in a combined alternation.
_UNSAFE_TO_COMBINE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(|\(\?[aiLmsux]+\)")
# Keys someone may reach for that do not exist: explain instead of only suggesting a near spelling.
_KEY_HINTS = {
    "staff_groups": "NetBox >= 4.5 has no staff flag (is_staff was removed); use superuser_groups or "
    "ObjectPermissions through permissions",
    "is_staff": "NetBox >= 4.5 has no staff flag (is_staff was removed)",
    "admin_groups": "superuser_groups grants NetBox superuser",
    "allowed_groups": "required_groups refuses login unless the user has one of these IdP values",
}


def is_entra_backend(name: str) -> bool:
    """True for Microsoft Entra ID backends (where Graph and object-ID group values apply)."""
    lowered = name.lower()
    return lowered.startswith(("azuread", "microsoft")) or "entra" in lowered


@dataclass(frozen=True)
class PermissionSpec:
    """One declared ObjectPermission ("permissions as code"), attached to a NetBox group."""

    name: str
    actions: tuple[str, ...]
    object_types: tuple[str, ...]
    constraints: dict[str, Any] | list[dict[str, Any]] | None = None
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class GroupPattern:
    """A glob (`kind='match'`, whole value) or regex (`kind='regex'`, re.search) mapping to groups."""

    kind: Literal["match", "regex"]
    pattern: str
    groups: frozenset[str]
    ignore_case: bool = False
    label: str = field(default="", compare=False)
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)
    #: `regex.match` for globs (whole value: the translation ends in \Z), `regex.search` for regexes.
    test: Callable[[str], re.Match[str] | None] = field(init=False, compare=False, repr=False)
    #: The reason line up to the matched values, and after them (built once, not per login).
    reason_head: str = field(init=False, compare=False, repr=False)
    reason_tail: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        source = fnmatch.translate(self.pattern) if self.kind == "match" else self.pattern
        regex = re.compile(source, re.IGNORECASE if self.ignore_case else 0)
        set_ = object.__setattr__
        set_(self, "regex", regex)
        set_(self, "test", regex.match if self.kind == "match" else regex.search)
        set_(self, "reason_head", f"{self.label or self.kind}: {self.kind} {self.pattern!r} matched ")
        set_(self, "reason_tail", " -> " + ", ".join(repr(group) for group in sorted(self.groups)))

    def index_key(self) -> tuple[Literal["literal", "startswith", "endswith", "prefix", "scan"], str]:
        """How the pattern can be indexed.

        'literal': matches exactly that value; 'startswith' / 'endswith': matches every value with that
        prefix / suffix; 'prefix': every match starts with that prefix, the regex decides; 'scan': no
        index.
        With ignore_case the values are already lower-cased, so the lower-cased literal is compared;
        that can only be stricter than re.IGNORECASE (which also folds a few non-ASCII letters onto
        ASCII ones, such as the long s).
        """
        kind: Literal["literal", "startswith", "endswith", "prefix", "scan"]
        if self.kind == "match":
            cut = min((i for i in (self.pattern.find(c) for c in "*?[") if i >= 0), default=-1)
            text = self.pattern if cut < 0 else self.pattern[:cut]
            rest = self.pattern[1:]
            if cut == 0 and self.pattern[0] == "*" and rest and not any(c in rest for c in "*?["):
                kind, text = "endswith", rest
            elif cut < 0:
                kind = "literal"
            elif cut == len(self.pattern) - 1 and self.pattern[cut] == "*":
                kind = "startswith"
            else:
                kind = "prefix"
        else:
            text, kind = _regex_literal_prefix(self.pattern), "prefix"
        if not text:
            return "scan", ""
        return kind, text.lower() if self.ignore_case else text

    def combinable_source(self) -> str | None:
        """This pattern as one branch of a combined regex, or None when embedding would change it."""
        if self.kind == "match":
            return rf"\A(?:{fnmatch.translate(self.pattern)})"
        if _UNSAFE_TO_COMBINE.search(self.pattern) or self.regex.groupindex:
            return None
        return f"(?:{self.pattern})"


def _regex_literal_prefix(source: str) -> str:
    """The literal text every match of an `^`-anchored regex starts with ('' when unknown)."""
    if source.startswith("^"):
        index = 1
    elif source.startswith(r"\A"):
        index = 2
    else:
        return ""
    if "|" in source:  # a top-level alternative need not start with the prefix
        return ""
    out: list[str] = []
    while index < len(source):
        char = source[index]
        if char == "\\":
            if index + 1 >= len(source) or source[index + 1].isalnum():
                break  # \d, \w, \b ...: not a literal
            char, step = source[index + 1], 2
        elif char in ".^$*+?{}[]()|":
            break
        else:
            step = 1
        following = source[index + step] if index + step < len(source) else ""
        if following in ("*", "?", "{"):
            break  # the character may be absent or repeated
        out.append(char)
        if following == "+":
            break
        index += step
    return "".join(out)


class PatternIndex:
    """Group patterns compiled for matching many values without testing every pattern on every value.

    Per value and per distinct literal length, one slice and one dict lookup find the only patterns
    that can match; a regex runs only where the index alone cannot decide.
    """

    __slots__ = ("_literal", "_prefix_tables", "_scan", "_scan_filter", "_suffix_tables", "_tests", "patterns")

    def __init__(self, patterns: Sequence[GroupPattern]) -> None:
        self.patterns = tuple(patterns)
        literal: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        by_suffix: dict[str, list[int]] = {}
        scan: list[int] = []
        # None where the index alone decides ('team-*' matches whatever starts with 'team-').
        tests: list[Callable[[str], Any] | None] = []
        for index, pattern in enumerate(self.patterns):
            kind, key = pattern.index_key()
            tests.append(None if kind in ("literal", "startswith", "endswith") else pattern.test)
            if kind == "literal":
                literal.setdefault(key, []).append(index)
            elif kind in ("startswith", "prefix"):
                by_prefix.setdefault(key, []).append(index)
            elif kind == "endswith":
                by_suffix.setdefault(key, []).append(index)
            else:
                scan.append(index)
        self._tests = tuple(tests)
        self._literal = {key: tuple(v) for key, v in literal.items()}
        self._prefix_tables = self._by_length(by_prefix)
        self._suffix_tables = self._by_length(by_suffix)
        self._scan = tuple(scan)
        self._scan_filter = self._combine([self.patterns[i] for i in scan])

    @staticmethod
    def _by_length(keyed: Mapping[str, list[int]]) -> tuple[tuple[int, dict[str, tuple[int, ...]]], ...]:
        # One table per key length: a slice of that length can only hit keys of that length.
        tables: dict[int, dict[str, tuple[int, ...]]] = {}
        for key, indexes in keyed.items():
            tables.setdefault(len(key), {})[key] = tuple(indexes)
        return tuple(sorted(tables.items()))

    @staticmethod
    def _combine(patterns: Sequence[GroupPattern]) -> Any:
        """One regex matching a value iff any of `patterns` does (a prefilter), or None."""
        if len(patterns) < 3:
            return None  # one more regex call would cost more than it saves
        branches = [pattern.combinable_source() for pattern in patterns]
        if any(branch is None for branch in branches):
            return None
        flags = re.IGNORECASE if patterns[0].ignore_case else 0
        try:
            return re.compile("|".join(branches), flags).search  # type: ignore[arg-type]
        except re.error:
            return None

    def matches(self, values: Collection[str]) -> dict[int, list[str]]:
        """Map pattern index -> the values it matched (only patterns that matched something)."""
        hits: dict[int, list[str]] = {}
        if not self.patterns:
            return hits
        tests = self._tests
        if self._literal:
            literal = self._literal
            for value in literal.keys() & values:
                for index in literal[value]:
                    hits.setdefault(index, []).append(value)
        for length, table in self._prefix_tables:
            get = table.get
            # The comprehension keeps the per-value work (slice, lookup) in one tight loop.
            for value, bucket in [(v, b) for v in values if (b := get(v[:length])) is not None]:
                for index in bucket:
                    test = tests[index]
                    if test is None or test(value):
                        hits.setdefault(index, []).append(value)
        for length, table in self._suffix_tables:
            get = table.get
            for value, bucket in [(v, b) for v in values if (b := get(v[-length:])) is not None]:
                for index in bucket:
                    hits.setdefault(index, []).append(value)
        if self._scan:
            scan, scan_filter = self._scan, self._scan_filter
            candidates = values if scan_filter is None else [v for v in values if scan_filter(v)]
            for value in candidates:
                for index in scan:
                    if tests[index](value):  # type: ignore[misc]  # scanned patterns always have a test
                        hits.setdefault(index, []).append(value)
        return hits


@dataclass(frozen=True)
class SettingNames:
    """How the settings behind a backend's rules are spelled in reasons and refusals."""

    entry: str
    group_map: str
    superuser_groups: str
    required_groups: str
    default_groups: str
    missing_claim: str

    @classmethod
    def native(cls, backend: str) -> SettingNames:
        entry = setting_path(PLUGIN_ROOT, "backends", backend)
        return cls(
            entry=entry,
            group_map=f"{entry}['group_map']",
            superuser_groups=f"{entry}['superuser_groups']",
            required_groups=f"{entry}['required_groups']",
            default_groups=f"{entry}['default_groups']",
            missing_claim=f"{entry}['missing_claim']",
        )

    @classmethod
    def legacy(cls) -> SettingNames:
        return cls(
            entry=LEGACY_ROOT,
            group_map=setting_path(LEGACY_ROOT, "AZUREAD_GROUP_MAP"),
            superuser_groups=setting_path(LEGACY_ROOT, "AZUREAD_USER_FLAGS_BY_GROUP", "is_superuser"),
            required_groups="required_groups (not available in SOCIAL_AUTH_PIPELINE_CONFIG)",
            default_groups="REMOTE_AUTH_DEFAULT_GROUPS",
            missing_claim="missing_claim (not available in SOCIAL_AUTH_PIPELINE_CONFIG)",
        )


@dataclass(frozen=True)
class BackendRules:
    """The validated, compiled mapping rules of one backend.

    Semantic fields compare equal for equivalent rules whatever format they came from; names, labels
    and indexes (derived in `__post_init__`) do not take part in comparison.
    """

    backend: str
    groups_claim: ClaimPath
    groups_sources: tuple[str, ...]
    normalize: Normalization
    group_map: Mapping[str, frozenset[str]]
    group_patterns: tuple[GroupPattern, ...] = ()
    superuser_groups: frozenset[str] | None = None
    required_groups: frozenset[str] = frozenset()
    default_groups: frozenset[str] = frozenset()
    missing_claim: Literal["keep", "refuse"] = "keep"
    create_groups: bool = False
    permissions: Mapping[str, tuple[PermissionSpec, ...]] = field(default_factory=dict)
    names: SettingNames | None = field(default=None, compare=False, repr=False)
    map_keys: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    managed_groups: frozenset[str] = field(init=False)
    managed_by: Mapping[str, tuple[str, ...]] = field(init=False, compare=False, repr=False)
    exact_lines: Mapping[str, str] = field(init=False, compare=False, repr=False)
    removal_lines: Mapping[str, str] = field(init=False, compare=False, repr=False)
    pattern_index: PatternIndex = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = self.names or SettingNames.native(self.backend)
        set_ = object.__setattr__
        set_(self, "names", names)
        set_(self, "group_map", MappingProxyType(dict(self.group_map)))
        set_(self, "permissions", MappingProxyType(dict(self.permissions)))
        managed_by: dict[str, list[str]] = {}
        exact: dict[str, str] = {}
        # Reason lines are built once here so that decide() only looks them up.
        for key, targets in self.group_map.items():
            label = f"{names.group_map}[{self.map_keys.get(key, key)!r}]"
            exact[key] = f"{label}: IdP value {key!r} -> {_names(targets)}"
            for group in targets:
                managed_by.setdefault(group, []).append(label)
        for pattern in self.group_patterns:
            for group in pattern.groups:
                managed_by.setdefault(group, []).append(pattern.label or f"{pattern.kind} {pattern.pattern!r}")
        set_(self, "managed_by", MappingProxyType({k: tuple(v) for k, v in managed_by.items()}))
        set_(
            self,
            "removal_lines",
            {
                group: f"removed {group!r}: managed by {', '.join(labels[:3])}"
                f"{f' (+{len(labels) - 3} more)' if len(labels) > 3 else ''}, and no rule matched"
                for group, labels in managed_by.items()
            },
        )
        set_(self, "managed_groups", frozenset(managed_by))
        set_(self, "exact_lines", exact)
        set_(self, "pattern_index", PatternIndex(self.group_patterns))

    @property
    def setting(self) -> str:
        """Where these rules are configured."""
        assert self.names is not None
        return self.names.entry


@dataclass(frozen=True)
class SSOConfig:
    """The whole validated configuration: rules per backend, break-glass users, warnings to log once."""

    backends: Mapping[str, BackendRules]
    break_glass_users: frozenset[str] = frozenset()
    warnings: tuple[ConfigWarning, ...] = ()
    permissions: Mapping[str, tuple[PermissionSpec, ...]] = field(default_factory=dict)

    def rules_for(self, backend: str) -> BackendRules | None:
        """The rules for a backend name, or None when it has none (mapping then does nothing)."""
        return self.backends.get(backend)

    def is_break_glass(self, username: str) -> bool:
        """Case-insensitive, so an SSO account named 'Admin' cannot shadow local 'admin' differently."""
        return username.casefold() in self.break_glass_users


def _names(groups: Iterable[str]) -> str:
    return ", ".join(repr(group) for group in sorted(groups))


def _type_name(value: Any) -> str:
    return {dict: "dict", list: "list", tuple: "tuple", str: "string", bool: "bool", int: "int"}.get(
        type(value), type(value).__name__
    )


class _Parser:
    """Collects every problem and warning while validating; builds rules only from valid entries."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []
        self.warnings: list[ConfigWarning] = []

    def fail(self, path: str, problem: str, fix: str) -> None:
        self.problems.append(ConfigProblem(path, problem, fix))

    def warn(self, path: str, message: str, code: str = "mapping.warning", fix: str = "") -> None:
        self.warnings.append(ConfigWarning(path, message, code, fix))

    # --- generic shapes -------------------------------------------------------------------------

    def mapping(self, value: Any, path: str, fix: str) -> Mapping[Any, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(path, f"must be a dict, got {_type_name(value)}", fix)
        return None

    def unknown_keys(self, value: Mapping[Any, Any], root: str, known: Sequence[str], other: Collection[str]) -> None:
        for key in value:
            if key in known or key in other:
                continue
            path = setting_path(root, key) if isinstance(key, str | int) else f"{root}[{key!r}]"
            hint = _KEY_HINTS.get(key) if isinstance(key, str) else None
            suggestion = did_you_mean(key, [*known, *other]) if isinstance(key, str) else ""
            known_list = ", ".join(repr(k) for k in known)
            parts = [f"{hint}." if hint else "", suggestion, f"Known settings here: {known_list}"]
            self.fail(path, "unknown setting", " ".join(part for part in parts if part))

    def strings(
        self,
        value: Any,
        path: str,
        *,
        what: str,
        max_length: int,
        allow_empty: bool = True,
        single: bool = True,
    ) -> tuple[str, ...] | None:
        """A list of non-empty, unique strings (a single string when `single`)."""
        if isinstance(value, str) and single:
            items: list[Any] = [value]
            paths = [path]
        elif isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            paths = [setting_path(path, i) for i in range(len(items))]
        else:
            shape = "a string or a list of strings" if single else "a list of strings"
            self.fail(path, f"must be {shape} ({what}), got {_type_name(value)}", f"write e.g. ['{what}']")
            return None
        if not items and not allow_empty:
            self.fail(path, "is an empty list", f"list at least one {what}, or remove the setting")
            return None
        ok = True
        seen: set[str] = set()
        for item, item_path in zip(items, paths, strict=True):
            if not isinstance(item, str):
                self.fail(item_path, f"must be a string ({what}), got {_type_name(item)}", "quote it")
                ok = False
            elif not item.strip():
                self.fail(item_path, "is an empty string", f"write the {what} or remove the entry")
                ok = False
            elif len(item) > max_length:
                self.fail(item_path, f"is {len(item)} characters, more than {max_length}", f"shorten the {what}")
                ok = False
            elif item in seen:
                self.fail(item_path, f"duplicate {what} {item!r}", "remove the duplicate")
                ok = False
            else:
                seen.add(item)
        return tuple(items) if ok else None

    def group_names(self, value: Any, path: str, *, allow_empty: bool = True) -> tuple[str, ...] | None:
        names = self.strings(
            value, path, what="NetBox group name", max_length=MAX_GROUP_NAME_LENGTH, allow_empty=allow_empty
        )
        if names is None:
            return None
        bad = [name for name in names if name != name.strip()]
        if bad:
            self.fail(
                path,
                f"NetBox group name {bad[0]!r} has leading or trailing spaces",
                "NetBox strips names entered in its UI, so this would never match; remove the spaces",
            )
            return None
        return names

    def idp_values(
        self, value: Any, path: str, norm: Normalization, *, allow_empty: bool = True
    ) -> frozenset[str] | None:
        raw = self.strings(value, path, what="IdP value", max_length=MAX_VALUE_LENGTH, allow_empty=allow_empty)
        if raw is None:
            return None
        seen: dict[str, str] = {}
        for item in raw:
            normalized = norm.apply(item)
            if not normalized:
                self.fail(path, f"IdP value {item!r} is empty after normalization", "remove it")
                return None
            if normalized in seen:
                self.fail(
                    path,
                    f"{seen[normalized]!r} and {item!r} are the same IdP value after normalization",
                    "keep one of them",
                )
                return None
            seen[normalized] = item
        return frozenset(seen)

    def choice(self, value: Any, path: str, choices: Sequence[str]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        suggestion = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.fail(
            path,
            f"{value!r} is not one of {', '.join(repr(c) for c in choices)}",
            suggestion or f"use one of {', '.join(repr(c) for c in choices)}",
        )
        return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.fail(path, f"must be True or False, got {value!r}", "write True or False (no quotes)")
        return None

    # --- backend entries ------------------------------------------------------------------------

    def claim_path(self, value: Any, path: str) -> ClaimPath | None:
        if isinstance(value, str):
            if value.strip():
                return ClaimPath.parse(value)
        elif isinstance(value, list | tuple):
            keys = self.strings(value, path, what="claim key", max_length=256, allow_empty=False, single=False)
            if keys is not None:
                return ClaimPath.parse(keys)
            return None
        self.fail(
            path,
            f"must be a claim name, dotted path or list of keys, got {value!r}",
            "write e.g. 'groups', 'realm_access.roles' or ['resource_access', 'netbox.app', 'roles']",
        )
        return None

    def sources(self, value: Any, path: str, backend: str, claim: ClaimPath | None) -> tuple[str, ...] | None:
        items = self.strings(value, path, what="source", max_length=64, allow_empty=False)
        if items is None:
            return None
        ok = True
        for index, item in enumerate(items):
            item_path = setting_path(path, index) if not isinstance(value, str) else path
            if item not in SOURCES:
                suggestion = did_you_mean(item, SOURCES)
                self.fail(
                    item_path,
                    f"unknown groups source {item!r}",
                    f"{suggestion + ' ' if suggestion else ''}use 'id_token', 'userinfo' or 'graph' (Entra ID)",
                )
                ok = False
            elif item == "graph" and not is_entra_backend(backend):
                self.fail(
                    item_path,
                    f"'graph' (Microsoft Graph) is only available for Entra ID backends, not {backend!r}",
                    "remove 'graph', or configure it under an Entra ID backend such as 'azuread-oauth2'",
                )
                ok = False
            elif item == "graph" and claim is not None and claim.display != "groups":
                self.fail(
                    item_path,
                    f"'graph' supplies group object IDs, but groups_claim is {claim.display!r}",
                    "use groups_claim 'groups' with 'graph', or remove 'graph'",
                )
                ok = False
        return items if ok else None

    def normalization(self, value: Any, path: str) -> Normalization | None:
        data = self.mapping(value, path, "write e.g. {'case': 'lower', 'strip_prefixes': ['/']}")
        if data is None:
            return None
        self.unknown_keys(data, path, NORMALIZE_KEYS, ())
        case = self.choice(data.get("case", "preserve"), setting_path(path, "case"), CASES)
        prefixes = self.strings(
            data.get("strip_prefixes", ()),
            setting_path(path, "strip_prefixes"),
            what="prefix",
            max_length=256,
        )
        if case is None or prefixes is None:
            return None
        return Normalization(case, prefixes)  # type: ignore[arg-type]

    def group_map(
        self, value: Any, path: str, norm: Normalization
    ) -> tuple[dict[str, frozenset[str]], dict[str, str]] | None:
        data = self.mapping(value, path, "write e.g. {'netbox-admins': ['Admins'], 'ops': 'Operators'}")
        if data is None:
            return None
        result: dict[str, frozenset[str]] = {}
        raw_keys: dict[str, str] = {}
        ok = True
        for key, targets in data.items():
            key_path = setting_path(path, key) if isinstance(key, str | int) else f"{path}[{key!r}]"
            if not isinstance(key, str) or not key.strip():
                self.fail(key_path, "IdP value must be a non-empty string", "quote the group name or ID")
                ok = False
                continue
            if len(key) > MAX_VALUE_LENGTH:
                self.fail(key_path, f"IdP value longer than {MAX_VALUE_LENGTH} characters", "shorten it")
                ok = False
                continue
            names = self.group_names(targets, key_path, allow_empty=False)
            normalized = norm.apply(key)
            if not normalized:
                self.fail(key_path, "IdP value is empty after normalization", "remove the entry")
                ok = False
            elif normalized in result:
                self.fail(
                    key_path,
                    f"{raw_keys[normalized]!r} and {key!r} are the same IdP value after normalization "
                    f"(case {norm.case!r}, strip_prefixes {list(norm.strip_prefixes)!r})",
                    f"merge their groups under one key ({raw_keys[normalized]!r})",
                )
                ok = False
            elif names is not None:
                result[normalized] = frozenset(names)
                raw_keys[normalized] = key
            if names is None:
                ok = False
        return (result, raw_keys) if ok else None

    def patterns(self, value: Any, path: str, norm: Normalization) -> tuple[GroupPattern, ...] | None:
        if not isinstance(value, list | tuple):
            self.fail(
                path,
                f"must be a list of {{'match' or 'regex': ..., 'groups': [...]}} entries, got {_type_name(value)}",
                "write e.g. [{'match': 'team-*', 'groups': ['Teams']}]",
            )
            return None
        result: list[GroupPattern] = []
        seen: dict[tuple[str, str], int] = {}
        ok = True
        for index, entry in enumerate(value):
            entry_path = setting_path(path, index)
            data = self.mapping(entry, entry_path, "write e.g. {'match': 'team-*', 'groups': ['Teams']}")
            if data is None:
                ok = False
                continue
            self.unknown_keys(data, entry_path, PATTERN_KEYS, ())
            kinds = [k for k in ("match", "regex") if k in data]
            if len(kinds) != 1:
                self.fail(
                    entry_path,
                    "needs exactly one of 'match' (glob) or 'regex'" + (", not both" if len(kinds) == 2 else ""),
                    "write {'match': 'team-*', ...} or {'regex': '^team-[a-z]+$', ...}",
                )
                ok = False
                continue
            kind = kinds[0]
            pattern = data[kind]
            pattern_path = setting_path(entry_path, kind)
            if "groups" not in data:
                self.fail(entry_path, "has no 'groups'", "add 'groups': ['NetBox group name']")
                ok = False
                continue
            names = self.group_names(data["groups"], setting_path(entry_path, "groups"), allow_empty=False)
            if not isinstance(pattern, str) or not pattern:
                self.fail(pattern_path, f"must be a non-empty string, got {pattern!r}", "write the pattern")
                ok = False
                continue
            if (kind, pattern) in seen:
                self.fail(
                    pattern_path,
                    f"duplicate of group_patterns[{seen[(kind, pattern)]}] ({kind} {pattern!r})",
                    "merge their groups into one entry",
                )
                ok = False
                continue
            seen[(kind, pattern)] = index
            if names is None:
                ok = False
                continue
            try:
                compiled = GroupPattern(kind, pattern, frozenset(names), norm.case == "lower", entry_path)
            except re.error as exc:
                self.fail(
                    pattern_path,
                    f"invalid regular expression {pattern!r}: {exc}",
                    'fix the regex (Python re syntax; test it with python -c "import re; re.compile(...)")',
                )
                ok = False
                continue
            risk = backtracking_risk(pattern) if kind == "regex" else None
            if risk:
                self.fail(
                    pattern_path,
                    f"regex {pattern!r} could take exponential or polynomial time on a long group name: {risk}",
                    "rewrite it without nested or ambiguous quantifiers (e.g. '^site-[a-z0-9-]+$'), "
                    "or use a glob ('match')",
                )
                ok = False
                continue
            if kind == "regex" and not pattern.startswith(("^", r"\A")):
                self.warn(
                    pattern_path,
                    f"regex {pattern!r} is not anchored with '^': it matches anywhere in the value "
                    "(e.g. 'admin' also matches 'not-admin'); anchor it as '^...$' unless that is intended",
                )
            result.append(compiled)
        return tuple(result) if ok else None

    def permissions(self, value: Any, path: str) -> dict[str, tuple[PermissionSpec, ...]] | None:
        data = self.mapping(value, path, "write e.g. {'Operators': [{'name': 'ops-view', 'actions': ['view'], ...}]}")
        if data is None:
            return None
        result: dict[str, tuple[PermissionSpec, ...]] = {}
        ok = True
        for group, entries in data.items():
            group_path = setting_path(path, group) if isinstance(group, str | int) else f"{path}[{group!r}]"
            if self.group_names(group, group_path, allow_empty=False) is None:
                ok = False
                continue
            if not isinstance(entries, list | tuple) or not entries:
                self.fail(
                    group_path,
                    f"must be a non-empty list of permissions, got {entries!r}",
                    "write e.g. [{'name': 'ops-view', 'actions': ['view'], 'object_types': ['dcim.site']}]",
                )
                ok = False
                continue
            specs: list[PermissionSpec] = []
            names_seen: set[str] = set()
            for index, entry in enumerate(entries):
                spec = self.permission(entry, setting_path(group_path, index))
                if spec is None:
                    ok = False
                elif spec.name in names_seen:
                    self.fail(
                        setting_path(group_path, index, "name"),
                        f"duplicate permission name {spec.name!r}",
                        "give each permission a unique name",
                    )
                    ok = False
                else:
                    names_seen.add(spec.name)
                    specs.append(spec)
            result[group] = tuple(specs)
        return result if ok else None

    def permission(self, value: Any, path: str) -> PermissionSpec | None:
        data = self.mapping(
            value, path, "write e.g. {'name': 'ops-view', 'actions': ['view'], 'object_types': ['dcim.site']}"
        )
        if data is None:
            return None
        before = len(self.problems)
        self.unknown_keys(data, path, PERMISSION_KEYS, ())
        for required in ("name", "actions", "object_types"):
            if required not in data:
                self.fail(path, f"missing {required!r}", f"add {required!r} (see the permissions example)")
        name = data.get("name")
        if "name" in data and (not isinstance(name, str) or not name.strip()):
            self.fail(setting_path(path, "name"), f"must be a non-empty string, got {name!r}", "name the permission")
        elif isinstance(name, str) and len(name) > MAX_PERMISSION_NAME_LENGTH:
            self.fail(
                setting_path(path, "name"),
                f"is longer than {MAX_PERMISSION_NAME_LENGTH} characters (NetBox's limit)",
                "shorten it",
            )
        actions = None
        if "actions" in data:
            actions = self.strings(
                data["actions"],
                setting_path(path, "actions"),
                what="action",
                max_length=30,
                allow_empty=False,
                single=False,
            )
        object_types = None
        if "object_types" in data:
            object_types = self.strings(
                data["object_types"],
                setting_path(path, "object_types"),
                what="app_label.model",
                max_length=200,
                allow_empty=False,
                single=False,
            )
            for index, item in enumerate(object_types or ()):
                if not _OBJECT_TYPE.match(item):
                    lowered = item.lower()
                    hint = f"write {lowered!r}" if _OBJECT_TYPE.match(lowered) else "write e.g. 'dcim.site'"
                    self.fail(
                        setting_path(path, "object_types", index),
                        f"{item!r} is not an 'app_label.model' name",
                        f"{hint} (lower case app label and model name)",
                    )
        constraints = data.get("constraints")
        if not _valid_constraints(constraints):
            self.fail(
                setting_path(path, "constraints"),
                f"must be None, a dict of field lookups, or a list of such dicts, got {constraints!r}",
                "write e.g. {'site__slug': 'ams1'} or [{'status': 'active'}, {'tenant__slug': 'ops'}]",
            )
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail(setting_path(path, "description"), "must be a string", "quote it")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.fail(setting_path(path, "enabled"), "must be True or False", "write True or False")
        if len(self.problems) > before or actions is None or object_types is None:
            return None
        return PermissionSpec(
            name=name,  # type: ignore[arg-type]
            actions=actions,
            object_types=object_types,
            constraints=copy.deepcopy(constraints),
            description=description,
            enabled=enabled,
        )

    def backend(
        self,
        name: str,
        value: Any,
        extra_defaults: frozenset[str],
        other_keys: Collection[str],
    ) -> BackendRules | None:
        path = setting_path(PLUGIN_ROOT, "backends", name)
        data = self.mapping(value, path, "write the backend's rules as a dict, e.g. {'group_map': {...}}")
        if data is None:
            return None
        before = len(self.problems)
        self.unknown_keys(data, path, BACKEND_KEYS, other_keys)
        at = lambda key: setting_path(path, key)  # noqa: E731 - local shorthand
        entra = is_entra_backend(name)
        claim = self.claim_path(data.get("groups_claim", "groups"), at("groups_claim"))
        default_sources = ("id_token", "graph") if entra else ("id_token", "userinfo")
        sources = self.sources(data.get("groups_sources", default_sources), at("groups_sources"), name, claim)
        norm = self.normalization(data.get("normalize", {}), at("normalize"))
        norm = norm or Normalization()  # keep validating the rest with the default normalization
        mapped = self.group_map(data.get("group_map", {}), at("group_map"), norm)
        patterns = self.patterns(data.get("group_patterns", ()), at("group_patterns"), norm)
        superuser: frozenset[str] | None = None
        if data.get("superuser_groups") is not None:
            superuser = self.idp_values(data["superuser_groups"], at("superuser_groups"), norm, allow_empty=False)
        required = self.idp_values(data.get("required_groups", ()), at("required_groups"), norm)
        defaults = self.group_names(data.get("default_groups", ()), at("default_groups"))
        missing = self.choice(data.get("missing_claim", "keep"), at("missing_claim"), MISSING_CLAIM_MODES)
        create = self.boolean(data.get("create_groups", False), at("create_groups"))
        permissions = self.permissions(data.get("permissions", {}), at("permissions"))
        if len(self.problems) > before:
            return None
        assert claim and sources and mapped is not None and patterns is not None and required is not None
        assert defaults is not None and missing and create is not None and permissions is not None
        rules = BackendRules(
            backend=name,
            groups_claim=claim,
            groups_sources=sources,
            normalize=norm,
            group_map=mapped[0],
            group_patterns=patterns,
            superuser_groups=superuser,
            required_groups=required,
            default_groups=frozenset(defaults) | extra_defaults,
            missing_claim=missing,  # type: ignore[arg-type]
            create_groups=create,
            permissions=permissions,
            names=SettingNames.native(name),
            map_keys=mapped[1],
        )
        self.backend_warnings(rules, path, raw_keys=list(mapped[1].values()))
        return rules

    def backend_warnings(self, rules: BackendRules, path: str, *, raw_keys: Sequence[str]) -> None:
        """Valid but probably not what the administrator meant."""
        overlap = rules.default_groups & rules.managed_groups
        if overlap:
            self.warn(
                path,
                f"NetBox group(s) {_names(overlap)} are both default groups and mapping targets: they are "
                "added on first login and whenever a rule matches, and the mirror never removes them",
            )
        assigned = rules.managed_groups | rules.default_groups
        for group in rules.permissions:
            if group not in assigned:
                self.warn(
                    setting_path(path, "permissions", group),
                    f"declares permissions for NetBox group {group!r}, which no rule of this backend assigns",
                )
        if not (
            rules.group_map
            or rules.group_patterns
            or rules.superuser_groups
            or rules.required_groups
            or rules.default_groups
        ):
            self.warn(path, "has no mapping rules; SSO users of this backend get no groups from it")
        if is_entra_backend(rules.backend) and "groups" in rules.groups_claim.top_keys:
            values = [*raw_keys, *(rules.superuser_groups or ()), *rules.required_groups]
            odd = sorted({v for v in values if not _GUID.match(v)})
            if odd:
                sample = ", ".join(repr(v) for v in odd[:3]) + (f" and {len(odd) - 3} more" if len(odd) > 3 else "")
                self.warn(
                    path,
                    f"{len(odd)} IdP value(s) do not look like Entra ID group object IDs ({sample}); the "
                    "'groups' claim carries object IDs unless the app registration emits sAMAccountName or "
                    "cloud group names, so these rules may never match",
                    code="mapping.entra_group_names",
                    fix="use the groups' object IDs (Entra admin center > Groups > Object ID), or configure the app "
                    "registration to emit group names (sAMAccountName / cloud group names)",
                )

    # --- the reference's legacy format ----------------------------------------------------------

    def legacy(self, value: Any, extra_defaults: frozenset[str]) -> BackendRules | None:
        data = self.mapping(value, LEGACY_ROOT, "write it as the reference manual shows (a dict)")
        if data is None:
            return None
        self.unknown_keys(data, LEGACY_ROOT, LEGACY_KEYS, ())
        if not any(key in data for key in LEGACY_KEYS):
            return None
        before = len(self.problems)
        norm = Normalization(case="lower")  # object IDs are GUIDs: case-insensitive (RFC 9562 section 4)
        flags_path = setting_path(LEGACY_ROOT, "AZUREAD_USER_FLAGS_BY_GROUP")
        flags = (
            self.mapping(
                data.get("AZUREAD_USER_FLAGS_BY_GROUP", {}),
                flags_path,
                "write {'is_superuser': ['<object-id>']}",
            )
            or {}
        )
        self.unknown_keys(flags, flags_path, LEGACY_FLAG_KEYS, ())
        superuser: frozenset[str] | None = None
        su_path = setting_path(flags_path, "is_superuser")
        if flags.get("is_superuser") is not None:
            superuser = self.idp_values(flags["is_superuser"], su_path, norm) or None
            if superuser is None and flags["is_superuser"] == []:
                self.warn(su_path, "is empty: superuser is left unchanged (nothing grants or revokes it)")
        if "is_staff" in flags:
            self.warn(
                setting_path(flags_path, "is_staff"),
                "NetBox 4.5 and later have no staff flag (is_staff was removed); these groups are accepted "
                "and ignored. Grant access with NetBox groups and permissions (AZUREAD_GROUP_MAP) or "
                "is_superuser, "
                "and remove 'is_staff' to silence this warning",
                code="mapping.is_staff",
                fix="remove 'is_staff'; grant access with NetBox groups (AZUREAD_GROUP_MAP) and their permissions",
            )
            self.strings(
                flags["is_staff"],
                setting_path(flags_path, "is_staff"),
                what="object ID",
                max_length=MAX_VALUE_LENGTH,
            )
        map_path = setting_path(LEGACY_ROOT, "AZUREAD_GROUP_MAP")
        mapped = self.group_map(data.get("AZUREAD_GROUP_MAP", {}), map_path, norm)
        if len(self.problems) > before or mapped is None:
            return None
        names = SettingNames.legacy()
        rules = BackendRules(
            backend=LEGACY_BACKEND,
            groups_claim=ClaimPath.parse("groups"),
            groups_sources=("id_token", "graph"),
            normalize=norm,
            group_map=mapped[0],
            superuser_groups=superuser,
            default_groups=extra_defaults,
            missing_claim="keep",
            create_groups=False,  # the reference: "NetBox groups must already exist before mapping"
            names=names,
            map_keys=mapped[1],
        )
        self.backend_warnings(rules, LEGACY_ROOT, raw_keys=list(mapped[1].values()))
        return rules


def _valid_constraints(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and key for key in value)
    if isinstance(value, list | tuple):
        return all(isinstance(item, Mapping) and _valid_constraints(item) for item in value)
    return False


def parse_config(
    plugin_config: Mapping[str, Any] | None,
    *,
    pipeline_config: Mapping[str, Any] | None = None,
    remote_auth_default_groups: Sequence[str] = (),
    other_top_level_keys: Collection[str] = (),
    other_backend_keys: Collection[str] = (),
) -> SSOConfig:
    """Validate and compile the mapping configuration; raise ConfigError listing every problem.

    `plugin_config` is `PLUGINS_CONFIG['netbox_sso']`, `pipeline_config` the reference's
    `SOCIAL_AUTH_PIPELINE_CONFIG`, `remote_auth_default_groups` NetBox's REMOTE_AUTH_DEFAULT_GROUPS.
    The top-level settings outside the mapping (core.settings_schema) are validated too.
    `other_top_level_keys` / `other_backend_keys` are further keys, accepted here without parsing.
    """
    parser = _Parser()
    root = parser.mapping(plugin_config if plugin_config is not None else {}, PLUGIN_ROOT, "write a dict")
    if root is None:
        raise ConfigError(parser.problems)
    parser.unknown_keys(root, PLUGIN_ROOT, TOP_LEVEL_KEYS, other_top_level_keys)
    parser.problems.extend(settings_schema.check_values(root)[1])
    break_glass = parser.strings(
        root.get("break_glass_users", ()),
        setting_path(PLUGIN_ROOT, "break_glass_users"),
        what="username",
        max_length=150,
    )
    extra_defaults = parser.group_names(remote_auth_default_groups or (), "REMOTE_AUTH_DEFAULT_GROUPS")
    extra = frozenset(extra_defaults or ())
    backends_path = setting_path(PLUGIN_ROOT, "backends")
    raw_backends = parser.mapping(root.get("backends", {}), backends_path, "write {'oidc': {...}, ...}") or {}
    backends: dict[str, BackendRules] = {}
    for name, entry in raw_backends.items():
        if not isinstance(name, str) or not name.strip():
            parser.fail(
                f"{backends_path}[{name!r}]",
                "backend name must be a non-empty string",
                "use the social-core backend name, e.g. 'oidc', 'azuread-oauth2', 'okta-openidconnect'",
            )
            continue
        rules = parser.backend(name, entry, extra, other_backend_keys)
        if rules is not None:
            backends[name] = rules
    if pipeline_config is not None:
        legacy = parser.legacy(pipeline_config, extra)
        if legacy is not None or (
            isinstance(pipeline_config, Mapping) and any(key in pipeline_config for key in LEGACY_KEYS)
        ):
            if LEGACY_BACKEND in raw_backends:
                parser.fail(
                    setting_path(backends_path, LEGACY_BACKEND),
                    "group mapping for 'azuread-oauth2' is configured twice: here and in "
                    "SOCIAL_AUTH_PIPELINE_CONFIG (AZUREAD_GROUP_MAP / AZUREAD_USER_FLAGS_BY_GROUP)",
                    "keep one: move the object IDs into this native entry (group_map, superuser_groups) and "
                    "delete SOCIAL_AUTH_PIPELINE_CONFIG, or delete this entry to keep the reference format",
                )
            elif legacy is not None:
                backends[LEGACY_BACKEND] = legacy
    permissions = _merge_permissions(parser, backends)
    _warn_shared_groups(parser, backends)
    if parser.problems:
        raise ConfigError(parser.problems)
    return SSOConfig(
        backends=MappingProxyType(backends),
        break_glass_users=frozenset(name.casefold() for name in break_glass or ()),
        warnings=tuple(parser.warnings),
        permissions=MappingProxyType(permissions),
    )


def _merge_permissions(parser: _Parser, backends: Mapping[str, BackendRules]) -> dict[str, tuple[PermissionSpec, ...]]:
    """One view of every declared permission; the same group or name declared differently is an error."""
    merged: dict[str, tuple[PermissionSpec, ...]] = {}
    owner: dict[str, str] = {}
    by_name: dict[str, tuple[PermissionSpec, str]] = {}
    for rules in backends.values():
        for group, specs in rules.permissions.items():
            path = f"{rules.setting}['permissions'][{group!r}]"
            if group in merged and merged[group] != specs:
                parser.fail(
                    path,
                    f"NetBox group {group!r} has different permissions here and in {owner[group]}",
                    "declare the group's permissions once, or make both declarations identical",
                )
                continue
            merged[group] = specs
            owner.setdefault(group, path)
            for spec in specs:
                if spec.name in by_name and by_name[spec.name][0] != spec:
                    parser.fail(
                        path,
                        f"permission {spec.name!r} is declared differently in {by_name[spec.name][1]}",
                        "rename one of them, or make both declarations identical (a shared permission)",
                    )
                by_name.setdefault(spec.name, (spec, path))
    return merged


def _warn_shared_groups(parser: _Parser, backends: Mapping[str, BackendRules]) -> None:
    seen: dict[str, str] = {}
    for backend, rules in backends.items():
        for group in sorted(rules.managed_groups):
            if group in seen:
                parser.warn(
                    rules.setting,
                    f"NetBox group {group!r} is also managed by backend {seen[group]!r}: a login through "
                    "either backend mirrors it from that provider's claims alone",
                )
            else:
                seen[group] = backend


def check_backends(config: SSOConfig, available: Iterable[str]) -> tuple[ConfigWarning, ...]:
    """Warnings for configured backends that are not enabled (e.g. not in AUTHENTICATION_BACKENDS)."""
    names = list(available)
    messages = []
    for backend, rules in config.backends.items():
        if backend not in names:
            suggestion = did_you_mean(backend, names)
            messages.append(
                ConfigWarning(
                    rules.setting,
                    f"no enabled authentication backend is named {backend!r}, so these rules "
                    f"never apply{'; ' + suggestion if suggestion else ''} "
                    f"(enabled: {', '.join(names) or 'none'})",
                    "mapping.backend_not_enabled",
                    "key the rules by the enabled backend's name (the one in the redirect URI)",
                )
            )
    return tuple(messages)
