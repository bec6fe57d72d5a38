"""The machinery of the settings schema (`netbox_sso.core.settings_schema`): the `Setting` record, the
`Invalid` error a validator raises, and the validators the declarations are built from (pure: no Django).

A validator converts a raw value from `PLUGINS_CONFIG['netbox_sso']` (or an environment variable, hence the
numeric strings) to the value in effect, or raises `Invalid(problem, fix)`; the schema adds the setting's
path. Validators only one setting uses live next to that setting in the schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any
from urllib.parse import urlsplit


class Invalid(ValueError):
    """Raised by a validator: what is wrong with the value and how to fix it (the path is added later)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class Setting:
    """One key of PLUGINS_CONFIG['netbox_sso'] (scope 'plugin') or of a backend's entry (scope 'backend')."""

    key: str
    default: Any
    doc: str
    section: str
    scope: str = "plugin"
    #: Converts and checks a raw value; None when `netbox_sso.core.rules` parses the key.
    validate: Validator | None = None
    #: How the default reads in the documentation, when the value alone would not say it.
    default_doc: str | None = None
    #: True when a non-default value weakens sign-in security (said at WARNING on start-up).
    weakens: bool = False

    @property
    def parsed_by_rules(self) -> bool:
        return self.validate is None

    def convert(self, value: Any) -> Any:
        """The value in effect: the default when absent (None), else the validated value."""
        if value is None:
            value = copy.deepcopy(self.default)
        return value if self.validate is None else self.validate(value)


# --- validators -----------------------------------------------------------------------------------------


def type_name(value: Any) -> str:
    return {dict: "dict", list: "list", tuple: "tuple", str: "string", bool: "bool", int: "int"}.get(
        type(value), type(value).__name__
    )


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"must be True or False, got {value!r}", "write True or False (no quotes)")


def number(*, unit: str, minimum: float = 0, exclusive: bool = False, integer: bool = False) -> Validator:
    """A number (or a numeric string, as read from an environment variable) not below `minimum`."""

    def validate(value: Any) -> float | int:
        converted: float | int | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            converted = value
        elif isinstance(value, str):
            try:
                converted = float(value.strip())
            except ValueError:
                converted = None
        what = "a whole number" if integer else "a number"
        if converted is None or converted != converted:  # NaN
            raise Invalid(f"must be {what} of {unit}, got {value!r}", f"write e.g. {int(minimum) + 10} (no quotes)")
        if converted < minimum or (exclusive and converted == minimum):
            bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
            raise Invalid(f"must be {bound} {unit}, got {value!r}", f"write a value {bound}")
        return int(converted) if integer else float(converted)

    return validate


def string_list(what: str) -> Validator:
    """A list of non-empty strings; a single string is a list of one."""

    def validate(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple | set | frozenset):
            raise Invalid(f"must be a list of strings ({what}), got {type_name(value)}", f"write e.g. ['{what}']")
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise Invalid(f"item {index} must be a non-empty string ({what}), got {item!r}", "quote it")
        return tuple(items)

    return validate


def optional_string(what: str) -> Validator:
    """A non-empty string, or None (an empty string counts as None)."""

    def validate(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f"must be a string ({what}) or None, got {type_name(value)}", f"write e.g. '{what}'")
        return value

    return validate


def one_of(*choices: str) -> Validator:
    """One of `choices` (strings)."""

    def validate(value: Any) -> str:
        if value not in choices:
            raise Invalid(
                f"{value!r} is not one of {', '.join(repr(c) for c in choices)}",
                f"use {' or '.join(repr(c) for c in choices)}",
            )
        return str(value)

    return validate


def http_url(value: Any) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"must be an https URL, got {value!r}", "write e.g. 'https://graph.microsoft.us'")
    return str(value).rstrip("/")


def ip_networks(value: Any) -> tuple[IPv4Network | IPv6Network, ...]:
    """IP addresses or CIDR networks, as networks (an address is a network of one)."""
    networks = []
    for item in string_list("IP address or CIDR network")(value):
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise Invalid(
                f"{item!r} is not an IP address or CIDR network",
                "list your reverse proxies' addresses, e.g. ['10.0.0.5', '192.0.2.0/28']",
            ) from None
    return tuple(networks)


def optional(validator: Validator) -> Validator:
    """The validator, with None (the default) kept as None."""
    return lambda value: None if value is None else validator(value)


def within(validator: Validator, low: int, high: int | None = None) -> Validator:
    """The validator's number brought within [low, high] (a bound, not an error: kept from 0.1)."""
    return lambda value: max(low, validator(value) if high is None else min(validator(value), high))


def or_default(validator: Validator, default: Any) -> Validator:
    """The validator's value, or `default` when it is empty."""
    return lambda value: validator(value) or default
