"""What several checks share: the enabled SSO backends, the parsed mapping rules, the database's groups."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from netbox_sso.core.rules import SSOConfig
from netbox_sso.diagnostics.findings import Finding, Severity
from netbox_sso.diagnostics.settings import Backend, NetBoxSettings

#: A placeholder of the reference's blocks left in a value (`<client-id>`).
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9-]*>")


@dataclass
class Context:
    """Computed once per run by the driver and read by the checks."""

    sso: list[Backend]
    config: SSOConfig | None = None
    mapping_findings: list[Finding] = field(default_factory=list)
    #: NetBox's group names (`check --database`), or why they could not be read.
    existing_groups: Collection[str] | None = None
    groups_error: str | None = None


Check = Callable[[NetBoxSettings, Context], Iterator[Finding]]


def finding(code: str, severity: Severity, setting: str, problem: str, fix: str = "", backend: str = "") -> Finding:
    return Finding(code, severity, setting, problem, fix, backend)


def is_set(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()
