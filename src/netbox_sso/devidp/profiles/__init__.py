"""Provider profiles: each a small class describing URL layout, issuer, claim shaping and quirks."""

from __future__ import annotations

from netbox_sso.devidp.profiles import authentik, entra, keycloak, okta
from netbox_sso.devidp.profiles.base import GenericProfile, Grant, Profile, Route

#: Every profile, by the kind `make_profile` and `--profile` name.
PROFILE_KINDS: dict[str, type[Profile]] = {
    profile.kind: profile
    for profile in (GenericProfile, keycloak.PROFILE, okta.PROFILE, entra.PROFILE, authentik.PROFILE)
}


def make_profile(spec: str) -> Profile:
    """Build a profile from `kind` or `kind:prefix` (e.g. `keycloak:kc2` for a second Keycloak)."""
    kind, _, prefix = spec.partition(":")
    if kind not in PROFILE_KINDS:
        raise ValueError(f"unknown profile {kind!r}; known: {sorted(PROFILE_KINDS)}")
    return PROFILE_KINDS[kind](prefix or None)


__all__ = ["PROFILE_KINDS", "GenericProfile", "Grant", "Profile", "Route", "make_profile"]
