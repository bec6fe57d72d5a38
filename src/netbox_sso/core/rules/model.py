"""The validated, compiled mapping rules: what `parse_config()` returns and the decision reads.

Pure data: frozen dataclasses whose semantic fields compare equal for equivalent rules whatever format
they came from (native or the reference's legacy format).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from netbox_sso.core.claims import ClaimPath, Normalization
from netbox_sso.core.errors import LEGACY_ROOT, PLUGIN_ROOT, ConfigWarning, setting_path
from netbox_sso.core.rules.matching import GroupPattern, PatternIndex

#: The backend the reference's SOCIAL_AUTH_PIPELINE_CONFIG applies to.
LEGACY_BACKEND = "azuread-oauth2"
#: NetBox's users.Group.name max_length.
MAX_GROUP_NAME_LENGTH = 150
#: NetBox's ObjectPermission.name max_length.
MAX_PERMISSION_NAME_LENGTH = 100


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
