"""What the status page shows: providers in effect, their redirect URIs, mapping rules, doctor results.

Redirect URIs are built as social-core builds them for this request: NetBox's host and BASE_PATH, the
`social:complete` URL, https when the request is https or SOCIAL_AUTH_REDIRECT_IS_HTTPS is set.

Doctor hook: when a module `netbox_sso.diagnostics` exists and has `latest_doctor_report()` returning a
mapping (`{"generated_at": ..., "findings": [Finding.to_dict(), ...]}`: code, severity, setting, problem,
fix, backend) or None, its result is shown; otherwise the page says to run `netbox-sso doctor`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from netbox_sso.core import settings_schema as schema
from netbox_sso.core.rules import BackendRules

DOCTOR_MODULE = "netbox_sso.diagnostics"
DOCTOR_HOOK = "latest_doctor_report"


@dataclass(frozen=True)
class Provider:
    name: str
    class_path: str
    replaces: str | None
    redirect_uri: str
    button_label: str


def _stock_class_for(class_path: str) -> str | None:
    from netbox_sso.backends.catalog import HARDENED_BACKENDS

    return next((stock for stock, ours in HARDENED_BACKENDS.items() if ours == class_path), None)


def redirect_uri(request: HttpRequest, backend: str) -> str:
    uri = request.build_absolute_uri(reverse("social:complete", args=[backend]))
    if getattr(settings, "SOCIAL_AUTH_REDIRECT_IS_HTTPS", False) and uri.startswith("http://"):
        uri = "https://" + uri.removeprefix("http://")
    return uri


def providers(request: HttpRequest) -> list[Provider]:
    """Every social-auth backend NetBox is configured with, as it is in effect after start-up."""
    from social_core.backends.utils import load_backends

    attrs = getattr(settings, "SOCIAL_AUTH_BACKEND_ATTRS", {}) or {}
    out = []
    for name, cls in sorted(load_backends(settings.AUTHENTICATION_BACKENDS).items()):
        path = f"{cls.__module__}.{cls.__name__}"
        label = attrs.get(name, (name,))[0] if isinstance(attrs.get(name), tuple | list) else name
        out.append(Provider(name, path, _stock_class_for(path), redirect_uri(request, name), str(label)))
    return out


def describe_rules(rules: BackendRules) -> dict[str, Any]:
    """The mapping rules of one backend as the page shows them (names only, never secrets)."""
    return {
        "backend": rules.backend,
        "setting": rules.setting,
        "groups_claim": rules.groups_claim.display,
        "groups_sources": list(rules.groups_sources),
        "normalize": {"case": rules.normalize.case, "strip_prefixes": list(rules.normalize.strip_prefixes)},
        "group_map": {key: sorted(targets) for key, targets in sorted(rules.group_map.items())},
        "group_patterns": [
            {"kind": p.kind, "pattern": p.pattern, "groups": sorted(p.groups)} for p in rules.group_patterns
        ],
        "superuser_groups": None if rules.superuser_groups is None else sorted(rules.superuser_groups),
        "required_groups": sorted(rules.required_groups),
        "default_groups": sorted(rules.default_groups),
        "missing_claim": rules.missing_claim,
        "create_groups": rules.create_groups,
        "managed_groups": sorted(rules.managed_groups),
        "permissions": {group: [spec.name for spec in specs] for group, specs in sorted(rules.permissions.items())},
    }


def mapping() -> dict[str, Any]:
    """The rules in force (configuration.py merged with the database rules)."""
    from netbox_sso.conf import file_config, sso_config
    from netbox_sso.rule_set import MappingRulesInvalid

    try:
        config = sso_config()
        problem = []
    except MappingRulesInvalid as error:  # shown on the page; SSO logins are refused until fixed
        config, problem = file_config(), [f"database mapping rules are invalid, SSO logins are refused: {error}"]
    return {
        "backends": [describe_rules(rules) for _, rules in sorted(config.backends.items())],
        "break_glass_users": sorted(config.break_glass_users),
        "warnings": [*problem, *config.warnings],
    }


def changed_settings() -> list[dict[str, Any]]:
    """Every setting (core.settings_schema) whose value in effect differs from its default, with its doc."""
    from netbox_sso.backends.config import plugin_values

    values = plugin_values()
    changed = []
    for key, setting in schema.PLUGIN_SETTINGS.items():
        if setting.parsed_by_rules:  # the mapping rules are shown above, in full
            continue
        value, default = values[key], setting.convert(None)
        if value != default:
            changed.append(
                {
                    "key": key,
                    "value": value,
                    "default": setting.default_doc or repr(setting.default),
                    "doc": setting.doc,
                    "weakens": setting.weakens,
                }
            )
    return changed


def doctor_report() -> tuple[bool, Mapping[str, Any] | None]:
    """(hook available, latest cached doctor report or None)."""
    try:
        module = importlib.import_module(DOCTOR_MODULE)
    except ModuleNotFoundError as error:
        if error.name != DOCTOR_MODULE:
            raise
        return False, None
    hook = getattr(module, DOCTOR_HOOK, None)
    if not callable(hook):
        return False, None
    report = hook()
    return True, report if isinstance(report, Mapping) else None


def configured_rules() -> dict[str, Any]:
    """configuration.py's rules as rows like the database rules (read-only beside them), and its settings."""
    from netbox_sso.conf import file_config

    rows: list[dict[str, Any]] = []
    config = file_config()
    for backend, rules in sorted(config.backends.items()):
        names = rules.names
        assert names is not None  # BackendRules always fills it in
        for key, targets in sorted(rules.group_map.items()):
            rows.append(
                {
                    "backend": backend,
                    "effect": "groups",
                    "match_type": "exact",
                    "value": rules.map_keys.get(key, key),
                    "groups": sorted(targets),
                    "setting": names.group_map,
                }
            )
        for pattern in rules.group_patterns:
            rows.append(
                {
                    "backend": backend,
                    "effect": "groups",
                    "match_type": "glob" if pattern.kind == "match" else "regex",
                    "value": pattern.pattern,
                    "groups": sorted(pattern.groups),
                    "setting": pattern.label or rules.setting,
                }
            )
        for key, values, setting in (
            ("superuser", rules.superuser_groups, names.superuser_groups),
            ("required", rules.required_groups, names.required_groups),
        ):
            for value in sorted(values or ()):
                rows.append(
                    {
                        "backend": backend,
                        "effect": key,
                        "match_type": "exact",
                        "value": value,
                        "groups": [],
                        "setting": setting,
                    }
                )
        if rules.default_groups:
            rows.append(
                {
                    "backend": backend,
                    "effect": "default",
                    "match_type": "",
                    "value": "",
                    "groups": sorted(rules.default_groups),
                    "setting": names.default_groups,
                }
            )
    # A configured rule may name a NetBox group that does not exist: say so (created at login only with
    # create_groups; otherwise the rule assigns nothing and each login logs a warning).
    from users.models import Group

    wanted = {group for row in rows for group in row["groups"]}
    existing = set(Group.objects.filter(name__in=wanted).values_list("name", flat=True)) if wanted else set()
    for row in rows:
        row["missing"] = [group for group in row["groups"] if group not in existing]
        row["created_at_login"] = config.backends[row["backend"]].create_groups
    backend_settings = [
        {
            "backend": backend,
            "groups_claim": rules.groups_claim.display,
            "groups_sources": ", ".join(rules.groups_sources),
            "case": rules.normalize.case,
            "strip_prefixes": ", ".join(rules.normalize.strip_prefixes),
            "missing_claim": rules.missing_claim,
            "create_groups": rules.create_groups,
        }
        for backend, rules in sorted(config.backends.items())
    ]
    return {"rows": rows, "settings": backend_settings}
