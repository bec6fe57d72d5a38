"""A real NetBox instance: its own directory, database, Redis DB numbers and gunicorn on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
import requests

from netbox_sso.devstack.services import Postgres, Redis, free_port

#: Settings every instance under test or demo gets before the configuration under test.
_BASE_CONFIG = """\
# Written by netbox-sso's devstack. The part below the marker is the configuration under test.
ALLOWED_HOSTS = ['*']
DATABASES = {{'default': {database!r}}}
REDIS = {redis!r}
SECRET_KEY = {secret_key!r}
API_TOKEN_PEPPERS = {{1: {pepper!r}}}
ISOLATED_DEPLOYMENT = True
CENSUS_REPORTING_ENABLED = False
PLUGINS = {plugins!r}
LOGGING = {logging!r}
"""
CONFIG_MARKER = "# ---- configuration under test ----"


def _logging_config(log_file: Path) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log_file), "formatter": "plain"}},
        "loggers": {
            "netbox_sso": {"handlers": ["file"], "level": "DEBUG", "propagate": False},
            "social": {"handlers": ["file"], "level": "DEBUG", "propagate": False},
            "netbox": {"handlers": ["file"], "level": "INFO", "propagate": False},
            "django.request": {"handlers": ["file"], "level": "WARNING", "propagate": False},
        },
    }


class NetBoxInstance:
    """One NetBox: `netbox setup` directory, configuration.py, database, and a gunicorn process."""

    def __init__(
        self,
        root: Path,
        *,
        pg: Postgres,
        redis: Redis,
        dbname: str,
        redis_dbs: tuple[int, int],
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.pg = pg
        self.redis = redis
        self.dbname = dbname
        self.redis_dbs = redis_dbs
        self.host = host
        self.port = port or free_port(host)
        self.extra_env: dict[str, str] = {}
        self.owns_database = True
        self._process: subprocess.Popen | None = None

    # -- files --------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "conf" / "configuration.py"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "netbox.log"

    @property
    def gunicorn_log(self) -> Path:
        return self.root / "logs" / "gunicorn.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def netbox_command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "netbox")]

    def setup(self) -> None:
        """`netbox setup --target ROOT` once: the stock configuration template and contrib examples."""
        if not self.config_path.exists():
            subprocess.run(
                [*self.netbox_command, "setup", "--target", str(self.root)], check=True, stdout=subprocess.DEVNULL
            )
        (self.root / "logs").mkdir(parents=True, exist_ok=True)

    def write_config(self, under_test: str = "", *, plugins: Sequence[str] = ("netbox_sso",)) -> None:
        """Write configuration.py: our base settings, then the configuration under test verbatim."""
        base = _BASE_CONFIG.format(
            database=self.pg.database_settings(self.dbname),
            redis=self.redis.settings(*self.redis_dbs),
            secret_key="devstack-" + "k" * 56,
            pepper="devstack-pepper-" + "p" * 48,
            plugins=list(plugins),
            logging=_logging_config(self.log_file),
        )
        self.config_path.write_text(f"{base}\n{CONFIG_MARKER}\n{under_test.strip()}\n")

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "NETBOX_ROOT": str(self.root),
            "DJANGO_SETTINGS_MODULE": "netbox.settings",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.update(extra or {})
        return env

    # -- management commands --------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [*self.netbox_command, *args], env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"netbox {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result.stdout

    def shell(self, code: str, timeout: float = 120) -> str:
        """Run Python inside NetBox (`netbox shell -c`; nbshell breaks on piped input)."""
        return self.manage("shell", "-c", code, timeout=timeout)

    def db(self) -> psycopg.Connection:
        return self.pg.connect(self.dbname)

    # -- gunicorn ---------------------------------------------------------------------------------------
    def start(self, *, workers: int = 1, threads: int = 4, timeout: float = 120) -> None:
        """Start gunicorn on loopback and wait until the login page answers."""
        self.stop()
        self.gunicorn_log.parent.mkdir(parents=True, exist_ok=True)
        log = self.gunicorn_log.open("ab")
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"{self.host}:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
            "netbox_sso.devstack.wsgi:application",
        ]
        self._process = subprocess.Popen(
            command, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
        )
        log.close()
        self.wait_ready(timeout=timeout)

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"NetBox (gunicorn) exited with {self._process.returncode}:\n{self.tail_logs()}")
            try:
                # Not followed: with login_redirect_backend the login page redirects to the provider.
                response = requests.get(f"{self.url}/login/", timeout=30, allow_redirects=False)
                if response.status_code in (200, 302):
                    return
                last_error = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                last_error = type(error).__name__
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(
            f"NetBox did not answer on {self.url} within {timeout:.0f} s ({last_error}):\n{self.tail_logs()}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def tail_logs(self, lines: int = 40) -> str:
        chunks = []
        for path in (self.gunicorn_log, self.log_file):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                chunks.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(chunks)
