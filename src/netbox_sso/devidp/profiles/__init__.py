"""Provider profiles: each a small class describing URL layout, issuer, claim shaping and quirks."""

from __future__ import annotations

from netbox_sso.devidp.profiles.base import GenericProfile, Grant, Profile, Route

PROFILE_KINDS: dict[str, type[Profile]] = {"generic": GenericProfile}


def _register_optional() -> None:
    # Imported lazily so the generic profile never depends on the provider-specific modules.
    from netbox_sso.devidp.profiles import authentik, entra, keycloak, okta

    for module in (keycloak, okta, entra, authentik):
        PROFILE_KINDS[module.PROFILE.kind] = module.PROFILE


def make_profile(spec: str) -> Profile:
    """Build a profile from `kind` or `kind:prefix` (e.g. `keycloak:kc2` for a second Keycloak)."""
    kind, _, prefix = spec.partition(":")
    if kind not in PROFILE_KINDS:
        _register_optional()
    if kind not in PROFILE_KINDS:
        raise ValueError(f"unknown profile {kind!r}; known: {sorted(PROFILE_KINDS)}")
    return PROFILE_KINDS[kind](prefix or None)


__all__ = ["PROFILE_KINDS", "GenericProfile", "Grant", "Profile", "Route", "make_profile"]
