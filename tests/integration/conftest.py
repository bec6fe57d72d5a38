"""Fixtures for tests against a real NetBox: PostgreSQL, Redis, devidp over TLS, gunicorn.

- `stack` (session): services and the migrated template (built once, cached across runs).
- `idp` (session): devidp with every profile, over TLS with its own CA, users from tests/data/users.yaml.
- `netbox_factory` (module): `make(config_text)` writes configuration.py (our base settings, then the
  configuration under test verbatim), clones a database, starts gunicorn, registers the redirect URIs
  at devidp; everything is stopped and dropped at module end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netbox_sso.devidp import DevIdP, load_users_file
from netbox_sso.devstack.login import LoginResult, sso_login
from netbox_sso.devstack.netbox import NetBoxInstance
from netbox_sso.devstack.stack import Stack

DATA = Path(__file__).resolve().parent.parent / "data"
STATE = Path(__file__).resolve().parents[2] / ".state" / "test"

CLIENT_ID = "netbox"
CLIENT_SECRET = "netbox-client-secret-for-tests"
SSO_BACKENDS = ("oidc", "azuread-oauth2", "okta-openidconnect")
#: Every devidp profile, served at once by one devidp (each under its own prefix, issuer and keys).
PROFILES = ("generic", "keycloak", "okta", "entra", "authentik")
# Every instance of the run registers its redirect URIs on the one devidp client; registration replaces
# the list, so we keep the union.
_REDIRECT_URIS: set[str] = set()
_LOGOUT_URIS: set[str] = set()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    stack = Stack(STATE, progress=lambda line: print(f"[stack] {line}", flush=True))
    yield stack
    stack.close()


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdP]:
    server = DevIdP(
        users=load_users_file(DATA / "users.yaml"),
        profiles=PROFILES,
        host="127.0.0.1",
        port=0,
        tls=True,
        state_dir=STATE / "devidp",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def fresh_idp_state(idp: DevIdP) -> Iterator[DevIdP]:
    """devidp with no faults before and after the test."""
    idp.clear_faults()
    yield idp
    idp.clear_faults()


class NetBoxFactory:
    def __init__(self, stack: Stack, idp: DevIdP, name: str) -> None:
        self.stack = stack
        self.idp = idp
        self.name = name
        self.instances: list[NetBoxInstance] = []

    def __call__(
        self,
        config: str,
        *,
        plugins: tuple[str, ...] = ("netbox_sso",),
        workers: int = 1,
        share_with: NetBoxInstance | None = None,
        env: dict[str, str] | None = None,
    ) -> NetBoxInstance:
        instance = self.stack.new_instance(self.name, share_with=share_with)
        instance.extra_env.update(env or {})
        instance.extra_env["REQUESTS_CA_BUNDLE"] = str(self.idp.ca_bundle)
        instance.write_config(config, plugins=plugins)
        _REDIRECT_URIS.update(f"{instance.url}/oauth/complete/{backend}/" for backend in SSO_BACKENDS)
        _LOGOUT_URIS.add(f"{instance.url}/")
        self.idp.register_client(
            CLIENT_ID,
            CLIENT_SECRET,
            redirect_uris=sorted(_REDIRECT_URIS),
            post_logout_redirect_uris=sorted(_LOGOUT_URIS),
        )
        instance.start(workers=workers)
        self.instances.append(instance)
        return instance

    def close(self) -> None:
        for instance in self.instances:
            self.stack.release(instance)


@pytest.fixture(scope="module")
def netbox_factory(stack: Stack, idp: DevIdP, request: pytest.FixtureRequest) -> Iterator[NetBoxFactory]:
    factory = NetBoxFactory(stack, idp, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    yield factory
    factory.close()


@pytest.fixture()
def login(idp: DevIdP) -> Callable[..., LoginResult]:
    """login(netbox, username, backend='oidc', **kw): a complete SSO login over HTTP."""

    def run(netbox: NetBoxInstance, username: str, backend: str = "oidc", **kwargs) -> LoginResult:
        return sso_login(netbox.url, backend, username, verify=str(idp.ca_bundle), **kwargs)

    return run


def idp_domain(idp: DevIdP, profile: str = "generic") -> str:
    """The `<provider-domain>` for a reference block: host:port plus the profile's path."""
    return idp.issuer(profile).split("://", 1)[1]
