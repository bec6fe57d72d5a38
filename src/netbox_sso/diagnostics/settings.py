"""NetBox's configuration as diagnostics see it: the whole namespace, the literals, the SSO backends.

`load_settings()` executes configuration.py (or a file of Python overrides, like the admin console's
"NetBox Python Configuration Overrides" box) the way `netbox_sso.core.config_file` does: with runpy, in
a fresh namespace, never imported as NetBox's module. It is the administrator's own code, run exactly as
NetBox would run it. Beside the values, the file's AST tells which names are assigned string literals
(secrets pasted in clear).

Backends are resolved without importing Django: our hardened classes and the stock ones they replace are
listed here; other social-core classes are found by reading social-core's source (class names and their
`name` attribute), so a misspelled path gets a "did you mean" instead of an ImportError.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import os
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from netbox_sso.backends.catalog import HARDENED_BACKENDS

PLUGIN_NAME = "netbox_sso"
DEFAULT_NETBOX_ROOT = "/opt/netbox"

Kind = Literal["generic", "entra", "okta", "social-core", "netbox", "other"]


@dataclass(frozen=True)
class BackendSpec:
    """What we know about one backend class without importing it."""

    name: str
    kind: Kind
    #: Entra v2 endpoints (`/{tenant}/v2.0/...`).
    v2: bool = False


#: Stock social-core classes netbox-sso swaps for hardened ones (the map startup applies).
STOCK_HARDENED = HARDENED_BACKENDS
HARDENED_SPECS: dict[str, BackendSpec] = {
    "netbox_sso.backends.oidc.OpenIdConnect": BackendSpec("oidc", "generic"),
    "netbox_sso.backends.entra.EntraID": BackendSpec("azuread-oauth2", "entra"),
    "netbox_sso.backends.entra.EntraIDv2": BackendSpec("azuread-oauth2-v2", "entra", v2=True),
    "netbox_sso.backends.entra.EntraIDTenant": BackendSpec("azuread-tenant-oauth2", "entra"),
    "netbox_sso.backends.entra.EntraIDv2Tenant": BackendSpec("azuread-v2-tenant-oauth2", "entra", v2=True),
    "netbox_sso.backends.okta.Okta": BackendSpec("okta-openidconnect", "okta"),
}
NETBOX_BACKENDS = frozenset(
    {
        "netbox.authentication.RemoteUserBackend",
        "netbox.authentication.LDAPBackend",
        "netbox.authentication.ObjectPermissionBackend",
    }
)


@dataclass(frozen=True)
class Backend:
    """One entry of REMOTE_AUTH_BACKEND, resolved."""

    path: str
    spec: BackendSpec | None
    #: Where the entry is written: `REMOTE_AUTH_BACKEND` or `REMOTE_AUTH_BACKEND[1]`.
    setting: str

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else ""

    @property
    def kind(self) -> Kind | None:
        return self.spec.kind if self.spec else None

    @property
    def is_sso(self) -> bool:
        return self.spec is not None and self.spec.kind in ("generic", "entra", "okta", "social-core")

    @property
    def hardened(self) -> bool:
        return self.spec is not None and self.spec.kind in ("generic", "entra", "okta")

    @property
    def prefix(self) -> str:
        """social-core's setting prefix: `SOCIAL_AUTH_<NAME>_` (oidc -> SOCIAL_AUTH_OIDC_)."""
        return setting_prefix(self.name)


def setting_prefix(backend_name: str) -> str:
    return f"SOCIAL_AUTH_{backend_name.upper().replace('-', '_')}_"


@dataclass(frozen=True)
class NetBoxSettings:
    """A configuration file's namespace (upper-case names only) and the names holding string literals."""

    path: Path
    values: Mapping[str, Any]
    #: Top-level names assigned a string literal (`X = '...'`), with the line they are assigned on.
    literal_strings: Mapping[str, int] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def backend_setting(self, backend: Backend, suffix: str) -> tuple[str, Any]:
        """social-core's lookup: SOCIAL_AUTH_<BACKEND>_<SUFFIX>, then SOCIAL_AUTH_<SUFFIX>."""
        specific = backend.prefix + suffix
        if specific in self.values:
            return specific, self.values[specific]
        generic = f"SOCIAL_AUTH_{suffix}"
        if generic in self.values:
            return generic, self.values[generic]
        return specific, None

    @property
    def plugin_enabled(self) -> bool:
        plugins = self.values.get("PLUGINS") or ()
        return isinstance(plugins, list | tuple) and PLUGIN_NAME in plugins

    @property
    def plugin_config(self) -> Mapping[str, Any]:
        plugins = self.values.get("PLUGINS_CONFIG")
        if not isinstance(plugins, Mapping):
            return {}
        entry = plugins.get(PLUGIN_NAME)
        return entry if isinstance(entry, Mapping) else {}

    def backends(self) -> list[Backend]:
        """REMOTE_AUTH_BACKEND resolved, in order (NetBox's default is its RemoteUserBackend)."""
        raw = self.values.get("REMOTE_AUTH_BACKEND", "netbox.authentication.RemoteUserBackend")
        if isinstance(raw, str):
            return [Backend(raw, resolve_backend(raw), "REMOTE_AUTH_BACKEND")]
        if isinstance(raw, list | tuple):
            return [
                Backend(str(path), resolve_backend(str(path)), f"REMOTE_AUTH_BACKEND[{index}]")
                for index, path in enumerate(raw)
            ]
        return []

    def sso_backends(self) -> list[Backend]:
        return [backend for backend in self.backends() if backend.is_sso]


class SettingsLoadError(Exception):
    """The file could not be executed; `problem` and `fix` say why and what to do."""

    def __init__(self, code: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.code, self.problem, self.fix = code, problem, fix


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """NetBox's own choice: $NETBOX_ROOT/conf/configuration.py, else the legacy source-tree place."""
    root = Path(environ.get("NETBOX_ROOT") or DEFAULT_NETBOX_ROOT)
    preferred = root / "conf" / "configuration.py"
    legacy = root / "netbox" / "netbox" / "configuration.py"
    return legacy if not preferred.is_file() and legacy.is_file() else preferred


def load_settings(path: str | Path) -> NetBoxSettings:
    """Execute the file in isolation; raise SettingsLoadError with the reason when that fails."""
    path = Path(path)
    if not path.is_file():
        raise SettingsLoadError(
            "config.not_found",
            f"{path} does not exist",
            "pass --config with the path of NetBox's configuration.py (or set NETBOX_ROOT)",
        )
    try:
        namespace = runpy.run_path(str(path), run_name="__netbox_sso_configuration__")
    except SystemExit as exc:
        raise SettingsLoadError(
            "config.unloadable", f"the file called exit({exc.code})", "make it load without exiting"
        ) from exc
    except Exception as exc:  # the administrator's code: any error is a configuration problem
        raise SettingsLoadError(
            "config.unloadable",
            f"executing it raised {type(exc).__name__}: {exc}",
            f"run `python {path}` in NetBox's environment to see the full error (environment variables it reads?)",
        ) from exc
    values = {name: value for name, value in namespace.items() if name.isupper() or name.startswith("SOCIAL_AUTH_")}
    return NetBoxSettings(path, values, literal_assignments(path.read_text(encoding="utf-8", errors="replace")))


def literal_assignments(source: str) -> dict[str, int]:
    """Top-level names assigned a plain string literal (annotated or not), with their line number."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.lineno
    return found


# --- backend resolution ---------------------------------------------------------------------------------


@cache
def social_core_backends() -> dict[str, str]:
    """`social_core.backends.<module>.<Class>` -> backend name, read from social-core's source files."""
    spec = importlib.util.find_spec("social_core.backends")
    if spec is None or not spec.submodule_search_locations:
        return {}
    found: dict[str, str] = {}
    for directory in spec.submodule_search_locations:
        for file in sorted(Path(directory).glob("*.py")):
            try:
                tree = ast.parse(file.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    found[f"social_core.backends.{file.stem}.{node.name}"] = _class_name_attribute(node)
    return found


def _class_name_attribute(node: ast.ClassDef) -> str:
    for statement in node.body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "name" for t in statement.targets)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return statement.value.value
    return ""


def known_backend_paths() -> list[str]:
    """Every class path a "did you mean" may suggest: ours, NetBox's and social-core's."""
    return [*HARDENED_SPECS, *sorted(NETBOX_BACKENDS), *social_core_backends()]


def resolve_backend(path: str) -> BackendSpec | None:
    """The backend behind a class path, or None when no such class exists."""
    if path in STOCK_HARDENED:
        return HARDENED_SPECS[STOCK_HARDENED[path]]
    if path in HARDENED_SPECS:
        return HARDENED_SPECS[path]
    if path in NETBOX_BACKENDS:
        return BackendSpec(path.rsplit(".", 1)[-1], "netbox")
    if path.startswith("social_core."):
        name = social_core_backends().get(path)
        if name is None:
            return None
        return BackendSpec(name or _imported_name(path), "social-core")
    module, _, _cls = path.rpartition(".")
    try:
        found = bool(module) and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return BackendSpec(_imported_name(path), "other") if found else None


def _imported_name(path: str) -> str:
    """A class that inherits its `name`: import it (social-core backends need no Django)."""
    module, _, cls = path.rpartition(".")
    try:
        return str(getattr(getattr(importlib.import_module(module), cls), "name", "") or "")
    except Exception:  # third-party code: whatever it raises, we only lose the name
        return ""


def suggest(word: str, candidates: list[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=cutoff)
    return close[0] if close else ""
