"""social-core settings that weaken sign-in, found in a settings mapping (pure: no Django).

Each is an explicit opt-in the administrator may have pasted from an old guide; `netbox-sso check`
reports it as a finding naming the setting and NetBox logs it at WARNING on every start-up
(`netbox_sso.startup.warn_weakened`). social-core reads a backend's setting as
`SOCIAL_AUTH_<BACKEND>_<NAME>`, falling back to `SOCIAL_AUTH_<NAME>`; both forms are looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Weakening:
    setting: str
    problem: str
    fix: str


def setting_names(name: str, backends: Iterable[str]) -> list[str]:
    """`SOCIAL_AUTH_<BACKEND>_<name>` for each backend name, then the global `SOCIAL_AUTH_<name>`."""
    prefixes = [f"SOCIAL_AUTH_{backend.upper().replace('-', '_')}_" for backend in backends]
    return [*(prefix + name for prefix in prefixes), f"SOCIAL_AUTH_{name}"]


#: Settings whose False weakens sign-in (their default is True): name -> (what False lets happen, the fix).
_OFF_WEAKENS: dict[str, tuple[str, str]] = {
    "USE_PKCE": (
        "PKCE is off, so an intercepted authorization code can be redeemed (authorization-code injection)",
        "remove {name}",
    ),
    "SANITIZE_REDIRECTS": (
        "the next URL after sign-in is not checked, so a link to NetBox's login can send users on to any site "
        "(open redirect)",
        "remove {name}",
    ),
    "VERIFY_SSL": (
        "the identity provider's TLS certificate is not verified, so anyone on the path can impersonate it and "
        "mint identities",
        "remove {name}; trust the provider's CA with REQUESTS_CA_BUNDLE instead",
    ),
}


def find_weakenings(values: Mapping[str, Any], backends: Iterable[str]) -> list[Weakening]:
    """Every weakening setting in `values` for the given backend names, in a stable order."""
    backends = list(backends)
    found: list[Weakening] = []
    for name in setting_names("ID_KEY", backends):
        value = values.get(name)
        if value and value != "sub":
            found.append(
                Weakening(
                    name,
                    f"{name} = {value!r}: users are keyed on the claim {value!r} instead of the provider's "
                    "stable identifier (netbox-sso's sub, or tid+oid for Entra ID); if that claim can change or be "
                    "reused (an email, a login name), another person can sign in to the account",
                    f"remove {name}",
                )
            )
    for name in setting_names("PKCE_CODE_CHALLENGE_METHOD", backends):
        value = values.get(name)
        if isinstance(value, str) and value.lower() == "plain":
            found.append(
                Weakening(
                    name,
                    f"{name} = 'plain': the PKCE verifier travels in clear in the authorization request, so "
                    "an intercepted authorization code can be redeemed (RFC 7636 section 7.2)",
                    f"remove {name} (S256)",
                )
            )
    for suffix, (consequence, fix) in _OFF_WEAKENS.items():
        for name in setting_names(suffix, backends):
            if values.get(name) is False:
                found.append(Weakening(name, f"{name} = False: {consequence}", fix.format(name=name)))
    return found
