"""Two NetBox instances on one PostgreSQL database and one Redis: logins that cross instances, concurrent
load with group mapping, and signing-key rotation while logins are in flight."""

from __future__ import annotations

import time

import pytest
import requests

from netbox_sso.devidp import DevIdP
from netbox_sso.devstack.login import sso_login
from netbox_sso.devstack.netbox import NetBoxInstance
from tests.scale.conftest import LOGINS, USERS, Cluster, claims, groups_for, mapped
from tests.scale.harness import Balancer, db_state, duplicates, figure, log_offset, new_server_errors, run_logins

pytestmark = [pytest.mark.scale, pytest.mark.integration]


@pytest.fixture(scope="module")
def pair(cluster: Cluster) -> tuple[NetBoxInstance, NetBoxInstance]:
    """Instance A, and instance B sharing A's database and Redis DBs (as behind a load balancer)."""
    a = cluster.add(workers=2, threads=4)
    b = cluster.add(share_with=a, workers=2, threads=4)
    return a, b


def balanced_session(pair: tuple[NetBoxInstance, NetBoxInstance], policy=None, log=None) -> requests.Session:
    a, b = pair
    return Balancer(a, [a, b], policy, log).mount_on(requests.Session())


def jwks_fetches(idp: DevIdP) -> int:
    return sum(1 for _method, path in list(idp.requests_log) if path.endswith("/jwks"))


@pytest.mark.parametrize("direction", ["A->B", "B->A"])
def test_login_begun_on_one_instance_completes_on_the_other(pair, scale_idp, direction):
    a, b = pair
    first, second = (a, b) if direction == "A->B" else (b, a)
    user = f"cross-{direction[0].lower()}"
    scale_idp.upsert_user(user, claims(user, ["eng"]), replace_claims=True)
    log: list[tuple[str, str, str, int]] = []

    def policy(request: requests.PreparedRequest) -> NetBoxInstance:
        return second if "/oauth/complete/" in (request.url or "") else first

    session = balanced_session(pair, policy, log)
    result = sso_login(a.url, "oidc", user, session=session, verify=str(scale_idp.ca_bundle))
    assert result.logged_in, result.messages
    routed = {(method, path): target for method, path, target, _status in log}
    assert routed[("POST", "/oauth/begin/oidc/")] == first.url
    assert routed[("GET", "/oauth/complete/oidc/")] == second.url
    # The session lives in the shared database: both instances know it.
    for instance in (a, b):
        only = balanced_session(pair, lambda _request, target=instance: target)
        only.cookies.update(session.cookies)
        assert only.get(f"{a.url}/user/profile/", allow_redirects=False).status_code == 200
    assert db_state(a, [user])[user]["groups"] == {"Engineering"}


def test_concurrent_logins_across_both_instances_lose_nothing(pair, scale_idp):
    a, b = pair
    users = [f"load-{i:03d}" for i in range(USERS)]
    rounds = max(1, LOGINS // USERS)
    offsets = log_offset(a, b)
    last_claims: dict[str, list[str]] = {}

    def before(user: str, n: int) -> None:
        last_claims[user] = groups_for(user, n)
        scale_idp.upsert_user(user, claims(user, last_claims[user]), replace_claims=True)

    run = run_logins(
        users,
        rounds,
        concurrency=USERS,
        session_factory=lambda: balanced_session(pair),
        netbox_url=a.url,
        verify=str(scale_idp.ca_bundle),
        time_limit=420,
        before=before,
    )
    figure(
        f"two instances (2 workers x 4 threads each), per-request round robin: {run.done}/{run.planned} "
        f"logins by {len(users)} concurrent users in {run.wall:.1f} s ({run.done / run.wall:.1f} logins/s), "
        f"failures {len(run.failures)}, HTTP statuses {dict(sorted(run.statuses.items()))}"
    )
    assert not run.timed_out, f"time limit reached after {run.done} logins"
    assert run.failures == [], run.failures[:5]
    assert run.ok == len(users) * rounds
    assert 500 not in run.statuses
    assert new_server_errors(offsets, a, b) == []

    state = db_state(a, users)
    assert sorted(state) == sorted(users), "every user exists, under its own name"
    assert {name: s["rows"] for name, s in state.items() if s["rows"] != 1} == {}
    assert {name: s["links"] for name, s in state.items() if s["links"] != 1} == {}
    wrong = {
        name: (s["groups"], mapped(last_claims[name]))
        for name, s in state.items()
        if s["groups"] != mapped(last_claims[name])
    }
    assert wrong == {}, "groups must be exactly those of the last login's claims"
    assert duplicates(a) == {"usernames_ci": [], "groups": [], "social_links": [], "object_permissions": []}
    with a.db() as conn:
        granted = conn.execute(
            "SELECT count(*) FROM users_group_object_permissions gp JOIN users_group g ON g.id = gp.group_id "
            "JOIN users_objectpermission p ON p.id = gp.objectpermission_id WHERE g.name = 'Operators' "
            "AND p.name = 'scale-operators-view-sites'"
        ).fetchone()[0]
    assert granted == 1


def test_key_rotation_while_logins_are_in_flight(pair, scale_idp):
    a, _b = pair
    users = [f"rot-{i:02d}" for i in range(min(16, USERS))]
    for user in users:
        scale_idp.upsert_user(user, claims(user, ["ops"]), replace_claims=True)
    warm = sso_login(a.url, "oidc", users[0], session=balanced_session(pair), verify=str(scale_idp.ca_bundle))
    assert warm.logged_in, warm.messages  # discovery and JWKS are in the shared cache now
    rounds = 4
    fetches_before = jwks_fetches(scale_idp)
    rotated: dict[str, float] = {}

    def between(completed: int) -> None:
        if completed == len(users) and not rotated:  # mid-run: other users' logins are in flight
            rotated["at"] = time.monotonic()
            scale_idp.rotate_keys("generic")

    run = run_logins(
        users,
        rounds,
        concurrency=len(users),
        session_factory=lambda: balanced_session(pair),
        netbox_url=a.url,
        verify=str(scale_idp.ca_bundle),
        time_limit=180,
        between=between,
    )
    refetches = jwks_fetches(scale_idp) - fetches_before
    figure(
        f"key rotation after {len(users)} of {run.planned} logins ({len(users)} in flight, two instances): "
        f"failures {len(run.failures)}, JWKS fetches {refetches}, wall {run.wall:.1f} s"
    )
    assert rotated, "the rotation happened during the run"
    assert run.failures == [], run.failures[:5]
    assert refetches <= 1, f"{refetches} JWKS fetches for one rotation"
