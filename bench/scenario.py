"""What the benchmarks log in with: configurations, users and claims, and how IdP calls are classified."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from netbox_sso.backends.config import DEFAULTS as HARDENING_DEFAULTS
from netbox_sso.core.claims import MAX_VALUE_LENGTH, MAX_VALUES
from netbox_sso.devidp import DevIdP

CLIENT_ID = "netbox"
CLIENT_SECRET = "netbox-client-secret-for-bench"
#: NetBox groups the 1,000 rules map onto.
NETBOX_GROUPS = 50
PATTERN_RULES = 10

#: The reference manual's generic OIDC block with the endpoint in issuer form: the manual's own form (the
#: discovery document URL) makes stock NetBox answer HTTP 500, and both variants must run the same block.
REFERENCE_BLOCK = """\
REMOTE_AUTH_BACKEND = 'social_core.backends.open_id_connect.OpenIdConnectAuth'
SOCIAL_AUTH_OIDC_KEY = {client_id!r}
SOCIAL_AUTH_OIDC_SECRET = {client_secret!r}
SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = {endpoint!r}
"""


def group_name(index: int) -> str:
    return f"g{index:05d}"


def claims(username: str, groups: int) -> dict[str, Any]:
    """A devidp user's claims with `groups` groups g00000..; g00000 is the one every rule set requires."""
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": username,
        "family_name": "Bench",
        "groups": [group_name(i) for i in range(groups)],
    }


def mapping_rules(rules: int) -> dict[str, Any]:
    """PLUGINS_CONFIG['netbox_sso'] with `rules` rules: exact group_map entries plus 10 patterns."""
    return {
        "break_glass_users": ["admin"],
        "backends": {
            "oidc": {
                "groups_claim": "groups",
                "group_map": {group_name(i): f"NB-{i % NETBOX_GROUPS:02d}" for i in range(rules - PATTERN_RULES)},
                "group_patterns": [
                    {"match": f"site-{j:02d}-*", "groups": [f"Site {j:02d}"]} for j in range(PATTERN_RULES)
                ],
                "superuser_groups": ["netbox-admins"],
                "required_groups": [group_name(0)],
                "create_groups": True,
            }
        },
    }


def stock_config(idp: DevIdP) -> str:
    return REFERENCE_BLOCK.format(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, endpoint=idp.issuer("generic"))


def ours_config(idp: DevIdP, rules: int, max_groups: int) -> str:
    settings = mapping_rules(rules)
    limit = response_limit_needed(max_groups)
    if limit is not None:
        settings["max_response_bytes"] = limit
    return stock_config(idp) + f"PLUGINS_CONFIG = {{'netbox_sso': {settings!r}}}\n"


def claim_bytes(groups: int) -> int:
    """Size of the groups claim as JSON (it is in the ID token and in userinfo)."""
    return len(json.dumps([group_name(i) for i in range(groups)]))


def response_limit_needed(groups: int) -> int | None:
    """A raised max_response_bytes when the token response would exceed the default, else None.

    The token response carries the ID token (the claim, base64url: x4/3) plus an access token and fields.
    """
    estimate = claim_bytes(groups) * 4 // 3 + 8192
    default = int(HARDENING_DEFAULTS["max_response_bytes"])
    return None if estimate <= default else 2 * estimate


def limits_note(groups: int) -> str:
    """Which caps a user with `groups` groups meets, and whether the bench had to raise one."""
    size = claim_bytes(groups)
    raised = response_limit_needed(groups)
    longest = len(group_name(groups - 1))
    parts = [
        f"{groups:,} groups: groups claim {size / 1024:.0f} KiB in the ID token and again in userinfo",
        f"{groups:,} values vs MAX_VALUES {MAX_VALUES:,}",
        f"values of {longest} characters vs MAX_VALUE_LENGTH {MAX_VALUE_LENGTH:,} and max_claim_length "
        f"{HARDENING_DEFAULTS['max_claim_length']:,}",
        f"token response about {(size * 4 // 3 + 8192) / 1024:.0f} KiB vs max_response_bytes "
        f"{int(HARDENING_DEFAULTS['max_response_bytes']) // 1024:,} KiB",
    ]
    verdict = (
        f"raised max_response_bytes to {raised:,} in the bench configuration" if raised else "no limit needed raising"
    )
    return "; ".join(parts) + f": {verdict}."


def classify(log: Iterable[tuple[str, str]]) -> Counter[str]:
    """devidp requests by endpoint: authorize (the browser), token, userinfo, discovery, jwks (NetBox)."""
    counts: Counter[str] = Counter()
    for _method, path in list(log):
        if path.endswith("/.well-known/openid-configuration"):
            counts["discovery"] += 1
        elif path.endswith("/jwks"):
            counts["jwks"] += 1
        elif path.endswith("/token"):
            counts["token"] += 1
        elif path.endswith("/userinfo"):
            counts["userinfo"] += 1
        elif path.endswith("/authorize"):
            counts["authorize"] += 1
        else:
            counts["other"] += 1
    return counts


#: What NetBox itself calls (the browser's authorize requests are not the server's cost).
SERVER_CALLS = ("discovery", "jwks", "token", "userinfo", "other")
