"""The generic shapes of setting values (dicts, lists of strings, group names, choices), checked once.

`Shapes` collects every problem (`ConfigProblem`: path, problem, fix) and every warning
(`ConfigWarning`) instead of raising at the first, so an administrator fixes a configuration in one pass.
The parsers of the native and the legacy format build on it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from netbox_sso.core.claims import MAX_VALUE_LENGTH, Normalization
from netbox_sso.core.errors import ConfigProblem, ConfigWarning, did_you_mean, setting_path
from netbox_sso.core.rules.model import MAX_GROUP_NAME_LENGTH

# Keys someone may reach for that do not exist: explain instead of only suggesting a near spelling.
_KEY_HINTS = {
    "staff_groups": "NetBox >= 4.5 has no staff flag (is_staff was removed); use superuser_groups or "
    "ObjectPermissions through permissions",
    "is_staff": "NetBox >= 4.5 has no staff flag (is_staff was removed)",
    "admin_groups": "superuser_groups grants NetBox superuser",
    "allowed_groups": "required_groups refuses login unless the user has one of these IdP values",
}


def _type_name(value: Any) -> str:
    return {dict: "dict", list: "list", tuple: "tuple", str: "string", bool: "bool", int: "int"}.get(
        type(value), type(value).__name__
    )


class Shapes:
    """Collects every problem and warning while validating; checks the generic shapes of values."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []
        self.warnings: list[ConfigWarning] = []

    def fail(self, path: str, problem: str, fix: str) -> None:
        self.problems.append(ConfigProblem(path, problem, fix))

    def warn(self, path: str, message: str, code: str = "mapping.warning", fix: str = "") -> None:
        self.warnings.append(ConfigWarning(path, message, code, fix))

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
