"""SCIM first sync over HTTP at the provider's concurrency: real NetBox under gunicorn, a threaded client.

    NBSSO_REDIS_PORT=... PYTHONPATH=src nbsso-slot python -m bench.scim_http \\
        --sizes 1000x100 10000x1000 --styles entra okta --output docs/benchmarks-scim.md

Each (style, size) gets a fresh NetBox (a clone of the migrated template) served by gunicorn on loopback
with NetBox's production layout (contrib/gunicorn.py: 5 workers x 3 threads) and the bench probe
(bench/plugin/nbbench, which adds the statements and server time of each SCIM request as response
headers). A SCIM connection is created with the default settings (rate limit included), then a client of
`--concurrency` threads replays a first sync:

- **entra**: the Test Connection probe (`userName eq "<random guid>"`); per user `userName eq` lookup then
  POST /Users; per group `displayName eq` lookup, POST /Groups without members, then PATCH Add of its
  members in batches of `--batch`;
- **okta**: per user `userName eq` lookup (`startIndex=1&count=100`) then POST /Users; per group (Push
  Groups) POST /Groups then PUT /Groups/{id} with the whole member list.

Every user is in one group (consecutive slices); 100 groups in 1,000 are mapped by `group_map`. A 429 is
counted and retried after its Retry-After (as Entra ID does); a timeout is the provider's 60 s. Every loop
is bounded by its count and the run by `--budget` seconds; everything started is stopped in `finally`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.stats import markdown_table, percentile

REPO = Path(__file__).resolve().parent.parent
PLUGIN_PATH = Path(__file__).resolve().parent / "plugin"
SCIM_PATH = "/api/plugins/sso/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
#: The provider gives up on a request after this long (Entra ID: an answer within 60 s is required).
TIMEOUT = 60.0
#: A 429 is retried at most this often per request, waiting Retry-After (capped) each time.
MAX_RETRIES = 5
MAX_RETRY_WAIT = 60.0
CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'group_map': {f'team-{i}': f'Team {i % 50}' for i in range(0, 1000, 10)},
    'superuser_groups': ['team-0'], 'create_groups': True}}}}
"""


def progress(line: str) -> None:
    print(f"[scim-http {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    kind: str
    status: int  # 0: no answer (timeout or connection error)
    client_ms: float
    server_ms: float | None = None
    queries: int | None = None


@dataclass
class RunResult:
    style: str
    users: int
    groups: int
    concurrency: int
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    throttled: int = 0  # 429 answers (each retried after Retry-After)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)  # first few unexpected answers, for the report
    complete: bool = True  # False when the budget stopped the run early
    rate_limit: str = "?"  # the connection's, as `sso_scim create` printed it

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def server_errors(self) -> int:
        return sum(1 for s in self.samples if s.status >= 500)

    @property
    def failures(self) -> int:
        """Answers that are neither success nor a 429 (which is retried): 4xx, 5xx, no answer."""
        return sum(1 for s in self.samples if s.status == 0 or (s.status >= 400 and s.status != 429))


class Driver:
    """A SCIM client of one provider connection: one requests.Session per thread, samples per request."""

    def __init__(self, base_url: str, token: str, *, deadline: float, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.deadline = deadline
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.samples: list[Sample] = []
        self.throttled = 0
        self.timeouts = 0
        self.errors: list[str] = []

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self.headers)
        return session

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def call(self, kind: str, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """One SCIM request (a 429 retried after Retry-After); its JSON, or None if it failed."""
        for _ in range(MAX_RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self._session().request(
                    method, self.base_url + path, json=body, params=params, timeout=self.timeout
                )
            except requests.RequestException as error:
                self._record(Sample(kind, 0, (time.perf_counter() - started) * 1000))
                with self._lock:
                    self.timeouts += isinstance(error, requests.Timeout)
                    self._error(f"{kind}: {type(error).__name__}")
                return None
            headers = response.headers
            self._record(
                Sample(
                    kind,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                    float(headers["X-Bench-Server-Ms"]) if "X-Bench-Server-Ms" in headers else None,
                    int(headers["X-Bench-Queries"]) if "X-Bench-Queries" in headers else None,
                )
            )
            if response.status_code == 429:
                with self._lock:
                    self.throttled += 1
                wait = min(MAX_RETRY_WAIT, float(response.headers.get("Retry-After") or 1))
                if time.monotonic() + wait >= self.deadline:
                    return None
                time.sleep(wait)
                continue
            if response.status_code >= 400:
                with self._lock:
                    self._error(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
                return None
            return response.json() if response.content else {}
        return None

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def _error(self, text: str) -> None:
        if len(self.errors) < 10:
            self.errors.append(text)


def _user_body(index: int) -> dict[str, Any]:
    name = f"user{index:05d}@example.com"
    return {
        "schemas": [USER],
        "userName": name,
        "externalId": f"sub-{index}",
        "active": True,
        "displayName": f"User {index}",
        "name": {"givenName": "User", "familyName": str(index)},
        "emails": [{"value": name, "type": "work", "primary": True}],
    }


def _create_user(driver: Driver, index: int, style: str) -> str | None:
    if driver.expired():
        return None
    name = f"user{index:05d}@example.com"
    params = {"filter": f'userName eq "{name}"'}
    if style == "okta":
        params.update(startIndex="1", count="100")
    driver.call("lookup user", "GET", "/Users", params=params)
    created = driver.call("POST /Users", "POST", "/Users", _user_body(index))
    return created.get("id") if created else None


def _members(ids: list[str | None], group: int, users: int, groups: int) -> list[str]:
    return [i for i in ids[group * users // groups : (group + 1) * users // groups] if i]


def _entra_group(driver: Driver, group: int, members: list[str], batch: int) -> None:
    if driver.expired():
        return
    name = f"team-{group}"
    driver.call(
        "lookup group",
        "GET",
        "/Groups",
        params={"filter": f'displayName eq "{name}"', "excludedAttributes": "members"},
    )
    created = driver.call("POST /Groups", "POST", "/Groups", {"schemas": [GROUP], "displayName": name})
    if not created:
        return
    for start in range(0, len(members), batch):
        value = [{"value": m} for m in members[start : start + batch]]
        body = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": value}]}
        driver.call(f"PATCH members ({batch})", "PATCH", f"/Groups/{created['id']}", body)


def _okta_group(driver: Driver, group: int, members: list[str]) -> None:
    if driver.expired():
        return
    name = f"team-{group}"
    created = driver.call("POST /Groups", "POST", "/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    if not created:
        return
    body = {"schemas": [GROUP], "id": created["id"], "displayName": name, "members": [{"value": m} for m in members]}
    driver.call(f"PUT /Groups ({len(members)} members)", "PUT", f"/Groups/{created['id']}", body)


def first_sync(
    base_url: str,
    token: str,
    *,
    style: str,
    users: int,
    groups: int,
    concurrency: int,
    batch: int = 10,
    budget: float = 3600.0,
) -> RunResult:
    """Replay one provider's first sync against `base_url` (the SCIM base) with `concurrency` threads."""
    if style not in ("entra", "okta"):
        raise ValueError(f"style must be 'entra' or 'okta', not {style!r}")
    started = time.monotonic()
    driver = Driver(base_url, token, deadline=started + budget)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="scim") as pool:
        if style == "entra":
            driver.call("probe", "GET", "/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'})
        ids = list(pool.map(lambda index: _create_user(driver, index, style), range(users)))
        tasks: Iterable[Any]
        if style == "entra":
            tasks = pool.map(lambda g: _entra_group(driver, g, _members(ids, g, users, groups), batch), range(groups))
        else:
            tasks = pool.map(lambda g: _okta_group(driver, g, _members(ids, g, users, groups)), range(groups))
        list(tasks)
    driver.call("GET /Users page (100)", "GET", "/Users", params={"startIndex": "1", "count": "100"})
    return RunResult(
        style,
        users,
        groups,
        concurrency,
        seconds=time.monotonic() - started,
        samples=list(driver.samples),
        throttled=driver.throttled,
        timeouts=driver.timeouts,
        errors=list(driver.errors),
        complete=not driver.expired(),
    )


# ---- report ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KindRow:
    kind: str
    count: int
    ms_median: float
    ms_p95: float
    ms_max: float
    server_ms_median: float | None
    queries_median: float | None
    queries_max: int | None
    queries_first_tenth_max: int | None
    queries_last_tenth_max: int | None


def kind_rows(samples: list[Sample]) -> list[KindRow]:
    """Per request kind (in first-seen order): client latency, server time, SQL statements."""
    kinds: dict[str, list[Sample]] = {}
    for sample in samples:
        kinds.setdefault(sample.kind, []).append(sample)
    rows = []
    for kind, values in kinds.items():
        client = [s.client_ms for s in values]
        server = [s.server_ms for s in values if s.server_ms is not None]
        queries = [s.queries for s in values if s.queries is not None]
        tenth = max(1, len(queries) // 10)
        rows.append(
            KindRow(
                kind,
                len(values),
                percentile(client, 50),
                percentile(client, 95),
                max(client),
                percentile(server, 50) if server else None,
                percentile([float(q) for q in queries], 50) if queries else None,
                max(queries) if queries else None,
                max(queries[:tenth]) if queries else None,
                max(queries[-tenth:]) if queries else None,
            )
        )
    return rows


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if value != int(value) or digits == 1 else f"{int(value)}"


def render(results: list[RunResult], context: dict[str, str]) -> str:
    lines = ["# SCIM first sync over HTTP (bench.scim_http)", ""]
    lines += [f"- {key}: {value}" for key, value in context.items()]
    summary = [
        [
            r.style,
            f"{r.users:,} / {r.groups:,}",
            r.concurrency,
            f"{r.seconds:.0f}",
            f"{r.requests:,}",
            f"{r.requests / r.seconds:.1f}" if r.seconds else "-",
            r.timeouts,
            r.server_errors,
            r.failures,
            r.throttled,
            "yes" if r.complete else "**no (budget)**",
        ]
        for r in results
    ]
    lines += [
        "",
        "## Runs",
        "",
        markdown_table(
            [
                "style",
                "users / groups",
                "concurrency",
                "wall s",
                "requests",
                "requests/s",
                "timeouts",
                "5xx",
                "failed",
                "429",
                "complete",
            ],
            summary,
        ),
    ]
    for r in results:
        rows = [
            [
                row.kind,
                f"{row.count:,}",
                f"{row.ms_median:.1f}",
                f"{row.ms_p95:.1f}",
                f"{row.ms_max:.1f}",
                _num(row.server_ms_median),
                _num(row.queries_median, 0),
                _num(row.queries_max, 0),
                f"{_num(row.queries_first_tenth_max, 0)} / {_num(row.queries_last_tenth_max, 0)}",
            ]
            for row in kind_rows(r.samples)
        ]
        lines += [
            "",
            f"## {r.style}: {r.users:,} users, {r.groups:,} groups, {r.concurrency} concurrent requests",
            "",
            markdown_table(
                [
                    "request",
                    "count",
                    "ms median",
                    "ms p95",
                    "ms max",
                    "server ms median",
                    "SQL median",
                    "SQL max",
                    "SQL max 1st / last tenth",
                ],
                rows,
            ),
        ]
        if r.errors:
            lines += ["", "Unexpected answers (first ones): " + "; ".join(f"`{e}`" for e in r.errors)]
    return "\n".join(lines) + "\n"


# ---- orchestration -----------------------------------------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    users, _, groups = text.partition("x")
    try:
        return int(users), int(groups)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be USERSxGROUPS, e.g. 10000x1000, not {text!r}") from None


def run_one(stack: Any, style: str, users: int, groups: int, args: argparse.Namespace) -> RunResult:
    import re

    instance = stack.new_instance(f"scimhttp-{style}")
    try:
        instance.extra_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGIN_PATH), os.environ.get("PYTHONPATH", "")) if p
        )
        instance.extra_env["NBBENCH_PREFIXES"] = SCIM_PATH + "/"
        instance.write_config(CONFIG, plugins=("netbox_sso", "nbbench"))
        out = instance.manage("sso_scim", "create", "bench", "--backend", "oidc")
        match = re.search(r"(nbscim_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43})", out)
        if match is None:
            raise RuntimeError(f"no token in the output of sso_scim create:\n{out}")
        progress(f"{style} {users}x{groups}: NetBox on {instance.url}, {args.workers} workers x {args.threads} threads")
        instance.start(workers=args.workers, threads=args.threads)
        result = first_sync(
            instance.url + SCIM_PATH,
            match[1],
            style=style,
            users=users,
            groups=groups,
            concurrency=args.concurrency,
            batch=args.batch,
            budget=args.budget,
        )
        limit = re.search(r"rate_limit=(\d+)/min", out)
        result.rate_limit = f"{int(limit[1]):,}" if limit else "?"
        progress(
            f"{style} {users}x{groups}: {result.requests} requests in {result.seconds:.0f} s, "
            f"{result.failures} failed, {result.throttled} throttled"
        )
        return result
    finally:
        stack.release(instance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(1000, 100)], help="USERSxGROUPS, several")
    parser.add_argument("--styles", nargs="+", choices=("entra", "okta"), default=["entra", "okta"])
    parser.add_argument("--concurrency", type=int, default=10, help="client threads (requests in flight)")
    parser.add_argument("--batch", type=int, default=10, help="members per Entra PATCH")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (NetBox's contrib: 2n+1)")
    parser.add_argument("--threads", type=int, default=3, help="gunicorn threads per worker (NetBox's contrib: 3)")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds per run at most")
    parser.add_argument("--output", type=Path, help="write the markdown report there")
    args = parser.parse_args(argv)
    from bench.machine import machine_info
    from netbox_sso.devstack.stack import Stack

    machine = machine_info()  # before the run: the load average says what else shared the cores
    results: list[RunResult] = []
    stack = Stack(REPO / ".state" / "bench-scim", progress=progress)
    try:
        for users, groups in args.sizes:
            for style in args.styles:
                results.append(run_one(stack, style, users, groups, args))
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    context = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": machine["revision"],
        "versions": f"NetBox {machine['netbox']}, Django {machine['Django']}, gunicorn {machine['gunicorn']}",
        "machine": f"{machine['cpu']}, {machine['cores']} cores, client and server on the same cores; 1-min load "
        f"before {machine['load_before']}, after {os.getloadavg()[0]:.2f}",
        "server": f"gunicorn {args.workers} workers x {args.threads} threads (NetBox's contrib/gunicorn.py), "
        "PostgreSQL and Redis on loopback",
        "client": f"{args.concurrency} threads, keep-alive sessions, timeout {TIMEOUT:.0f} s, 429 retried after "
        "Retry-After",
        "connection": "created with `netbox sso_scim create` defaults (rate limit "
        f"{', '.join(sorted({r.rate_limit for r in results}))} requests/minute)",
        "command": "python -m bench.scim_http " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    report = render(results, context)
    print(report)
    if args.output is not None:
        args.output.write_text(report)
        progress(f"wrote {args.output}")
    return 0 if all(r.failures == 0 and r.complete for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
