"""The development stack shared by the demo, the tests and the benchmarks.

Services (PostgreSQL, Redis), the migrated template, and NetBox instances cloned from it. Every process and
database it creates is released by `close()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.services import (
    Postgres,
    Redis,
    embedded_postgres,
    embedded_redis,
    system_postgres,
    system_redis,
)
from netbox_sso.devstack.template import ensure_template

Progress = Callable[[str], None]


class ServicesUnavailable(RuntimeError):
    pass


class Stack:
    """PostgreSQL + Redis + the migrated template; hands out NetBox instances."""

    def __init__(self, state_dir: Path, *, allow_embedded: bool = False, progress: Progress = print) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.pg = self._postgres(allow_embedded)
        try:
            self.redis = self._redis(allow_embedded)
            self.template = ensure_template(self.pg, self.redis, self.state_dir, progress=progress)
        except BaseException:  # the caller gets no Stack to close: stop what we started (also on Ctrl-C)
            self.pg.stop()
            if hasattr(self, "redis"):
                self.redis.stop()
            raise
        base = int(os.environ.get("NBSSO_REDIS_DB_BASE", "2"))
        self._free_redis_dbs = [(n, n + 1) for n in range(base, 15, 2)]
        self._instances: list[NetBoxInstance] = []
        self._counter = 0
        self._remove_stale_instances()

    def _remove_stale_instances(self) -> None:
        """Instance directories (logs kept for post-mortems) of runs whose process is gone."""
        for path in (self.state_dir / "instances").glob("*-*-*"):
            pid = path.name.rsplit("-", 2)[-2]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(path, ignore_errors=True)
        with self.pg.connect() as conn:
            names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'nbsso_%'")]
        for name in names:  # nbsso_<instance>_<pid>_<n>: databases of crashed runs
            parts = name.rsplit("_", 2)
            if (
                len(parts) == 3
                and parts[1].isdigit()
                and parts[2].isdigit()
                and not name.startswith("nbsso_tpl_")
                and not name.startswith("nbsso_base_")
                and not Path(f"/proc/{parts[1]}").exists()
            ):
                with contextlib.suppress(Exception):
                    self.pg.drop_database(name)

    def _postgres(self, allow_embedded: bool) -> Postgres:
        if service := system_postgres():
            self.progress(f"PostgreSQL: the machine's, on {service.host}:{service.port}")
            return service
        if not allow_embedded:
            raise ServicesUnavailable(
                "PostgreSQL is not reachable on 127.0.0.1:5432 (trust auth, user postgres); "
                "start it, or set NBSSO_PGHOST/NBSSO_PGPORT/NBSSO_PGUSER"
            )
        service = embedded_postgres(self.state_dir / "embedded-postgres")
        self.progress(f"PostgreSQL: embedded (none reachable on 127.0.0.1:5432), on port {service.port}")
        return service

    def _redis(self, allow_embedded: bool) -> Redis:
        if service := system_redis():
            self.progress(f"Redis: the machine's, on {service.host}:{service.port}")
            return service
        if not allow_embedded:
            raise ServicesUnavailable(
                "Redis is not reachable on 127.0.0.1:6379; start it, or set NBSSO_REDIS_HOST/NBSSO_REDIS_PORT"
            )
        service = embedded_redis(self.state_dir / "embedded-redis")
        self.progress(f"Redis: embedded (none reachable on 127.0.0.1:6379), on port {service.port}")
        return service

    def new_instance(
        self, name: str, *, dbname: str | None = None, share_with: NetBoxInstance | None = None
    ) -> NetBoxInstance:
        """A NetBox with its own directory; its own cloned database and Redis DBs unless `share_with`."""
        self._counter += 1
        root = self.state_dir / "instances" / f"{name}-{os.getpid()}-{self._counter}"
        if share_with is not None:
            instance = NetBoxInstance(
                root, pg=self.pg, redis=self.redis, dbname=share_with.dbname, redis_dbs=share_with.redis_dbs
            )
            instance.owns_database = False
        else:
            dbname = dbname or f"nbsso_{name}_{os.getpid()}_{self._counter}".lower().replace("-", "_")
            self.pg.clone_database(self.template, dbname)
            if not self._free_redis_dbs:
                raise RuntimeError("no free Redis DB numbers left; close instances you no longer need")
            redis_dbs = self._free_redis_dbs.pop(0)
            self.redis.flush(*redis_dbs)
            instance = NetBoxInstance(root, pg=self.pg, redis=self.redis, dbname=dbname, redis_dbs=redis_dbs)
            instance.owns_database = True
        instance.setup()
        self._instances.append(instance)
        return instance

    def release(self, instance: NetBoxInstance) -> None:
        instance.stop()
        if instance in self._instances:
            self._instances.remove(instance)
        if getattr(instance, "owns_database", False):
            with contextlib.suppress(Exception):
                self.pg.drop_database(instance.dbname)
            self._free_redis_dbs.append(instance.redis_dbs)

    def close(self) -> None:
        for instance in list(self._instances):
            self.release(instance)
        self.pg.stop()
        self.redis.stop()
