"""Fixtures of the scale suite: a devidp of its own per module (stopped, restarted, rotated by the tests),
NetBox instances configured against it, the users and the mapping rules every instance shares.

Sizes come from the environment so the suite can be developed small: NBSSO_SCALE_USERS (default 50),
NBSSO_SCALE_LOGINS (default 500), NBSSO_SCALE_FAULT_USERS (default 12).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from netbox_sso.devidp import DevIdP
from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.services import Redis
from netbox_sso.devstack.stack import Stack
from tests.conftest import ARTIFACTS
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, stack  # noqa: F401 - shared fixture
from tests.integration.reference import reference_block
from tests.scale.harness import FIGURES

STATE = Path(__file__).resolve().parents[2] / ".state" / "scale"

USERS = int(os.environ.get("NBSSO_SCALE_USERS", "50"))
LOGINS = int(os.environ.get("NBSSO_SCALE_LOGINS", "500"))
FAULT_USERS = int(os.environ.get("NBSSO_SCALE_FAULT_USERS", "12"))

#: Mapping rules of every instance: several IdP groups map to the same NetBox groups, one pattern, groups
#: created on first use with an ObjectPermission, so concurrent first logins race to create them.
MAPPING = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'groups_claim': 'groups',
    'group_map': {'eng': 'Engineering', 'ops': ['Operators', 'Viewers'], 'admins': 'Admins',
                  'audit': 'Viewers'},
    'group_patterns': [{'match': 'site-*', 'groups': ['Site staff']}],
    'create_groups': True,
    'permissions': {'Operators': [{'name': 'scale-operators-view-sites', 'actions': ['view'],
                                   'object_types': ['dcim.site']}]},
}}}}
"""
#: The same rules, written independently of the code under test, for the assertions.
EXPECTED_MAP = {"eng": {"Engineering"}, "ops": {"Operators", "Viewers"}, "admins": {"Admins"}, "audit": {"Viewers"}}
IDP_GROUPS = ("eng", "ops", "admins", "audit", "site-north", "site-south", "contractors")


def mapped(groups: list[str]) -> set[str]:
    """NetBox groups a user with these IdP groups must end up in (no manual groups in this suite)."""
    result: set[str] = set()
    for group in groups:
        result |= EXPECTED_MAP.get(group, set())
        if group.startswith("site-"):
            result.add("Site staff")
    return result


def groups_for(user: str, n: int) -> list[str]:
    """The user's IdP groups at their n-th login: round 0 always names the shared groups (concurrent
    first logins create them), later rounds add and remove groups."""
    if n == 0:
        return ["eng", "ops", "site-north"]
    rng = random.Random(f"{user}/{n}")
    return sorted(rng.sample(IDP_GROUPS, rng.randint(0, 4)))


def claims(user: str, groups: list[str]) -> dict:
    return {
        "sub": f"sub-{user}",
        "preferred_username": user,
        "email": f"{user}@example.com",
        "email_verified": True,
        "given_name": user,
        "family_name": "Scale",
        "groups": groups,
    }


def netbox_config(idp: DevIdP) -> str:
    generic = reference_block(
        "generic_oidc",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        provider_domain=idp.issuer("generic").split("://", 1)[1],
    )
    return generic + MAPPING


class Cluster:
    """NetBox instances of one test module, all configured against the module's devidp."""

    def __init__(self, devstack: Stack, idp: DevIdP, name: str) -> None:
        self.stack = devstack
        self.idp = idp
        self.name = name
        self.instances: list[NetBoxInstance] = []
        self.redirect_uris: set[str] = set()

    def add(
        self,
        *,
        share_with: NetBoxInstance | None = None,
        redis: Redis | None = None,
        workers: int = 1,
        threads: int = 4,
        extra_config: str = "",
    ) -> NetBoxInstance:
        instance = self.stack.new_instance(self.name, share_with=share_with)
        self.instances.append(instance)
        if redis is not None:  # its own Redis server (DB numbers stay those the stack handed out)
            instance.redis = redis
        instance.extra_env["REQUESTS_CA_BUNDLE"] = str(self.idp.ca_bundle)
        instance.write_config(netbox_config(self.idp) + extra_config)
        self.redirect_uris.add(f"{instance.url}/oauth/complete/oidc/")
        self.idp.register_client(CLIENT_ID, CLIENT_SECRET, redirect_uris=sorted(self.redirect_uris))
        instance.start(workers=workers, threads=threads)
        return instance

    def close(self) -> None:
        """Stop every instance; keep its logs in test-artifacts/scale/ (instance directories are pruned)."""
        for number, instance in enumerate(reversed(self.instances)):
            self.stack.release(instance)
            target = ARTIFACTS / "scale" / f"{self.name}-{len(self.instances) - number}"
            target.mkdir(parents=True, exist_ok=True)
            for log in (instance.log_file, instance.gunicorn_log):
                if log.exists():
                    shutil.copy(log, target / log.name)


@pytest.fixture(scope="module")
def scale_idp(request: pytest.FixtureRequest) -> Iterator[DevIdP]:
    """A devidp of this module only (the tests stop, restart and rotate it), on a fixed port once started."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    server = DevIdP(
        users=[], profiles=("generic",), host="127.0.0.1", port=0, tls=True, state_dir=STATE / f"devidp-{name}"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(stack: Stack, scale_idp: DevIdP, request: pytest.FixtureRequest) -> Iterator[Cluster]:  # noqa: F811
    group = Cluster(stack, scale_idp, "scale_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    try:
        yield group
    finally:
        group.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("netbox-sso scale figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
