"""`netbox sso_import_rules [--create-groups] [--dry-run]`: copy configuration.py's mapping rules into the database.

Each configured rule becomes a MappingRule (group_map entries, group_patterns, superuser_groups, required_groups,
default_groups); a rule already in the database gets the configured groups added. Running it twice changes
nothing. The rules in configuration.py keep applying (united with the database's) until you delete them there.
The reference's SOCIAL_AUTH_PIPELINE_CONFIG is not imported: move it to PLUGINS_CONFIG first.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from netbox_sso.core.rule_sources import RuleRecord
from netbox_sso.core.rules import LEGACY_BACKEND, BackendRules


def configured_records(rules: BackendRules, raw_defaults: list[str]) -> list[RuleRecord]:
    """The rules of one configured backend as database rules."""
    backend = rules.backend
    records = [
        RuleRecord(backend, "groups", "exact", rules.map_keys.get(key, key), tuple(sorted(targets)))
        for key, targets in sorted(rules.group_map.items())
    ]
    records += [
        RuleRecord(backend, "groups", "glob" if p.kind == "match" else "regex", p.pattern, tuple(sorted(p.groups)))
        for p in rules.group_patterns
    ]
    records += [RuleRecord(backend, "superuser", "exact", value) for value in sorted(rules.superuser_groups or ())]
    records += [RuleRecord(backend, "required", "exact", value) for value in sorted(rules.required_groups)]
    if raw_defaults:
        records.append(RuleRecord(backend, "default", "exact", "", tuple(sorted(raw_defaults))))
    return records


class Command(BaseCommand):
    help = "Copy the mapping rules of PLUGINS_CONFIG['netbox_sso'] into the database (Single sign-on > Mapping rules)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--create-groups",
            action="store_true",
            help="create NetBox groups the rules name that do not exist (default: the backend's "
            "create_groups setting; rules naming a missing group are otherwise skipped)",
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would be imported, change nothing")

    def handle(self, *args: Any, create_groups: bool = False, dry_run: bool = False, **options: Any) -> None:
        from users.models import Group

        from netbox_sso.conf import file_config, plugin_settings
        from netbox_sso.models import MappingRule
        from netbox_sso.rule_set import database_records
        from netbox_sso.rule_validation import compile_records

        configured = plugin_settings().get("backends") or {}
        created = updated = skipped = 0
        with transaction.atomic():
            for backend, rules in sorted(file_config().backends.items()):
                if backend not in configured:
                    if backend == LEGACY_BACKEND:
                        self.stdout.write(
                            f"{backend}: SOCIAL_AUTH_PIPELINE_CONFIG is not imported; write it as "
                            f"PLUGINS_CONFIG['netbox_sso']['backends'][{backend!r}] first"
                        )
                    continue
                raw_defaults = [str(g) for g in (configured[backend].get("default_groups") or ())]
                if isinstance(configured[backend].get("default_groups"), str):
                    raw_defaults = [configured[backend]["default_groups"]]
                may_create = create_groups or rules.create_groups
                for record in configured_records(rules, raw_defaults):
                    existing = set(Group.objects.filter(name__in=record.groups).values_list("name", flat=True))
                    missing = [name for name in record.groups if name not in existing]
                    if missing and not may_create:
                        self.stdout.write(
                            f"skipped {backend} {record.effect} {record.match_type} {record.value!r}: "
                            f"NetBox group(s) {', '.join(missing)} do not exist (--create-groups)"
                        )
                        skipped += 1
                        continue
                    groups = [Group.objects.get_or_create(name=name)[0] for name in record.groups]
                    rule, new = MappingRule.objects.get_or_create(
                        backend=backend,
                        effect=record.effect,
                        match_type=record.match_type,
                        value=record.value,
                        defaults={"description": "imported from configuration.py"},
                    )
                    before = set(rule.groups.values_list("pk", flat=True))
                    if groups and not {g.pk for g in groups} <= before:
                        rule.groups.add(*groups)
                        updated += 0 if new else 1
                    created += 1 if new else 0
            _, problems = compile_records(database_records())
            if problems:
                transaction.set_rollback(True)
                raise CommandError("the imported rules do not compile, nothing was imported:\n" + "\n".join(problems))
            if dry_run:
                transaction.set_rollback(True)
        prefix = "Would import" if dry_run else "Imported"
        self.stdout.write(f"{prefix}: {created} rule(s) created, {updated} given more groups, {skipped} skipped.")
