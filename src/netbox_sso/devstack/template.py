"""A once-migrated NetBox database kept as a PostgreSQL template and cloned in seconds.

`netbox migrate` on an empty database takes about 8 minutes on 2 cores, so it runs once per NetBox
version (the *base* template). The plugin's own migrations and the seed data are applied on a clone of
it (the *full* template, keyed by a hash of our migrations and seed), which takes seconds. Templates
survive across runs; builds are serialised by a PostgreSQL advisory lock and published by renaming, so
a half-built template is never used.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.services import Postgres, Redis

#: Bumped when the seed below changes, so templates are rebuilt.
SEED_VERSION = "1"
#: The local superuser every template carries (the demo's and the tests' break-glass account).
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
_LOCK_KEY = 7_317_001

Progress = Callable[[str], None]

SEED_CODE = f"""
from users.models import User
if not User.objects.filter(username={ADMIN_USERNAME!r}).exists():
    User.objects.create_superuser({ADMIN_USERNAME!r}, 'admin@example.invalid', {ADMIN_PASSWORD!r})
"""


def netbox_version() -> str:
    return version("netbox")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def base_template_name() -> str:
    return f"nbsso_base_{_slug(netbox_version())}"


def full_template_name() -> str:
    digest = hashlib.sha256(SEED_VERSION.encode())
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    for path in sorted(migrations.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"nbsso_tpl_{_slug(netbox_version())}_{digest.hexdigest()[:12]}"


def ensure_template(pg: Postgres, redis: Redis, work_dir: Path, *, progress: Progress = print) -> str:
    """Return the name of a fully migrated and seeded template database, building it if needed."""
    full = full_template_name()
    if pg.database_exists(full):
        return full
    with pg.advisory_lock(_LOCK_KEY):
        if pg.database_exists(full):
            return full
        base = base_template_name()
        if not pg.database_exists(base):
            progress(
                f"Migrating a fresh NetBox {netbox_version()} database once (about 8 minutes on 2 "
                "cores); every later run clones it in seconds."
            )
            _build(pg, redis, work_dir / "template-base", base, plugins=False, progress=progress)
        progress("Applying netbox-sso migrations and seed data to a clone of the template.")
        _build(pg, redis, work_dir / "template-full", full, plugins=True, progress=progress, clone_from=base)
        return full


def _build(
    pg: Postgres,
    redis: Redis,
    root: Path,
    name: str,
    *,
    plugins: bool,
    progress: Progress,
    clone_from: str | None = None,
) -> None:
    building = f"{name}_building"
    if clone_from:
        pg.clone_database(clone_from, building)
    else:
        pg.drop_database(building)
        with pg.connect() as conn:
            conn.execute(f'CREATE DATABASE "{building}"')
    instance = NetBoxInstance(root, pg=pg, redis=redis, dbname=building, redis_dbs=(0, 1))
    instance.setup()
    instance.write_config(plugins=["netbox_sso"] if plugins else [])
    if pg.embedded and not clone_from:
        progress("Embedded PostgreSQL has no ICU: natural sorting of names is replaced by plain sorting.")
    _migrate_with_progress(instance, progress, without_icu=pg.embedded)
    if plugins:
        instance.shell(SEED_CODE)
    with pg.connect() as conn:  # nobody may hold a connection to a template
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (building,))
    pg.drop_database(name)
    pg.rename_database(building, name)


def _migrate_with_progress(instance: NetBoxInstance, progress: Progress, *, without_icu: bool = False) -> None:
    total = _count_unapplied(instance)
    command = [*instance.netbox_command, "migrate", "--no-input"]
    if without_icu:
        command = [sys.executable, "-m", "netbox_sso.devstack.migrate_without_icu", "migrate", "--no-input"]
    process = subprocess.Popen(command, env=instance.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = 0
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        tail = [*tail[-30:], line.rstrip()]
        if line.strip().startswith("Applying "):
            done += 1
            if done == 1 or done % 10 == 0 or done == total:
                progress(f"  migrations applied: {done}/{total or '?'}  ({line.strip()[9:].split('...')[0]})")
    if process.wait() != 0:
        raise RuntimeError("netbox migrate failed:\n" + "\n".join(tail))


def _count_unapplied(instance: NetBoxInstance) -> int:
    result = subprocess.run(
        [*instance.netbox_command, "showmigrations", "--plan"],
        env=instance.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return sum(1 for line in result.stdout.splitlines() if line.startswith("[ ]"))


if __name__ == "__main__":  # pragma: no cover - manual use: python -m netbox_sso.devstack.template
    from netbox_sso.devstack.services import system_postgres, system_redis

    pg_service, redis_service = system_postgres(), system_redis()
    if not pg_service or not redis_service:
        sys.exit("PostgreSQL and Redis must be reachable on 127.0.0.1")
    print(ensure_template(pg_service, redis_service, Path(".state").resolve()))
