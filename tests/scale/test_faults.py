"""Faults during logins: the identity provider stopped and restarted, Redis killed and restarted, PostgreSQL
connections cut mid-transaction and refused for a while (what a restart looks like to NetBox).

After every fault: nothing half-provisioned (each SSO user has its social link and exactly the groups of
one of its logins), no lost group change (a re-login yields the exact mapped groups), and recovery.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import requests
from psycopg import sql

from netbox_sso.devidp import DevIdP
from netbox_sso.devstack.login import sso_login
from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.services import Redis, embedded_redis
from tests.scale.conftest import FAULT_USERS, STATE, Cluster, claims, groups_for, mapped
from tests.scale.harness import (
    Balancer,
    LoadRun,
    authorize,
    complete,
    db_state,
    duplicates,
    error_traces,
    figure,
    log_offset,
    new_server_errors,
    orphans,
    outcomes,
    run_logins,
)

pytestmark = [pytest.mark.scale, pytest.mark.integration]


@pytest.fixture(scope="module")
def netbox(cluster: Cluster) -> NetBoxInstance:
    return cluster.add(workers=1, threads=4)


def browser(netbox: NetBoxInstance) -> Callable[[], requests.Session]:
    """New browser sessions opening a connection per NetBox request (harness.Balancer: no keep-alive races)."""
    return lambda: Balancer(netbox, [netbox]).mount_on(requests.Session())


@contextlib.contextmanager
def timeline(*steps: tuple[float, Callable[[], None]]) -> Iterator[None]:
    """Run each step at its second after entry, in a thread. Every step runs, even when the block ends
    first (the last steps are the recoveries); the exit waits for them."""

    def play() -> None:
        start = time.monotonic()
        for at, step in steps:
            time.sleep(max(0.0, start + at - time.monotonic()))
            step()

    player = threading.Thread(target=play, name="fault-timeline", daemon=True)
    player.start()
    try:
        yield
    finally:
        player.join(timeout=max(at for at, _ in steps) + 30)


def attempted_rounds(run: LoadRun) -> dict[str, list[tuple[int, bool]]]:
    rounds: dict[str, list[tuple[int, bool]]] = {}
    for user, n, result, _error in run.results:
        rounds.setdefault(user, []).append((n, bool(result and result.logged_in)))
    return rounds


def assert_consistent(
    netbox: NetBoxInstance,
    prefix: str,
    users: list[str],
    history: dict[str, list[tuple[int, bool]]],
    claims_of: Callable[[str, int], list[str]],
    baseline: dict[str, set[str]] | None = None,
) -> int:
    """No half-provisioned user, no lost or partial group change; return how many users hold the groups of a
    login the browser saw fail (committed on the server, answer lost in the fault)."""
    assert orphans(netbox, prefix) == [], "users without their social link"
    assert duplicates(netbox) == {"usernames_ci": [], "groups": [], "social_links": [], "object_permissions": []}
    state = db_state(netbox, users)
    committed_unseen = 0
    for user in users:
        attempts = sorted(history.get(user, []))
        succeeded = [n for n, ok in attempts if ok]
        if user not in state:
            assert not succeeded, f"{user}: logged in, yet no user row"
            continue
        assert state[user]["links"] == 1, user
        last_ok = succeeded[-1] if succeeded else -1
        allowed = {n: mapped(claims_of(user, n)) for n, _ in attempts if n >= last_ok}
        if not succeeded and baseline and user in baseline:
            allowed[-1] = baseline[user]  # what the user had before this run
        assert state[user]["groups"] in allowed.values(), (
            f"{user}: groups {state[user]['groups']} are those of no login since the last successful one ({allowed})"
        )
        if last_ok >= 0 and state[user]["groups"] != allowed[last_ok]:
            committed_unseen += 1
    return committed_unseen


def error_origin(trace: str) -> str:
    """The innermost NetBox or netbox-sso frame of a logged traceback ('netbox/middleware.py:259')."""
    frames = re.findall(r'File "[^"]*?/((?:netbox|netbox_sso)/[^"/]+(?:/[^"/]+)?)", line (\d+)', trace)
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else "?"


def recover(netbox: NetBoxInstance, idp: DevIdP, users: list[str], round_no: int = 99) -> None:
    """Every user logs in once more with new claims: all succeed, each with exactly the mapped groups."""
    for user in users:
        idp.upsert_user(user, claims(user, groups_for(user, round_no)), replace_claims=True)
    run = run_logins(
        users,
        1,
        concurrency=min(8, len(users)),
        session_factory=browser(netbox),
        netbox_url=netbox.url,
        verify=str(idp.ca_bundle),
        time_limit=120,
    )
    assert run.failures == [], run.failures[:5]
    state = db_state(netbox, users)
    wrong = {
        u: (state[u]["groups"], mapped(groups_for(u, round_no)))
        for u in users
        if state[u]["groups"] != mapped(groups_for(u, round_no))
    }
    assert wrong == {}


def faulty_load(netbox: NetBoxInstance, idp: DevIdP, users: list[str], rounds: int, time_limit: float) -> LoadRun:
    def before(user: str, n: int) -> None:
        idp.upsert_user(user, claims(user, groups_for(user, n)), replace_claims=True)

    return run_logins(
        users,
        rounds,
        concurrency=len(users),
        session_factory=browser(netbox),
        netbox_url=netbox.url,
        verify=str(idp.ca_bundle),
        time_limit=time_limit,
        before=before,
        pause_after_failure=1.0,
    )


# ---- the identity provider stopped and restarted --------------------------------------------------------
def test_idp_down_between_sign_in_and_callback_shows_a_clear_message(netbox, scale_idp):
    idp = scale_idp
    idp.upsert_user("idp-one", claims("idp-one", ["eng"]), replace_claims=True)
    assert sso_login(netbox.url, "oidc", "idp-one", verify=str(idp.ca_bundle)).logged_in
    offsets = log_offset(netbox)
    statuses: list[int] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, *a, **k: statuses.append(response.status_code))
    callback = authorize(session, netbox.url, "idp-one", str(idp.ca_bundle))
    idp.stop()
    try:
        result = complete(session, netbox.url, callback)
        assert not result.logged_in
        assert result.final_url.startswith(f"{netbox.url}/login/") and result.status_code == 200
        assert "identity provider could not be reached" in result.message_text, result.messages
        # Cold cache (a new instance, or Redis emptied): the begin itself needs discovery.
        netbox.redis.flush(netbox.redis_dbs[1])
        cold = sso_login(netbox.url, "oidc", "idp-one", session=session, verify=str(idp.ca_bundle))
        assert not cold.logged_in and cold.messages, "begin with the IdP down ends on the login page"
        figure(
            f"IdP down: callback -> login page '{result.message_text}'; begin with a cold cache -> "
            f"'{cold.message_text}'"
        )
    finally:
        idp.start()
    assert 500 not in statuses
    assert new_server_errors(offsets, netbox) == []
    assert sso_login(netbox.url, "oidc", "idp-one", verify=str(idp.ca_bundle)).logged_in


def test_idp_stopped_and_restarted_during_concurrent_logins(netbox, scale_idp):
    idp = scale_idp
    users = [f"idpload-{i:02d}" for i in range(FAULT_USERS)]
    offsets = log_offset(netbox)
    with timeline((2.0, idp.stop), (5.0, idp.start)):
        run = faulty_load(netbox, idp, users, rounds=10, time_limit=180)
    kinds = outcomes(run)
    figure(
        f"IdP stopped 3 s during {run.done} logins by {len(users)} users: {dict(kinds)}; "
        f"HTTP statuses {dict(sorted(run.statuses.items()))}; wall {run.wall:.1f} s"
    )
    assert not run.timed_out
    assert kinds["bad"] == 0, [f for f in run.failures][:5]
    assert kinds["ok"] and (kinds["login_page_message"] or kinds["browser_to_idp"]), "the outage was seen"
    assert 500 not in run.statuses
    assert new_server_errors(offsets, netbox) == []
    assert_consistent(netbox, "idpload-", users, attempted_rounds(run), groups_for)
    recover(netbox, idp, users)


# ---- PostgreSQL: connections cut mid-transaction, then refused for a while ---------------------------------
class PostgresChaos:
    """Cut NetBox's connections as a PostgreSQL restart does, without restarting the shared server.

    A restart (pg_ctl restart -m fast) sends SIGTERM to every backend: in-flight transactions roll back and
    clients see "terminating connection due to administrator command" (57P01); then new connections are
    refused until the server is back. pg_terminate_backend sends the same signal to the same backends, and
    ALTER DATABASE ... ALLOW_CONNECTIONS false refuses new connections (superusers included) meanwhile.
    Two kinds of cuts: `sniper` kills every backend of the database that holds a write transaction
    (backend_xid set: half-way through provisioning a user), `restart` kills all and refuses for `down` s.
    """

    def __init__(self, netbox: NetBoxInstance) -> None:
        self.netbox = netbox
        self.sniped = 0
        self.restarts = 0
        #: [start, end] (monotonic) of each time PostgreSQL refused connections.
        self.windows: list[list[float]] = []
        self.stop = threading.Event()
        self.conn = netbox.pg.connect()
        self.db = sql.Identifier(netbox.dbname)

    def allow(self, allowed: bool) -> None:
        self.conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                self.db, sql.SQL("true" if allowed else "false")
            )
        )

    def restart(self, down: float = 1.5) -> None:
        self.allow(False)
        self.windows.append([time.monotonic(), 0.0])
        try:
            self.conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.netbox.dbname,),
            )
            self.stop.wait(down)
        finally:
            self.allow(True)
            self.windows[-1][1] = time.monotonic()
        self.restarts += 1

    def sniper(self, until: float, every: float = 0.4) -> None:
        """At most once per `every` s, cut a backend that is half-way through writing a user, its social link
        or its groups (write transaction open, last statement on those tables)."""
        while not self.stop.is_set() and time.monotonic() < until:
            row = self.conn.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND query ~ %s LIMIT 1",
                (self.netbox.dbname, r"users_user|social_auth_usersocialauth|users_group"),
            ).fetchone()
            if row is not None and row[1]:
                self.sniped += 1
                self.stop.wait(every)
            else:
                time.sleep(0.003)

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self.allow(True)
        self.conn.close()


def test_postgres_restart_during_logins_loses_nothing(netbox, scale_idp):
    idp = scale_idp
    known = [f"pgold-{i:02d}" for i in range(FAULT_USERS // 2)]
    new = [f"pgnew-{i:02d}" for i in range(FAULT_USERS - len(known))]
    for user in known:  # these exist before the fault; the others are created during it
        idp.upsert_user(user, claims(user, groups_for(user, 0)), replace_claims=True)
    assert (
        run_logins(
            known,
            1,
            concurrency=len(known),
            session_factory=browser(netbox),
            netbox_url=netbox.url,
            verify=str(idp.ca_bundle),
            time_limit=60,
        ).failures
        == []
    )

    def claims_of(user: str, n: int) -> list[str]:
        return groups_for(user, n + 1 if user in known else n)

    def before(user: str, n: int) -> None:
        idp.upsert_user(user, claims(user, claims_of(user, n)), replace_claims=True)

    offsets = log_offset(netbox)
    chaos = PostgresChaos(netbox)
    sniper = threading.Thread(target=chaos.sniper, args=(time.monotonic() + 120,), daemon=True)
    try:
        sniper.start()
        with timeline((2.0, chaos.restart), (6.0, chaos.restart)):
            run = run_logins(
                known + new,
                8,
                concurrency=len(known) + len(new),
                session_factory=browser(netbox),
                netbox_url=netbox.url,
                verify=str(idp.ca_bundle),
                time_limit=180,
                before=before,
                pause_after_failure=1.0,
            )
    finally:
        chaos.close()
        sniper.join(timeout=10)
    kinds = outcomes(run)
    origins = Counter(error_origin(trace) for trace in error_traces(offsets, netbox))
    refused = [e for e in run.events if e[1] >= 400 and any(a <= e[0] <= b + 0.5 for a, b in chaos.windows)]
    outside = [e for e in run.events if e[1] >= 400 and e not in refused]
    unseen = assert_consistent(
        netbox,
        "pg",
        known + new,
        attempted_rounds(run),
        claims_of,
        baseline={user: mapped(groups_for(user, 0)) for user in known},
    )
    figure(
        f"PostgreSQL: {chaos.sniped} write transactions cut mid-login + {chaos.restarts} restarts (all "
        f"connections cut, refused 1.5 s) during {run.done} logins by {len(known + new)} users: "
        f"{dict(kinds)}; HTTP statuses {dict(sorted(run.statuses.items()))}; HTTP errors while refusing "
        f"connections {len(refused)} (raised in {dict(origins)}), at other times {len(outside)}; committed "
        f"but answer lost {unseen}; "
        f"wall {run.wall:.1f} s"
    )
    assert not run.timed_out
    assert chaos.sniped > 0, "no login was cut half-way; the test proved nothing"
    assert kinds["browser_to_idp"] == 0, "the IdP was up: the browser must always reach it"
    # A cut mid-login ends on the login page with a message; only while PostgreSQL refuses connections does
    # NetBox itself answer with an error (its sessions, messages and everything else live there).
    assert outside == [], outside[:5]
    recover(netbox, idp, known + new)


# ---- Redis killed and restarted ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_redis() -> Iterator[Redis]:
    service = embedded_redis(STATE / "redis-faults")
    try:
        yield service
    finally:
        service.stop()


def test_redis_killed_and_restarted_during_logins(cluster, scale_idp, own_redis):
    """NetBox 4.7 reads its configuration from the Redis cache in a middleware of every request
    (netbox.middleware -> get_config), so without Redis NetBox answers HTTP 500 before any SSO code runs.
    What SSO must guarantee: no /oauth/ request fails with 500, nothing half-done, recovery on restart."""
    idp = scale_idp
    netbox = cluster.add(redis=own_redis, workers=1, threads=4)
    users = [f"redis-{i:02d}" for i in range(FAULT_USERS)]
    idp.upsert_user(users[0], claims(users[0], ["eng"]), replace_claims=True)
    assert sso_login(netbox.url, "oidc", users[0], verify=str(idp.ca_bundle)).logged_in
    offsets = log_offset(netbox)
    port = own_redis.port
    restarted: list[Redis] = []
    window: list[float] = []

    def kill() -> None:
        window.append(time.monotonic())
        own_redis.stop()

    def restart() -> None:
        restarted.append(embedded_redis(STATE / "redis-faults", port=port))
        window.append(time.monotonic())

    probes: list[requests.Response | Exception] = []

    def probe_login_page() -> None:  # what a person opening the login page sees while Redis is away
        try:  # never raise here: the timeline's later step restarts Redis
            probes.append(requests.get(f"{netbox.url}/login/", timeout=30))
        except requests.RequestException as error:
            probes.append(error)

    try:
        with timeline((2.0, kill), (3.5, probe_login_page), (5.0, restart)):
            run = faulty_load(netbox, idp, users, rounds=10, time_limit=180)
        kinds = outcomes(run)
        during = [e for e in run.events if e[1] >= 400 and window[0] <= e[0] <= window[1] + 0.5]
        outside = [e for e in run.events if e[1] >= 400 and e not in during]
        origins = Counter(error_origin(trace) for trace in error_traces(offsets, netbox))
        figure(
            f"Redis killed for 3 s during {run.done} logins by {len(users)} users: {dict(kinds)}; HTTP statuses "
            f"{dict(sorted(run.statuses.items()))}; HTTP errors while down {len(during)} (paths "
            f"{sorted({e[2] for e in during})}, raised in {dict(origins)}), at other times {len(outside)}; "
            f"wall {run.wall:.1f} s"
        )
        assert not run.timed_out
        assert outside == [], outside[:5]
        assert kinds["browser_to_idp"] == 0, "the IdP was up: the browser must always reach it"
        # Every 500 is NetBox's own configuration read (netbox.middleware -> get_config -> cache), before any
        # SSO code runs; ours never answers 500 itself (back-channel markers fail open while Redis is away).
        sso_origins = {o for o in origins if o.startswith("netbox_sso/")}
        assert sso_origins == set(), "the SSO login path answered 500 without Redis"
        # The sign-in pages fail with a clear 503 naming the service, not NetBox's bare 500.
        [probe] = probes
        assert isinstance(probe, requests.Response), probe
        assert probe.status_code == 503 and "cache (Redis)" in probe.text, (probe.status_code, probe.text[:300])
        assert probe.headers["Retry-After"] == "30"
        sign_in = [e for e in during if e[2].startswith(("/login/", "/oauth/"))]
        assert all(e[1] == 503 for e in sign_in), sign_in[:5]
        assert_consistent(netbox, "redis-", users, attempted_rounds(run), groups_for)
        recover(netbox, idp, users)
    finally:
        for service in restarted:
            service.stop()
