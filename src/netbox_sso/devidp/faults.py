"""Switchable faults: one table of what exists, one registry of what is active.

Every fault accepts the common parameters `endpoint` (a logical endpoint name or a list of them;
default: every endpoint the fault can affect), `profile` (restrict to one profile prefix) and `times`
(apply that many times, then clear itself). Setting a fault again replaces it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: "directory": the Keycloak admin and Authentik users APIs (netbox_sso.devidp.directory).
ENDPOINTS = frozenset(
    {"discovery", "jwks", "authorize", "token", "userinfo", "end_session", "revoke", "graph", "directory"}
)
COMMON = {"endpoint", "profile", "times"}


@dataclass(frozen=True)
class FaultSpec:
    """What a fault takes and which endpoints it can touch."""

    params: dict[str, type | tuple[type, ...]]
    required: frozenset[str]
    endpoints: frozenset[str]
    doc: str
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)


_ANY = ENDPOINTS
_TOKENS = frozenset({"token"})

FAULTS: dict[str, FaultSpec] = {
    "delay": FaultSpec({"seconds": (int, float)}, frozenset({"seconds"}), _ANY, "sleep before answering"),
    "status": FaultSpec(
        {"code": int, "body": str},
        frozenset({"code"}),
        _ANY,
        "answer with this HTTP status (JSON error body unless `body`)",
    ),
    "drop_connection": FaultSpec({}, frozenset(), _ANY, "close the connection without answering"),
    "malformed_json": FaultSpec({}, frozenset(), _ANY, "truncate the JSON body so it no longer parses"),
    "clock_offset": FaultSpec(
        {"seconds": (int, float)},
        frozenset({"seconds"}),
        _TOKENS,
        "add seconds to iat/nbf/exp/auth_time of minted tokens",
    ),
    "id_token_claims": FaultSpec(
        {"claims": dict},
        frozenset({"claims"}),
        _TOKENS,
        "override ID-token claims; a null value removes the claim",
    ),
    "access_token_claims": FaultSpec(
        {"claims": dict}, frozenset({"claims"}), _TOKENS, "override access-token claims; null removes"
    ),
    "token_response": FaultSpec(
        {"values": dict},
        frozenset({"values"}),
        _TOKENS,
        "override token-endpoint response fields; null removes",
    ),
    "sign": FaultSpec(
        {"mode": str},
        frozenset({"mode"}),
        _TOKENS,
        "sign the ID token wrongly: none | hs256_with_public_key | wrong_key | no_kid",
        {"mode": ("none", "hs256_with_public_key", "wrong_key", "no_kid")},
    ),
    "userinfo_claims": FaultSpec(
        {"claims": dict},
        frozenset({"claims"}),
        frozenset({"userinfo"}),
        "override userinfo claims; null removes (e.g. {'sub': null})",
    ),
    "discovery_overrides": FaultSpec(
        {"values": dict},
        frozenset({"values"}),
        frozenset({"discovery"}),
        "override discovery fields; null removes",
    ),
    "jwks": FaultSpec(
        {"mode": str},
        frozenset({"mode"}),
        frozenset({"jwks"}),
        "break the JWKS: malformed | empty | no_keys_field",
        {"mode": ("malformed", "empty", "no_keys_field")},
    ),
    "oversized_claim": FaultSpec(
        {"name": str, "length": int, "target": str},
        frozenset({"name", "length"}),
        frozenset({"token", "userinfo"}),
        "set claim `name` to `length` characters (target: id_token|userinfo|both)",
        {"target": ("id_token", "userinfo", "both")},
    ),
}


@dataclass
class ActiveFault:
    name: str
    params: dict[str, Any]
    endpoints: frozenset[str]
    profile: str | None
    times: int | None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.params,
            "endpoint": sorted(self.endpoints),
            "profile": self.profile,
            "times": self.times,
        }


class FaultRegistry:
    """Thread-safe set of active faults, looked up by (name, endpoint, profile)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str | None], ActiveFault] = {}

    def set(self, name: str, /, **params: Any) -> ActiveFault:
        spec = FAULTS.get(name)
        if spec is None:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
        unknown = set(params) - set(spec.params) - COMMON
        if unknown:
            raise ValueError(f"fault {name!r}: unknown parameters {sorted(unknown)}")
        missing = spec.required - set(params)
        if missing:
            raise ValueError(f"fault {name!r}: missing parameters {sorted(missing)}")
        for key, kind in spec.params.items():
            if key in params and not isinstance(params[key], kind):
                raise ValueError(f"fault {name!r}: {key} must be {kind}")
            if key in params and key in spec.choices and params[key] not in spec.choices[key]:
                raise ValueError(f"fault {name!r}: {key} must be one of {spec.choices[key]}")
        endpoint = params.pop("endpoint", None)
        wanted = {endpoint} if isinstance(endpoint, str) else set(endpoint or spec.endpoints)
        if not wanted <= ENDPOINTS:
            raise ValueError(f"fault {name!r}: unknown endpoints {sorted(wanted - ENDPOINTS)}")
        profile = params.pop("profile", None)
        times = params.pop("times", None)
        fault = ActiveFault(name, params, frozenset(wanted), profile, None if times is None else int(times))
        with self._lock:
            self._active[(name, profile)] = fault
        return fault

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._active.clear()
            else:
                for key in [k for k in self._active if k[0] == name]:
                    del self._active[key]

    def get(self, name: str, endpoint: str, profile: str) -> dict[str, Any] | None:
        """Parameters of the matching active fault (consuming one of its `times`), or None."""
        with self._lock:
            for key in ((name, profile), (name, None)):
                fault = self._active.get(key)
                if fault is None or endpoint not in fault.endpoints:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._active[key]
                return dict(fault.params)
        return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._active.values()]


def apply_overrides(target: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Merge overrides into target; a None value deletes the key."""
    for key, value in (overrides or {}).items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return target
