"""The one-command demo: real NetBox and devidp with SSO configured (`scripts/demo`).

Uses the machine's PostgreSQL and Redis when reachable, otherwise embedded ones, and says which. The
first run migrates NetBox once (about 8 minutes on 2 cores, with progress); later runs clone the kept
template and are ready in well under a minute. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netbox_sso.core.claims import read_groups
from netbox_sso.core.decision import CurrentUser, decide
from netbox_sso.core.rules import parse_config
from netbox_sso.devidp import DevIdP, load_users_file
from netbox_sso.devstack.services import free_port, port_open
from netbox_sso.devstack.stack import Stack
from netbox_sso.devstack.template import ADMIN_PASSWORD, ADMIN_USERNAME

DEMO_USERS = Path(__file__).resolve().parent / "demo_users.yaml"
CLIENT_ID = "netbox-demo"
CLIENT_SECRET = "netbox-demo-secret"


#: The demo's mapping rules: IdP groups -> NetBox groups (created with their permissions) and superuser.
DEMO_RULES = {
    "groups_claim": "groups",
    "group_map": {
        "netbox-admins": "Admins",
        "netbox-users": "Users",
        "network-operators": "Operators",
        "contractors": "Contractors",
    },
    "superuser_groups": ["netbox-admins"],
    "required_groups": ["netbox-users", "netbox-admins", "contractors"],
    "create_groups": True,
    "permissions": {
        "Users": [
            {
                "name": "demo-users-view-dcim",
                "actions": ["view"],
                "object_types": ["dcim.site", "dcim.device", "dcim.rack"],
            }
        ],
        "Operators": [
            {
                "name": "demo-operators-change-dcim",
                "actions": ["view", "add", "change"],
                "object_types": ["dcim.site", "dcim.device", "dcim.rack"],
            }
        ],
        "Contractors": [{"name": "demo-contractors-view-sites", "actions": ["view"], "object_types": ["dcim.site"]}],
    },
}


#: The API accepts devidp access tokens meant for this audience (docs/api-tokens.md).
DEMO_API_AUDIENCE = "netbox-demo-api"
DEMO_API_TOKENS = {"audiences": [DEMO_API_AUDIENCE], "read_scopes": ["netbox.read"], "write_scopes": ["netbox.write"]}
#: A public client for `netbox-sso token` (device flow) against the demo's devidp.
DEMO_CLI_CLIENT = "netbox-cli"


def demo_configuration(issuer: str) -> str:
    """The configuration.py block the demo pastes: the reference's generic block plus our mapping."""
    return f"""
REMOTE_AUTH_BACKEND = 'social_core.backends.open_id_connect.OpenIdConnectAuth'
SOCIAL_AUTH_OIDC_KEY = {CLIENT_ID!r}
SOCIAL_AUTH_OIDC_SECRET = {CLIENT_SECRET!r}
SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = {issuer + "/.well-known/openid-configuration"!r}
SOCIAL_AUTH_BACKEND_ATTRS = {{'oidc': ('Sign in with devidp', 'login')}}
PLUGINS_CONFIG = {{'netbox_sso': {{
    'break_glass_users': [{ADMIN_USERNAME!r}],
    'backends': {{'oidc': {DEMO_RULES!r}}},
    'api_tokens': {{'oidc': {DEMO_API_TOKENS!r}}},
}}}}
"""


def refuse_unless_check_passes(config_path: Path, say: Callable[[str], None]) -> None:
    """Our own tooling never starts NetBox on a configuration that `netbox-sso check` rejects."""
    from netbox_sso.diagnostics.settings import load_settings
    from netbox_sso.diagnostics.static import run_checks

    errors = [finding for finding in run_checks(load_settings(config_path)) if finding.severity == "error"]
    for finding in errors:
        say(f"check: {finding.code} {finding.setting}: {finding.problem} (fix: {finding.fix})")
    if errors:
        raise SystemExit(f"netbox-sso check rejects {config_path}; not starting NetBox")
    say(f"check: {config_path} passes netbox-sso check")


def _pick_port(preferred: int) -> int:
    return preferred if not port_open("127.0.0.1", preferred) else free_port()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="NetBox port (default 8000, or a free one)")
    parser.add_argument("--idp-port", type=int, default=9000, help="devidp port (default 9000, or a free one)")
    parser.add_argument("--state-dir", type=Path, default=Path(".state/demo").resolve())
    parser.add_argument("--check", action="store_true", help="start, print, perform one SSO login, then stop")
    args = parser.parse_args(argv)

    started = time.monotonic()
    say = lambda line: print(f"[demo] {line}", flush=True)  # noqa: E731
    # Ctrl-C (and SIGINT even when started in the background, where shells ignore it) stops the demo.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stack = idp = None
    try:
        stack = Stack(args.state_dir, allow_embedded=True, progress=say)
        idp = DevIdP(
            users=load_users_file(DEMO_USERS),
            profiles=("generic",),
            host="127.0.0.1",
            port=_pick_port(args.idp_port),
            tls=False,
            state_dir=args.state_dir / "devidp",
        )
        idp.start()
        netbox = stack.new_instance("demo")
        netbox.port = _pick_port(args.port)
        issuer = idp.issuer("generic")
        netbox.write_config(demo_configuration(issuer))
        refuse_unless_check_passes(netbox.config_path, say)
        idp.register_client(
            CLIENT_ID,
            CLIENT_SECRET,
            redirect_uris=[f"{netbox.url}/oauth/complete/oidc/"],
            post_logout_redirect_uris=[f"{netbox.url}/"],
        )
        idp.register_client(DEMO_CLI_CLIENT, None)
        idp.device_interval = 1
        say(f"Starting NetBox on {netbox.url} ...")
        netbox.start(workers=1, threads=4)
        _print_banner(netbox.url, issuer, time.monotonic() - started)
        if args.check:
            from netbox_sso.devstack.login import sso_login

            result = sso_login(netbox.url, "oidc", "alice")
            say(f"check: SSO login as alice -> logged in: {result.logged_in}")
            api_status = check_api_token(idp, issuer, netbox.url)
            say(f"check: API with alice's devidp access token -> HTTP {api_status}")
            return 0 if result.logged_in and api_status == 200 else 1
        while netbox.running:
            time.sleep(1)
        say("NetBox stopped unexpectedly:\n" + netbox.tail_logs())
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        say("Stopping everything the demo started ...")
        if idp is not None:
            idp.stop()
        if stack is not None:
            stack.close()


def check_api_token(idp: DevIdP, issuer: str, url: str) -> int:
    """GET /api/dcim/sites/ with alice's access token from the device flow (approved by script)."""
    import requests

    from netbox_sso.cli.token import DeviceRequest, device_flow

    request = DeviceRequest(
        issuer=issuer, client_id=DEMO_CLI_CLIENT, scope="openid profile netbox.read", resource=DEMO_API_AUDIENCE
    )

    def approve_as_alice(body: dict[str, Any]) -> None:
        problem = idp.approve_device(body["user_code"], "alice")
        if problem:
            raise RuntimeError(f"devidp refused the device code: {problem}")

    tokens = device_flow(request, prompt=approve_as_alice)
    return requests.get(
        f"{url}/api/dcim/sites/", timeout=30, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).status_code


def _print_banner(url: str, issuer: str, elapsed: float) -> None:
    import yaml

    users = yaml.safe_load(DEMO_USERS.read_text())["users"]
    lines = [
        "",
        f"  NetBox:  {url}/login/   (ready in {elapsed:.0f} s)",
        f"  devidp:  {issuer}/.well-known/openid-configuration",
        "",
        "  Click 'Sign in with devidp' and pick an account:",
    ]
    # The banner's outcome is the pure core's own decision for each account, not a re-implementation.
    rules = parse_config({"backends": {"oidc": DEMO_RULES}}).backends["oidc"]
    for user in users:
        claims = user.get("claims", {})
        decision = decide(
            rules,
            read_groups(rules, {"id_token": claims, "userinfo": None}),
            CurrentUser(user["username"], frozenset(), False, True),
            break_glass=False,
        )
        superuser = " + superuser" if decision.set_superuser else ""
        outcome = (
            f"NetBox groups {', '.join(sorted(decision.add_groups))}{superuser}"
            if decision.allowed
            else "refused: in no required group"
        )
        idp_groups = ", ".join(claims.get("groups", [])) or "(none)"
        lines.append(f"    {user['username']:<8} IdP groups: {idp_groups:<38} -> {outcome}")
    lines += [
        "",
        "  The API with devidp tokens (device flow; sign in as one of the accounts above first):",
        f"    export TOKEN=$(netbox-sso token --issuer {issuer} --client-id {DEMO_CLI_CLIENT} "
        f"--resource {DEMO_API_AUDIENCE} --no-cache)",
        f'    curl -H "Authorization: Bearer $TOKEN" {url}/api/dcim/sites/',
    ]
    lines += [
        "",
        f"  Local break-glass account: {ADMIN_USERNAME} / {ADMIN_PASSWORD}",
        "",
        "  Ctrl-C stops NetBox, devidp and any embedded services.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
