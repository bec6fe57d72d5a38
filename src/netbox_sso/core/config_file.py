"""Load mapping settings from files, without Django: NetBox's configuration.py or a rules file.

`load_configuration()` executes a NetBox configuration.py as a Python module of its own (runpy, fresh
globals, never imported as `netbox.configuration`) and reads the three settings mapping uses. It runs
the administrator's own code, exactly as NetBox would at start-up; never point it at a file you would
not let NetBox load.

`load_rules_file()` reads YAML or JSON holding what would be `PLUGINS_CONFIG['netbox_sso']`, optionally
with NetBox's `SOCIAL_AUTH_PIPELINE_CONFIG` and `REMOTE_AUTH_DEFAULT_GROUPS` beside it (upper-case, so
they cannot collide with the plugin's own keys).
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netbox_sso.core.errors import ConfigError, ConfigProblem

PLUGIN_NAME = "netbox_sso"
_NETBOX_KEYS = ("SOCIAL_AUTH_PIPELINE_CONFIG", "REMOTE_AUTH_DEFAULT_GROUPS")


@dataclass(frozen=True)
class MappingSettings:
    """The settings `parse_config()` takes, as found in one file."""

    path: Path
    plugin_config: Mapping[str, Any] | None = None
    pipeline_config: Mapping[str, Any] | None = None
    remote_auth_default_groups: tuple[str, ...] = field(default=())


def _problem(path: Path, problem: str, fix: str) -> ConfigError:
    return ConfigError(ConfigProblem(str(path), problem, fix))


def _default_groups(path: Path, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _problem(
            path,
            f"REMOTE_AUTH_DEFAULT_GROUPS must be a list of group names, got {value!r}",
            "write e.g. REMOTE_AUTH_DEFAULT_GROUPS = ['Viewers']",
        )
    return tuple(value)


def load_configuration(path: str | Path) -> MappingSettings:
    """Execute NetBox's configuration.py in isolation and return the settings mapping uses."""
    path = Path(path)
    if not path.is_file():
        raise _problem(path, "file not found", "pass the path of NetBox's configuration.py")
    try:
        namespace = runpy.run_path(str(path), run_name="__netbox_sso_configuration__")
    except SystemExit as exc:
        raise _problem(path, f"the file called exit({exc.code})", "make it load without exiting") from exc
    except Exception as exc:  # the administrator's code: any error is a configuration problem
        raise _problem(
            path,
            f"executing it raised {type(exc).__name__}: {exc}",
            f"run `python {path}` to see the full error and fix the file (environment variables it reads?)",
        ) from exc
    plugins = namespace.get("PLUGINS_CONFIG")
    if plugins is not None and not isinstance(plugins, Mapping):
        raise _problem(path, f"PLUGINS_CONFIG must be a dict, got {type(plugins).__name__}", "write a dict")
    plugin_config = (plugins or {}).get(PLUGIN_NAME)
    pipeline_config = namespace.get("SOCIAL_AUTH_PIPELINE_CONFIG")
    return MappingSettings(
        path=path,
        plugin_config=plugin_config,
        pipeline_config=pipeline_config,
        remote_auth_default_groups=_default_groups(path, namespace.get("REMOTE_AUTH_DEFAULT_GROUPS")),
    )


def load_rules_file(path: str | Path) -> MappingSettings:
    """Read a YAML or JSON rules file (`.json` as JSON, anything else as YAML, a superset of JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(path, f"cannot read it: {exc.strerror or exc}", "check the path") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise _problem(
            path, f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}", "fix the syntax"
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise _problem(
            path,
            f"must hold a mapping (what goes in PLUGINS_CONFIG['netbox_sso']), got {type(data).__name__}",
            "start the file with e.g. `backends:`",
        )
    # Accept the whole PLUGINS_CONFIG entry pasted with its name, a common copy-paste.
    if set(data) - set(_NETBOX_KEYS) == {PLUGIN_NAME} and isinstance(data[PLUGIN_NAME], Mapping):
        data = {**data[PLUGIN_NAME], **{key: data[key] for key in _NETBOX_KEYS if key in data}}
    plugin_config = {key: value for key, value in data.items() if key not in _NETBOX_KEYS}
    return MappingSettings(
        path=path,
        plugin_config=plugin_config,
        pipeline_config=data.get("SOCIAL_AUTH_PIPELINE_CONFIG"),
        remote_auth_default_groups=_default_groups(path, data.get("REMOTE_AUTH_DEFAULT_GROUPS")),
    )
