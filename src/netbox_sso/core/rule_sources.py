"""Mapping rules kept in NetBox's database, turned into the rules parser's input and merged with configuration.

A database rule is one row (`RuleRecord`): backend, effect, match type, IdP value and NetBox groups. The
rows become exactly the dict an administrator would write under `PLUGINS_CONFIG['netbox_sso']['backends']`,
so `netbox_sso.core.rules.parse_config` validates and compiles them: there is one parser, one set of
error messages, one compiled form.

Effects and the configuration key each one becomes::

    groups    + exact  -> group_map[value] = [groups]
    groups    + glob   -> group_patterns += {'match': value, 'groups': [groups]}
    groups    + regex  -> group_patterns += {'regex': value, 'groups': [groups]}
    superuser + exact  -> superuser_groups += [value]
    required  + exact  -> required_groups += [value]
    default            -> default_groups += [groups]   (no IdP value)

Precedence (merging with configuration.py): the two sources are united, never overridden.
- A backend's settings (groups_claim, groups_sources, normalize, missing_claim, create_groups) may also be
  kept in the database (`BackendSettingsRecord`, one per backend): each setting configuration.py sets wins,
  the database fills the others; a backend with neither uses the defaults. `permissions` stay configuration.
- An exact rule whose IdP value equals a configured group_map key (after the backend's normalization)
  adds its groups to that key's groups; the same glob or regex adds its groups to the configured pattern.
- superuser_groups, required_groups and default_groups are the union of both sources. A database superuser
  rule therefore makes superuser managed for its backend even when configuration.py does not manage it.
Two database rules that are the same after normalization are an error (reported when saving), like two
configured keys.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from netbox_sso.core.claims import Normalization

EFFECTS = ("groups", "superuser", "required", "default")
MATCH_TYPES = ("exact", "glob", "regex")
#: Effects whose rules name NetBox groups (the others name only an IdP value).
EFFECTS_WITH_GROUPS = frozenset({"groups", "default"})
#: Effects whose rules need an IdP value (default groups apply to every first login).
EFFECTS_WITH_VALUE = frozenset({"groups", "superuser", "required"})


@dataclass(frozen=True)
class RuleRecord:
    """One mapping rule as stored in the database (`netbox_sso.models.MappingRule`)."""

    backend: str
    effect: str
    match_type: str
    value: str
    groups: tuple[str, ...] = ()
    pk: int | None = None


@dataclass(frozen=True)
class BackendSettingsRecord:
    """A backend's settings as stored in the database (`netbox_sso.models.BackendSettings`); '' = default."""

    backend: str
    groups_claim: str = ""
    groups_sources: tuple[str, ...] = ()
    case: str = "preserve"
    strip_prefixes: tuple[str, ...] = ()
    missing_claim: str = "keep"
    create_groups: bool = False
    pk: int | None = None

    #: The settings' fields, named as the model names them; the forms, the API and the table list them from here.
    FIELDS: ClassVar[tuple[str, ...]] = (
        "backend",
        "groups_claim",
        "groups_sources",
        "case",
        "strip_prefixes",
        "missing_claim",
        "create_groups",
    )

    @classmethod
    def from_fields(cls, values: Mapping[str, Any], pk: int | None = None) -> BackendSettingsRecord:
        """The record of field values as a form, the API or the model holds them (lists as comma-separated
        text); an absent or empty value is the default."""
        return cls(
            str(values.get("backend") or "").strip(),
            str(values.get("groups_claim") or ""),
            split_list(str(values.get("groups_sources") or "")),
            str(values.get("case") or "preserve"),
            split_list(str(values.get("strip_prefixes") or "")),
            str(values.get("missing_claim") or "keep"),
            bool(values.get("create_groups")),
            pk,
        )

    def entry(self) -> dict[str, Any]:
        """The configuration keys these settings set (defaults left out, so configuration.py's apply)."""
        entry: dict[str, Any] = {}
        if self.groups_claim.strip():
            entry["groups_claim"] = self.groups_claim.strip()
        if self.groups_sources:
            entry["groups_sources"] = list(self.groups_sources)
        if self.case != "preserve" or self.strip_prefixes:
            entry["normalize"] = {"case": self.case, "strip_prefixes": list(self.strip_prefixes)}
        if self.missing_claim != "keep":
            entry["missing_claim"] = self.missing_claim
        if self.create_groups:
            entry["create_groups"] = True
        return entry


def split_list(text: str) -> tuple[str, ...]:
    """'id_token, userinfo' -> ('id_token', 'userinfo'): how list settings are written in a form field."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def shape_problems(record: RuleRecord) -> list[tuple[str, str]]:
    """(field, message) for combinations the rules format cannot express; [] when the shape is valid."""
    problems: list[tuple[str, str]] = []
    if not record.backend.strip():
        problems.append(("backend", "name the social-core backend, e.g. 'oidc' or 'azuread-oauth2'"))
    if record.effect not in EFFECTS:
        problems.append(("effect", f"must be one of {', '.join(EFFECTS)}"))
    if record.match_type not in MATCH_TYPES:
        problems.append(("match_type", f"must be one of {', '.join(MATCH_TYPES)}"))
    if record.effect in ("superuser", "required") and record.match_type != "exact":
        problems.append(("match_type", f"{record.effect} rules match an exact IdP value; use match type 'exact'"))
    if record.effect in EFFECTS_WITH_VALUE and not record.value.strip():
        problems.append(("value", "enter the IdP value (group name, object ID or pattern) this rule matches"))
    if record.effect == "default" and record.value.strip():
        problems.append(("value", "default groups apply to every first login: leave the IdP value empty"))
    if record.effect in EFFECTS_WITH_GROUPS and not record.groups:
        problems.append(("groups", "choose at least one NetBox group"))
    if record.effect not in EFFECTS_WITH_GROUPS and record.groups:
        problems.append(("groups", f"{record.effect} rules grant no groups: leave NetBox groups empty"))
    return problems


def backend_entries(records: Iterable[RuleRecord]) -> dict[str, dict[str, Any]]:
    """The database rules as `PLUGINS_CONFIG['netbox_sso']['backends']` entries (in a stable order)."""
    entries: dict[str, dict[str, Any]] = {}
    ordered = sorted(records, key=lambda r: (r.backend, r.effect, r.match_type, r.value, r.pk or 0))
    for record in ordered:
        entry = entries.setdefault(record.backend, {})
        groups = sorted(record.groups)
        if record.effect == "groups" and record.match_type == "exact":
            entry.setdefault("group_map", {})[record.value] = groups
        elif record.effect == "groups":
            kind = "match" if record.match_type == "glob" else "regex"
            entry.setdefault("group_patterns", []).append({kind: record.value, "groups": groups})
        elif record.effect == "superuser":
            entry.setdefault("superuser_groups", []).append(record.value)
        elif record.effect == "required":
            entry.setdefault("required_groups", []).append(record.value)
        elif record.effect == "default":
            defaults = entry.setdefault("default_groups", [])
            defaults.extend(group for group in groups if group not in defaults)
    return entries


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _merge_values(configured: Any, extra: list[str], norm: Normalization) -> Any:
    """IdP values of both sources; a value already configured (after normalization) is not repeated."""
    if not isinstance(configured, list | tuple | str) and configured is not None:
        return configured  # malformed: leave it for the parser to report
    merged = _as_list(configured)
    seen = {norm.apply(v) for v in merged if isinstance(v, str)}
    for value in extra:
        if norm.apply(value) not in seen:
            merged.append(value)
            seen.add(norm.apply(value))
    return merged


#: Backend settings the database may set (configuration.py's value wins where it sets one).
SETTING_KEYS = ("groups_claim", "groups_sources", "normalize", "missing_claim", "create_groups")


def _merge_entry(configured: Mapping[str, Any], database: Mapping[str, Any], norm: Normalization) -> dict[str, Any]:
    merged = copy.deepcopy(dict(configured))
    for setting in SETTING_KEYS:
        if setting in database and setting not in merged:
            merged[setting] = copy.deepcopy(database[setting])
    if "group_map" in database:
        group_map = merged.get("group_map", {})
        if isinstance(group_map, Mapping):
            group_map = dict(group_map)
            by_normalized = {norm.apply(k): k for k in group_map if isinstance(k, str)}
            for value, groups in database["group_map"].items():
                configured_key = by_normalized.get(norm.apply(value))
                if configured_key is None:
                    group_map[value] = groups
                    by_normalized[norm.apply(value)] = value
                else:
                    group_map[configured_key] = _merge_values(group_map[configured_key], groups, Normalization())
            merged["group_map"] = group_map
    if "group_patterns" in database:
        patterns = merged.get("group_patterns", [])
        if isinstance(patterns, list | tuple):
            patterns = [dict(p) if isinstance(p, Mapping) else p for p in patterns]
            for extra in database["group_patterns"]:
                ((kind, pattern),) = ((k, v) for k, v in extra.items() if k != "groups")
                same = next(
                    (p for p in patterns if isinstance(p, Mapping) and p.get(kind) == pattern and len(p) == 2), None
                )
                if same is None:
                    patterns.append(dict(extra))
                else:
                    cast("dict[str, Any]", same)["groups"] = _merge_values(
                        same.get("groups"), extra["groups"], Normalization()
                    )
            merged["group_patterns"] = patterns
    for key in ("superuser_groups", "required_groups"):
        if key in database:
            merged[key] = _merge_values(merged.get(key), database[key], norm)
    if "default_groups" in database:
        merged["default_groups"] = _merge_values(
            merged.get("default_groups"), database["default_groups"], Normalization()
        )
    return merged


def merge_plugin_config(
    plugin_config: Mapping[str, Any] | None,
    records: Iterable[RuleRecord],
    normalizations: Mapping[str, Normalization],
    settings: Iterable[BackendSettingsRecord] = (),
) -> dict[str, Any]:
    """`PLUGINS_CONFIG['netbox_sso']` with the database rules merged into `backends` (see the module doc).

    `normalizations` are the configured backends' normalizations (from the parsed configuration), used to
    recognise a database value that a configured rule already names.
    """
    merged = dict(plugin_config or {})
    database = backend_entries(records)
    for record in settings:
        entry = database.setdefault(record.backend, {})
        for key, value in record.entry().items():
            entry.setdefault(key, value)
    if not database:
        return merged
    configured = merged.get("backends")
    backends = dict(configured) if isinstance(configured, Mapping) else {}
    if configured is not None and not isinstance(configured, Mapping):
        return merged  # malformed configuration: the parser reports it
    for name, entry in database.items():
        current = backends.get(name)
        if isinstance(current, Mapping):
            backends[name] = _merge_entry(current, entry, normalizations.get(name, Normalization()))
        elif current is None:
            backends[name] = entry
    merged["backends"] = backends
    return merged
