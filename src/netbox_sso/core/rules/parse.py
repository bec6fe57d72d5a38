"""The native format of the mapping rules, `PLUGINS_CONFIG['netbox_sso']`: validation and compilation.

`parse_config()` validates every key (the schema's settings too: `netbox_sso.core.settings_schema`),
collects every problem into one `ConfigError`, and compiles the rules (`model.BackendRules`) once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

from netbox_sso.core import settings_schema
from netbox_sso.core.claims import MAX_VALUE_LENGTH, SOURCES, ClaimPath, Normalization
from netbox_sso.core.errors import PLUGIN_ROOT, ConfigError, ConfigWarning, did_you_mean, setting_path
from netbox_sso.core.regex_bounds import backtracking_risk
from netbox_sso.core.rules.legacy import LEGACY_KEYS, parse_legacy
from netbox_sso.core.rules.matching import GroupPattern
from netbox_sso.core.rules.model import (
    LEGACY_BACKEND,
    MAX_PERMISSION_NAME_LENGTH,
    BackendRules,
    PermissionSpec,
    SettingNames,
    SSOConfig,
    _names,
    is_entra_backend,
)
from netbox_sso.core.rules.shapes import Shapes, _type_name

#: Every key of PLUGINS_CONFIG['netbox_sso'] and of a backend's entry: declared in core.settings_schema.
TOP_LEVEL_KEYS = settings_schema.TOP_LEVEL_KEYS
BACKEND_KEYS = settings_schema.BACKEND_KEYS
NORMALIZE_KEYS = ("case", "strip_prefixes")
PATTERN_KEYS = ("match", "regex", "groups")
PERMISSION_KEYS = ("name", "actions", "object_types", "constraints", "description", "enabled")
CASES = ("preserve", "lower")
MISSING_CLAIM_MODES = ("keep", "refuse")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_OBJECT_TYPE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


class Parser(Shapes):
    """Validates the native format; builds rules only from valid entries."""

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
            kinds: list[Literal["match", "regex"]] = [k for k in ("match", "regex") if k in data]
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

        def at(key: str) -> str:
            return setting_path(path, key)

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
    parser = Parser()
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
        legacy = parse_legacy(parser, pipeline_config, extra)
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


def _merge_permissions(parser: Parser, backends: Mapping[str, BackendRules]) -> dict[str, tuple[PermissionSpec, ...]]:
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


def _warn_shared_groups(parser: Parser, backends: Mapping[str, BackendRules]) -> None:
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
