"""Reading the groups claim: where it is, which source wins, what its values are.

Pure functions over plain dicts (the validated ID-token claims, the userinfo response, the groups
resolved through Microsoft Graph). Nothing here trusts or verifies tokens; callers pass claims that the
backend already validated.

Rules applied, in order:

- A claim path is a dotted string or a list of keys. A dotted string first tries the exact key, then the
  dot path (oauth2-proxy's rule), so `groups` and `realm_access.roles` both work; a list of keys reaches
  keys that themselves contain dots (`['resource_access', 'netbox.app', 'roles']`).
- Sources are tried in the configured order; the first source that HAS the claim wins, even when its
  value turns out unusable (falling through to a weaker source would hide the problem).
- A claim that is present with `null` or `""` counts as absent: OIDC Core 1.0 section 5.3.2 says a claim
  that is not returned SHOULD be omitted, not sent null or empty.
- An Entra ID overage marker (`_claim_names` naming the claim, or `hasgroups: true`) means the token does
  not list the groups: that source does not supply them, even if a partial list is present. For other
  providers `_claim_names` is an OIDC distributed claim (OIDC Core 5.6.2), which we never fetch (a
  provider-chosen URL is an SSRF and token-leak risk).
- A string is a single value; numbers are stringified; objects, booleans and nested lists make the whole
  claim unusable (a partial reading could make the mirror remove groups the user really has).
- More than `MAX_VALUES` values make the claim unusable; values longer than `MAX_VALUE_LENGTH` are
  ignored and reported. Rule keys are validated to the same limit, so ignoring them never loses a match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from netbox_sso.core.rules import BackendRules

#: Values longer than this are ignored (no IdP group name or object ID comes close).
MAX_VALUE_LENGTH = 1024
#: More values than this make the claim unusable (Entra's getMemberObjects caps at 11,000).
MAX_VALUES = 20_000
#: Where groups resolved through Microsoft Graph are found in the 'graph' source.
GRAPH_GROUPS_KEY = "groups"
#: Names of the places groups can come from, in the default precedence.
SOURCES = ("id_token", "userinfo", "graph")


@dataclass(frozen=True)
class ClaimPath:
    """Where the groups claim lives: alternative key sequences, tried in order."""

    alternatives: tuple[tuple[str, ...], ...]
    display: str

    @classmethod
    def parse(cls, spec: str | Sequence[str]) -> ClaimPath:
        """Build from a dotted string (exact key, then dot path) or a list of keys (exact)."""
        if isinstance(spec, str):
            parts = tuple(spec.split("."))
            if len(parts) > 1 and all(parts):
                return cls(((spec,), parts), spec)
            return cls(((spec,),), spec)
        keys = tuple(spec)
        return cls((keys,), "[" + ", ".join(repr(key) for key in keys) + "]")

    @property
    def top_keys(self) -> frozenset[str]:
        """First key of each alternative: what an overage or distributed-claim marker would name."""
        return frozenset(alternative[0] for alternative in self.alternatives)


@dataclass(frozen=True)
class Normalization:
    """How IdP values are normalized before matching (applied to rule keys too, at parse time)."""

    case: Literal["preserve", "lower"] = "preserve"
    strip_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Longest prefix first so '/netbox/' wins over '/'; lower-cased with the values they strip.
        prefixes = self.strip_prefixes
        if self.case == "lower":
            prefixes = tuple(prefix.lower() for prefix in prefixes)
        # Empty prefixes are dropped: stripping '' would never end.
        ordered = tuple(sorted(dict.fromkeys(p for p in prefixes if p), key=len, reverse=True))
        object.__setattr__(self, "strip_prefixes", ordered)

    def apply_all(self, values: list[str]) -> set[str]:
        """Normalize many values, dropping those that normalize to '' (they name no group)."""
        cased = list(map(str.lower, values)) if self.case == "lower" else values
        prefixes = self.strip_prefixes
        if prefixes:
            strip = self._strip
            result = {strip(value) if value.startswith(prefixes) else value for value in cased}
        else:
            result = set(cased)
        result.discard("")
        return result

    def apply(self, value: str) -> str:
        """Normalize one value. Idempotent: prefixes are stripped until none matches."""
        if self.case == "lower":
            value = value.lower()
        return self._strip(value) if self.strip_prefixes else value

    def _strip(self, value: str) -> str:
        prefixes = self.strip_prefixes
        while True:
            for prefix in prefixes:
                if value.startswith(prefix):
                    value = value[len(prefix) :]
                    break
            else:
                return value


def lookup(claims: Mapping[str, Any] | None, path: str | Sequence[str] | ClaimPath) -> tuple[bool, Any]:
    """Find a claim: `(True, value)` when present (value may be None), `(False, None)` otherwise."""
    if not isinstance(claims, Mapping):
        return False, None
    claim_path = path if isinstance(path, ClaimPath) else ClaimPath.parse(path)
    for keys in claim_path.alternatives:
        node: Any = claims
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            return True, node
    return False, None


@dataclass(frozen=True)
class GroupsReading:
    """What the groups claim said for one login.

    `values` is None when no source supplied a usable claim (absent everywhere, overage not resolved,
    wrong type, too many values): callers must never treat None as "no groups". An empty frozenset is a
    claim that was present and empty: the user really is in no group.
    """

    values: frozenset[str] | None
    source: str | None
    claim: str
    problem: str | None = None
    overage: bool = False
    consulted: tuple[str, ...] = field(default=())

    @property
    def present(self) -> bool:
        return self.values is not None


def _overage_marker(data: Mapping[str, Any], claim: ClaimPath) -> str | None:
    """Name the overage/distributed-claim marker in `data` that covers the claim, if any."""
    names = data.get("_claim_names")
    if isinstance(names, Mapping):
        for key in claim.top_keys:
            if key in names:
                return f"_claim_names[{key!r}]"
    if "groups" in claim.top_keys and data.get("hasgroups") in (True, "true", "True"):
        return "hasgroups"
    return None


def _describe_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list | tuple):
        return "a nested list"
    if value is None:
        return "null"
    return type(value).__name__


def _interpret(
    raw: Any, source: str, claim: ClaimPath, normalize: Normalization, consulted: tuple[str, ...]
) -> GroupsReading:
    """Turn a present claim value into normalized values, or explain why it is unusable."""

    def unusable(problem: str) -> GroupsReading:
        return GroupsReading(None, source, claim.display, problem, consulted=consulted)

    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        items = [raw]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        return unusable(
            f"claim {claim.display!r} in {source} is {_describe_type(raw)}; expected a list of strings "
            "(point groups_claim at the list itself)"
        )
    if len(items) > MAX_VALUES:
        return unusable(
            f"claim {claim.display!r} in {source} has {len(items)} values, more than the {MAX_VALUES} "
            "netbox-sso accepts; narrow the groups the identity provider sends"
        )
    texts: list[str] = items
    if not all(type(item) is str for item in items):  # the common case skips the per-item checks
        texts = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                texts.append(str(item))
            else:
                return unusable(
                    f"claim {claim.display!r} in {source}: element {index} is {_describe_type(item)}; expected strings"
                )
    too_long = 0
    if texts and max(map(len, texts)) > MAX_VALUE_LENGTH:
        kept = [text for text in texts if len(text) <= MAX_VALUE_LENGTH]
        too_long, texts = len(texts) - len(kept), kept
    # A value that normalizes to nothing ('/' with strip_prefixes ['/']) names no group: dropped.
    values = normalize.apply_all(texts)
    problem = None
    if too_long:
        problem = (
            f"claim {claim.display!r} in {source}: ignored {too_long} value(s) longer than "
            f"{MAX_VALUE_LENGTH} characters"
        )
    return GroupsReading(frozenset(values), source, claim.display, problem, consulted=consulted)


def read_groups(rules: BackendRules, sources: Mapping[str, Mapping[str, Any] | None]) -> GroupsReading:
    """Read the groups claim from `sources` ('id_token', 'userinfo', 'graph'; None = not available).

    The 'graph' source holds groups resolved through Microsoft Graph at `GRAPH_GROUPS_KEY`; the other
    sources are read at the configured claim path.
    """
    claim = rules.groups_claim
    graph_path = ClaimPath.parse(GRAPH_GROUPS_KEY)
    consulted: list[str] = []
    marker: tuple[str, str] | None = None  # (source, marker) of the first overage seen
    for name in rules.groups_sources:
        data = sources.get(name)
        if data is None:
            continue
        consulted.append(name)
        if name != "graph":
            found_marker = _overage_marker(data, claim) if isinstance(data, Mapping) else None
            if found_marker:
                marker = marker or (name, found_marker)
                continue
        found, raw = lookup(data, graph_path if name == "graph" else claim)
        if not found or raw is None or raw == "":
            continue
        return _interpret(raw, name, claim, rules.normalize, tuple(consulted))
    checked = tuple(consulted)
    if marker is not None:
        source, which = marker
        if "graph" in rules.groups_sources:
            problem = (
                f"overage: resolve through Graph ({source} carries {which} instead of the groups: the user "
                "is in more groups than fit in a token, and no groups resolved through Microsoft Graph "
                "were available)"
            )
            return GroupsReading(None, None, claim.display, problem, overage=True, consulted=checked)
        problem = (
            f"distributed claim: {source} carries {which} instead of {claim.display!r}; netbox-sso does not "
            "fetch claims from provider-supplied URLs. Configure the provider to send the claim in the token"
            " or userinfo"
        )
        return GroupsReading(None, None, claim.display, problem, overage=True, consulted=checked)
    where = " or ".join(checked) if checked else "any source (none was available)"
    problem = f"claim {claim.display!r} not found in {where}"
    return GroupsReading(None, None, claim.display, problem, consulted=checked)


def split_sources(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """Interpret a claims document: `{"id_token": {...}, "userinfo": {...}, "graph": {...}}` or flat claims.

    A flat claims dict is treated as the ID token. 'graph' may also be a plain list of group IDs.
    """
    keys = set(document)
    if keys and keys <= set(SOURCES) and all(v is None or isinstance(v, Mapping | list) for v in document.values()):
        sources: dict[str, Mapping[str, Any] | None] = {}
        for name, value in document.items():
            if isinstance(value, list):
                if name != "graph":
                    raise ValueError(f"{name!r} must be a JSON object of claims, not a list")
                value = {GRAPH_GROUPS_KEY: value}
            sources[name] = value
        return sources
    return {"id_token": document}
