"""netbox-sso against stock NetBox, side by side in one run: orchestration and the report.

Stock = the same NetBox build with PLUGINS = ['nbbench'] (the bench probe only); ours = PLUGINS =
['netbox_sso', 'nbbench'] with 1,000 mapping rules. Both get the same reference block and the same
devidp. Every loop is bounded in count and by the run's time budget; everything started is stopped in
`finally`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import sys
import threading
import time
import timeit
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from bench import scenario
from bench.machine import machine_info
from bench.report import render
from bench.stats import Summary, summarize
from netbox_sso.devidp import DevIdP
from netbox_sso.devstack.login import LoginResult, sso_login
from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.stack import Stack

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".state" / "bench"
PLUGIN_PATH = Path(__file__).resolve().parent / "plugin"
OUTPUT = REPO / "docs" / "benchmarks.md"
BACKEND = "oidc"
STOCK_PLUGINS = ("nbbench",)
OURS_PLUGINS = ("netbox_sso", "nbbench")
VARIANTS = ("stock", "ours")
#: Item 5 runs in this many rounds per variant, interleaved stock, ours, stock, ours.
THROUGHPUT_ROUNDS = 4


@dataclass(frozen=True)
class Plan:
    """How much to measure (the full run is sized for ~15 minutes on 2 cores)."""

    rounds: int = 100  # item 1: A B A B rounds, each one first and one repeat login per variant
    groups: int = 200  # item 1 and 5: groups per user
    rules: int = 1000  # item 1, 2 and 5: mapping rules of ours
    cold_starts: int = 9  # item 1: worker starts per variant, each followed by one (cold) first login
    query_groups: tuple[int, ...] = (1, 200, 5000)  # item 2
    query_repeats: int = 5  # item 2: repeat logins per group count and variant
    decision_size: int = 10_000  # item 4: IdP groups and rules
    decision_repeats: int = 50  # item 4
    cluster_workers: int = 3  # item 3 and 5: gunicorn workers per instance (two instances)
    users: int = 8  # item 5: concurrent users
    logins_per_user: int = 25  # item 5
    budget: float = 14 * 60  # seconds for the whole run


QUICK = Plan(
    rounds=3,
    cold_starts=1,
    query_groups=(1, 200, 5000),
    query_repeats=2,
    decision_repeats=10,
    cluster_workers=2,
    users=2,
    logins_per_user=3,
    budget=8 * 60,
)


class Budget:
    """The run's deadline: loops stop starting new work once it has passed."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self, reserve: float = 0.0) -> bool:
        return self.left() <= reserve


def progress(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# ---- one login, measured -------------------------------------------------------------------------------
@dataclass
class Sample:
    ok: bool
    client: float | None = None  # seconds, GET /oauth/complete/ as timed by the client
    server: float | None = None  # seconds, the same request inside Django (X-Bench-Server-Ms)
    queries: int | None = None  # SQL statements of that request (X-Bench-Queries)
    pid: str | None = None  # the gunicorn worker that served it
    tables: dict[str, int] = field(default_factory=dict)  # those statements by table (X-Bench-Tables)
    total: float = 0.0  # seconds, the whole login as the client saw it
    idp: Counter[str] = field(default_factory=Counter)
    error: str = ""


class Lab:
    """devidp + the stack; creates instances wired to devidp and the bench probe; logs in."""

    def __init__(self, stack: Stack, idp: DevIdP) -> None:
        self.stack = stack
        self.idp = idp
        self.redirects: set[str] = set()
        self.failures_shown = 0

    def instance(
        self, name: str, config: str, plugins: tuple[str, ...], *, share_with: NetBoxInstance | None = None
    ) -> NetBoxInstance:
        instance = self.stack.new_instance(name, share_with=share_with)
        instance.extra_env["REQUESTS_CA_BUNDLE"] = str(self.idp.ca_bundle)
        instance.extra_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGIN_PATH), os.environ.get("PYTHONPATH", "")) if p
        )
        instance.write_config(config, plugins=plugins)
        self.redirects.add(f"{instance.url}/oauth/complete/{BACKEND}/")
        self.idp.register_client(scenario.CLIENT_ID, scenario.CLIENT_SECRET, redirect_uris=sorted(self.redirects))
        return instance

    def login(self, instance: NetBoxInstance, username: str) -> Sample:
        start = time.perf_counter()
        try:
            result = sso_login(instance.url, BACKEND, username, verify=str(self.idp.ca_bundle), timeout=30)
        except (requests.RequestException, AssertionError) as error:
            return self._failed(instance, username, f"{type(error).__name__}: {error}", time.perf_counter() - start)
        total = time.perf_counter() - start
        if not result.logged_in:
            return self._failed(instance, username, _describe_failure(result), total)
        headers = result.complete_headers
        return Sample(
            ok=True,
            client=result.timings.get("complete"),
            total=total,
            server=float(headers["X-Bench-Server-Ms"]) / 1000 if "X-Bench-Server-Ms" in headers else None,
            queries=int(headers["X-Bench-Queries"]) if "X-Bench-Queries" in headers else None,
            pid=f"{instance.port}/{headers.get('X-Bench-Pid', '?')}",
            tables=parse_tables(headers.get("X-Bench-Tables", "")),
        )

    def _failed(self, instance: NetBoxInstance, username: str, error: str, total: float) -> Sample:
        if self.failures_shown < 5:
            self.failures_shown += 1
            progress(f"login FAILED on {instance.url} as {username}: {error}")
        return Sample(ok=False, total=total, error=error)

    def measured(self, instance: NetBoxInstance, username: str) -> Sample:
        """One login alone, with the identity-provider calls it caused."""
        self.idp.clear_log()
        sample = self.login(instance, username)
        sample.idp = scenario.classify(self.idp.requests_log)
        return sample


def parse_tables(header: str) -> dict[str, int]:
    """'t1=3;t2=1' -> {'t1': 3, 't2': 1}."""
    pairs = (item.split("=", 1) for item in header.split(";") if "=" in item)
    return {name: int(count) for name, count in pairs if count.isdigit()}


def _describe_failure(result: LoginResult) -> str:
    return f"HTTP {result.status_code} at {result.final_url}: {result.message_text or '(no message)'}"


# ---- item 1 and 3 (per login): callback time, first and repeat login, interleaved ---------------------------
@dataclass
class Memory:
    """Resident size of the one item-1 worker of a variant, after its warm-up and after item 1."""

    pid: str
    warm_kib: int | None
    after_kib: int | None
    logins: int  # callbacks that worker served by the second reading


@dataclass
class CallbackResults:
    cold: dict[str, list[Sample]] = field(default_factory=dict)
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    memory: dict[str, Memory] = field(default_factory=dict)

    def add(self, variant: str, kind: str, sample: Sample) -> None:
        self.samples.setdefault((variant, kind), []).append(sample)

    def values(self, variant: str, kind: str, attr: str) -> list[float]:
        samples = self.samples.get((variant, kind), [])
        return [getattr(s, attr) for s in samples if s.ok and getattr(s, attr) is not None]

    def errors(self, variant: str) -> int:
        return sum(not s.ok for (v, _), samples in self.samples.items() if v == variant for s in samples)


def bench_callback(lab: Lab, nb: dict[str, NetBoxInstance], plan: Plan, budget: Budget) -> CallbackResults:
    results = CallbackResults()
    progress("warm-up: two users per instance (creates the mapped groups; first login after start is 'cold')")
    warm_pids: dict[str, str | None] = {}
    served: Counter[str] = Counter()
    for index in range(2):
        user = f"warm-{index}"
        lab.idp.upsert_user(user, scenario.claims(user, plan.groups), replace_claims=True)
        for variant in VARIANTS:
            sample = lab.measured(nb[variant], user)
            if index == 0:
                results.cold.setdefault(variant, []).append(sample)
            repeat = lab.login(nb[variant], user)
            served[variant] += 2
            warm_pids[variant] = repeat.pid or sample.pid
    warm_rss = {variant: worker_rss_kib(pid) for variant, pid in warm_pids.items()}
    progress(f"item 1: {plan.rounds} rounds x (first, repeat) x (stock, ours), interleaved A B A B")
    for index in range(plan.rounds):
        if budget.expired(reserve=360):
            progress(f"item 1: stopped after {index} rounds (time budget)")
            break
        user = f"cb-{index:03d}"
        lab.idp.upsert_user(user, scenario.claims(user, plan.groups), replace_claims=True)
        for kind in ("first", "repeat"):
            for variant in VARIANTS:
                results.add(variant, kind, lab.measured(nb[variant], user))
                served[variant] += 1
    for variant in VARIANTS:
        pids = {s.pid for kind in ("first", "repeat") for s in results.samples.get((variant, kind), []) if s.pid}
        pid = warm_pids.get(variant)
        if pid and pids <= {pid}:  # the same single worker served every login
            results.memory[variant] = Memory(pid, warm_rss[variant], worker_rss_kib(pid), served[variant])
    bench_cold(lab, nb, plan, budget, results)
    return results


def bench_cold(lab: Lab, nb: dict[str, NetBoxInstance], plan: Plan, budget: Budget, results: CallbackResults) -> None:
    """Restart each variant's worker and time its first callback: the first login after a worker starts."""
    progress(f"item 1 (cold): {plan.cold_starts - 1} more restart(s) per variant, each followed by one first login")
    for index in range(1, plan.cold_starts):
        if budget.expired(reserve=330):
            progress(f"item 1 (cold): stopped after {index} cold login(s) per variant (time budget)")
            break
        user = f"cold-{index}"
        lab.idp.upsert_user(user, scenario.claims(user, plan.groups), replace_claims=True)
        for variant in VARIANTS:
            nb[variant].start(workers=1, threads=4)  # stops the running server first
            results.cold.setdefault(variant, []).append(lab.measured(nb[variant], user))


def worker_rss_kib(pid: str | None) -> int | None:
    """VmRSS of a local gunicorn worker ("port/pid" as in Sample.pid), in KiB; None if unreadable."""
    if not pid or "/" not in pid:
        return None
    try:
        status = Path(f"/proc/{pid.rsplit('/', 1)[1]}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


# ---- item 2: queries per login as groups grow ---------------------------------------------------------------
def bench_queries(
    lab: Lab, nb: dict[str, NetBoxInstance], plan: Plan, budget: Budget
) -> dict[tuple[int, str, str], list[Sample]]:
    """Per group count: one first login, then `query_repeats` repeat logins, each interleaved stock, ours."""
    results: dict[tuple[int, str, str], list[Sample]] = {}
    progress(f"item 2: queries per login with {', '.join(map(str, plan.query_groups))} groups")
    for groups in plan.query_groups:
        if budget.expired(reserve=300):
            progress("item 2: stopped (time budget)")
            break
        user = f"q-{groups}"
        lab.idp.upsert_user(user, scenario.claims(user, groups), replace_claims=True)
        for kind, times in (("first", 1), ("repeat", plan.query_repeats)):
            for _ in range(times):
                for variant in VARIANTS:
                    results.setdefault((groups, kind, variant), []).append(lab.measured(nb[variant], user))
    return results


# ---- item 4: the pure decision ---------------------------------------------------------------------------------
@dataclass
class DecisionResult:
    label: str
    decide: Summary | None
    read_and_decide: Summary | None
    parse_seconds: float
    #: decide() in CPU time of the thread (time.thread_time): what the call costs, without the time the
    #: thread waits for a core on a shared machine (wall time above).
    decide_cpu: Summary | None = None


def bench_decision(plan: Plan) -> list[DecisionResult]:
    n = plan.decision_size
    progress(f"item 4: decide() with {n:,} IdP groups against {n:,} rules, {plan.decision_repeats} repeats")
    return [_decision_case(n, patterns, plan.decision_repeats) for patterns in (0, 1000)]


def _decision_case(n: int, patterns: int, repeats: int) -> DecisionResult:
    """The case of tests/unit/test_core_scale.py, timed: half the values match; stale managed groups go."""
    from netbox_sso.core.claims import read_groups
    from netbox_sso.core.decision import CurrentUser, decide
    from netbox_sso.core.rules import parse_config

    group_map = {f"idp-{i:05d}": f"NetBox {i}" for i in range(n - patterns)}
    group_patterns = [{"match": f"idp-{i:04d}*", "groups": [f"Pattern {i}"]} for i in range(patterns)]
    start = time.perf_counter()
    rules = parse_config({"backends": {BACKEND: {"group_map": group_map, "group_patterns": group_patterns}}}).backends[
        BACKEND
    ]
    parse_seconds = time.perf_counter() - start
    sources = {"id_token": {"groups": [f"idp-{i:05d}" for i in range(0, 2 * n, 2)]}}
    reading = read_groups(rules, sources)
    user = CurrentUser("alice", frozenset(f"NetBox {i}" for i in range(1, n, 2)) | {"Manual"}, False, False)

    def read_and_decide() -> Any:
        return decide(rules, read_groups(rules, sources), user, break_glass=False)

    label = f"{n:,} groups x {n:,} rules" + (f" ({patterns:,} of them patterns)" if patterns else " (exact)")
    decide_only = functools.partial(decide, rules, reading, user, break_glass=False)
    return DecisionResult(
        label,
        summarize(timeit.repeat(decide_only, number=1, repeat=repeats)),
        summarize(timeit.repeat(read_and_decide, number=1, repeat=repeats)),
        parse_seconds,
        summarize(timeit.repeat(decide_only, number=1, repeat=repeats, timer=time.thread_time)),
    )


# ---- item 3 (cluster) and 5: two instances, several workers, concurrent users --------------------------------
@dataclass
class ClusterResult:
    variant: str
    workers: int
    samples: list[Sample]
    wall: float
    idp: Counter[str]
    warmed_workers: int
    #: After the concurrent run: NetBox's cache flushed, then sequential logins (a refill without a race).
    sequential: list[Sample] = field(default_factory=list)
    sequential_idp: Counter[str] = field(default_factory=Counter)


def bench_clusters(
    lab: Lab,
    nb: dict[str, NetBoxInstance],
    configs: dict[str, str],
    plugins: dict[str, tuple[str, ...]],
    plan: Plan,
    budget: Budget,
) -> dict[str, ClusterResult]:
    """Both clusters up at once; concurrent rounds interleaved stock, ours, stock, ours; then a refill."""
    if budget.expired(reserve=200):
        progress("item 3/5: skipped (time budget)")
        return {}
    workers = plan.cluster_workers
    progress(f"item 3/5: per variant two instances sharing PostgreSQL/Redis, {workers} workers each")
    clusters: dict[str, tuple[NetBoxInstance, NetBoxInstance]] = {}
    results: dict[str, ClusterResult] = {}
    try:
        for variant in VARIANTS:
            primary = nb[variant]
            primary.stop()
            lab.stack.redis.flush(primary.redis_dbs[1])  # NetBox's cache DB: start the cluster cold
            second = lab.instance(f"{variant}-b", configs[variant], plugins[variant], share_with=primary)
            clusters[variant] = (primary, second)
            primary.start(workers=workers, threads=4)
            second.start(workers=workers, threads=4)
        for variant, instances in clusters.items():
            warmed = sum(_warm_workers(instance, workers, budget) for instance in instances)
            results[variant] = ClusterResult(variant, workers, [], 0.0, Counter(), warmed)
        for index in range(plan.users):
            lab.idp.upsert_user(f"tp-{index}", scenario.claims(f"tp-{index}", plan.groups), replace_claims=True)
        per_round = [len(range(r, plan.logins_per_user, THROUGHPUT_ROUNDS)) for r in range(THROUGHPUT_ROUNDS)]
        for round_index, logins in enumerate(per_round):
            if not logins:
                continue
            for variant, instances in clusters.items():
                if budget.expired(reserve=90):
                    progress(f"item 5 ({variant}): round {round_index + 1} skipped (time budget)")
                    continue
                progress(
                    f"item 5 ({variant}) round {round_index + 1}/{len(per_round)}: {plan.users} concurrent "
                    f"users x {logins} logins"
                )
                lab.idp.clear_log()
                samples, wall = _concurrent_logins(lab, instances, plan.users, logins, budget)
                results[variant].samples.extend(samples)
                results[variant].wall += wall
                results[variant].idp.update(scenario.classify(lab.idp.requests_log))
        for variant, (primary, second) in clusters.items():
            lab.stack.redis.flush(primary.redis_dbs[1])
            lab.idp.clear_log()
            for attempt in range(4 * workers):
                if budget.expired(reserve=45):
                    break
                results[variant].sequential.append(lab.login((primary, second)[attempt % 2], "tp-0"))
            results[variant].sequential_idp = scenario.classify(lab.idp.requests_log)
        return results
    finally:
        for primary, second in clusters.values():
            lab.stack.release(second)
            primary.stop()


def _concurrent_logins(
    lab: Lab, instances: tuple[NetBoxInstance, NetBoxInstance], users: int, logins: int, budget: Budget
) -> tuple[list[Sample], float]:
    """`users` threads start together, each logging in `logins` times alternating instances."""
    samples: list[Sample] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user_loop(index: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=60)  # every user starts at once: a cold cache meets concurrent logins
        for attempt in range(logins):
            if budget.expired(reserve=45):
                return
            sample = lab.login(instances[(attempt + index) % 2], f"tp-{index}")
            with lock:
                samples.append(sample)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        for future in [pool.submit(user_loop, index) for index in range(users)]:
            future.result()
    return samples, time.perf_counter() - start


def _warm_workers(instance: NetBoxInstance, workers: int, budget: Budget) -> int:
    """Load every worker's code with concurrent GET /login/ (no IdP call); returns the workers seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + min(90.0, max(budget.left() - 120, 10.0))

    def get(_: int) -> str:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{instance.url}/login/", timeout=60).headers.get("X-Bench-Pid", "")
        return ""

    with ThreadPoolExecutor(max_workers=workers * 2) as pool:
        for _ in range(30):
            seen.update(pid for pid in pool.map(get, range(workers * 4)) if pid)
            if len(seen) >= workers or time.monotonic() > deadline:
                break
    return len(seen)


# ---- the run --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for development (not for docs/)")
    parser.add_argument("--rounds", type=int, help="item 1 rounds (default 40)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file to write (default {OUTPUT.relative_to(REPO)}; --quick: none)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.rounds:
        plan = replace(plan, rounds=args.rounds)
    output = args.output if args.output else (None if args.quick else OUTPUT)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so `finally` stops what we started
    budget = Budget(plan.budget)
    machine = machine_info()
    load = LoadSampler()
    load.start()
    decisions = bench_decision(plan)  # pure CPU first, before any NetBox process exists
    with _services(budget) as (stack, idp):
        lab = Lab(stack, idp)
        configs = {
            "stock": scenario.stock_config(idp),
            "ours": scenario.ours_config(idp, plan.rules, max(plan.query_groups)),
        }
        plugins = {"stock": STOCK_PLUGINS, "ours": OURS_PLUGINS}
        nb = {variant: lab.instance(variant, configs[variant], plugins[variant]) for variant in VARIANTS}
        for variant in VARIANTS:
            progress(f"starting {variant} NetBox on {nb[variant].url} (1 worker, 4 threads)")
            nb[variant].start(workers=1, threads=4)
        machine.update(stack_versions(stack))
        callback = bench_callback(lab, nb, plan, budget)
        queries = bench_queries(lab, nb, plan, budget)
        clusters = bench_clusters(lab, nb, configs, plugins, plan, budget)
    machine["load_during"] = load.stop()
    machine["load_after"] = _loadavg()
    machine["duration"] = f"{time.monotonic() - budget.start:.0f} s"
    report = render(plan, machine, decisions, callback, queries, clusters, quick=args.quick)
    print(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report + "\n")
        progress(f"wrote {output}")
    return 0


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _services(budget: Budget) -> Iterator[tuple[Stack, DevIdP]]:
    stack = Stack(STATE, progress=progress)
    idp = DevIdP(users=[], profiles=("generic",), host="127.0.0.1", port=0, tls=True, state_dir=STATE / "devidp")
    try:
        idp.start()
        progress(f"devidp on {idp.base_url}")
        yield stack, idp
    finally:
        progress("stopping everything this run started")
        with contextlib.suppress(Exception):
            stack.close()
        idp.stop()


def stack_versions(stack: Stack) -> dict[str, str]:
    import redis

    with stack.pg.connect() as conn:
        pg_version = str(conn.execute("SHOW server_version").fetchone()[0])
    info = redis.Redis(host=stack.redis.host, port=stack.redis.port, socket_timeout=5).info("server")
    return {"postgresql": pg_version, "redis": str(info.get("redis_version", "?"))}


class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while the run lasts (the cores are shared)."""

    def __init__(self, interval: float = 5.0) -> None:
        super().__init__(name="bench-load", daemon=True)
        self.interval = interval
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop_event.wait(self.interval)

    def stop(self) -> str:
        self._stop_event.set()
        self.join(timeout=self.interval + 1)
        if not self.samples:
            return "-"
        ordered = sorted(self.samples)
        return (
            f"1-min load every {self.interval:g} s: min {ordered[0]:.2f}, median "
            f"{ordered[len(ordered) // 2]:.2f}, max {ordered[-1]:.2f} ({len(ordered)} samples)"
        )


def _loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
