"""What one SSO login does to a NetBox user: allowed or refused, groups added and removed, superuser.

`decide()` is pure: it takes the backend's rules, the groups reading and the user's current state, and
returns a `Decision` that the adapter applies in one transaction. Semantics, in order:

1. Break-glass users (`break_glass_users`): allowed, nothing changes, a reason says so.
2. Missing claim (`reading.values is None`: absent from every source, Entra overage not resolved through
   Graph, unusable type): never treated as "no groups". Refused, naming the claim, when
   `required_groups` is configured (membership cannot be proven) or `missing_claim` is 'refuse';
   otherwise allowed with a specific warning and no change to managed groups or superuser.
3. Required groups: refused unless the claim holds at least one `required_groups` value, and the
   refusal names them. A refused login changes nothing.
4. Mirror: the managed groups are every NetBox group named as a target by `group_map` or
   `group_patterns`. On every login each managed group is added when some rule matches and removed
   when none does. Groups no rule manages are never touched. A claim that is present but empty is "no
   groups": every managed group is removed.
5. Default groups (`default_groups` plus REMOTE_AUTH_DEFAULT_GROUPS) are added on the user's first login
   only (`is_new`), even when the claim is missing: they do not depend on it, and a first login is the
   only chance. They are never removed, so an administrator who takes one away keeps it away (NetBox's
   own handler re-adds them at every login). A default group that is also a mapping target is added by
   either, and the mirror never removes it.
6. Superuser (only when `superuser_groups` is configured): granted when the claim holds any of them,
   revoked when it holds none. `set_superuser` is None when nothing changes.

Every rule that fired adds one line to `reasons` (for `netbox-sso explain` and the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass

from netbox_sso.core.claims import GroupsReading
from netbox_sso.core.rules import BackendRules

#: How many values a reason line lists before summarizing the rest.
_SAMPLE = 5


@dataclass(frozen=True)
class CurrentUser:
    """The NetBox user as it is before this login."""

    username: str
    groups: frozenset[str]
    is_superuser: bool
    is_new: bool


@dataclass(frozen=True)
class Decision:
    """The outcome of one login; `reasons` has one human line per rule that fired."""

    allowed: bool
    refusal: str | None
    add_groups: frozenset[str]
    remove_groups: frozenset[str]
    set_superuser: bool | None
    managed_groups: frozenset[str]
    warnings: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """True when applying the decision would change the user."""
        return bool(self.add_groups or self.remove_groups or self.set_superuser is not None)


def _sample(values: list[str] | set[str] | frozenset[str]) -> str:
    ordered = sorted(values)
    text = ", ".join(repr(value) for value in ordered[:_SAMPLE])
    if len(ordered) > _SAMPLE:
        text += f" and {len(ordered) - _SAMPLE} more"
    return text


def _refused(rules: BackendRules, message: str, warnings: list[str], reasons: list[str]) -> Decision:
    reasons.append(f"refused: {message}")
    return Decision(
        allowed=False,
        refusal=message,
        add_groups=frozenset(),
        remove_groups=frozenset(),
        set_superuser=None,
        managed_groups=rules.managed_groups,
        warnings=tuple(warnings),
        reasons=tuple(reasons),
    )


def _missing_claim_message(reading: GroupsReading) -> str:
    if reading.overage:
        return (
            "your identity provider reported more groups than fit in the sign-in token, and they could not "
            "be resolved through Microsoft Graph"
        )
    if reading.source is not None:
        return f"the {reading.claim!r} claim sent by your identity provider could not be read"
    return f"your identity provider did not send the {reading.claim!r} claim"


def _first_login_defaults(rules: BackendRules, user: CurrentUser, reasons: list[str]) -> set[str]:
    """Default groups to add: on the first login only, so that an administrator's removal sticks."""
    if not user.is_new:
        return set()
    defaults = set(rules.default_groups - user.groups)
    if defaults:
        assert rules.names is not None
        reasons.append(f"{rules.names.default_groups}: first login, added default group(s) {_sample(defaults)}")
    return defaults


def decide(rules: BackendRules, reading: GroupsReading, user: CurrentUser, *, break_glass: bool) -> Decision:
    """Decide what this login does; see the module docstring for the semantics."""
    names = rules.names
    assert names is not None
    managed = rules.managed_groups
    warnings: list[str] = []
    reasons: list[str] = []

    if break_glass:
        reasons.append(
            f"{user.username!r} is a break-glass account "
            "(PLUGINS_CONFIG['netbox_sso']['break_glass_users']): mapping never changes it"
        )
        return Decision(True, None, frozenset(), frozenset(), None, managed, (), tuple(reasons))

    if reading.problem:
        warnings.append(f"{rules.backend}: {reading.problem}")

    if reading.values is None:
        why = _missing_claim_message(reading)
        reasons.append(f"groups claim {reading.claim!r} unavailable: {reading.problem or 'missing'}")
        if rules.required_groups:
            return _refused(
                rules,
                f"Sign-in refused: {why}, and {names.required_groups} requires membership in one of "
                f"{_sample(rules.required_groups)}. Ask your administrator to check the groups claim.",
                warnings,
                reasons,
            )
        if rules.missing_claim == "refuse":
            return _refused(
                rules,
                f"Sign-in refused: {why} ({names.missing_claim} is 'refuse'). Ask your administrator to "
                "check the groups claim.",
                warnings,
                reasons,
            )
        if not reading.problem:
            warnings.append(f"{rules.backend}: claim {reading.claim!r} is missing")
        reasons.append(f"{names.missing_claim} is 'keep': managed groups and superuser left unchanged")
        defaults = _first_login_defaults(rules, user, reasons)
        return Decision(True, None, frozenset(defaults), frozenset(), None, managed, tuple(warnings), tuple(reasons))

    values = reading.values
    reasons.insert(0, f"groups claim {reading.claim!r} read from {reading.source}: {len(values)} value(s)")

    if rules.required_groups:
        present = rules.required_groups & values
        if not present:
            return _refused(
                rules,
                f"Sign-in refused: you are not in any group allowed to use NetBox. {names.required_groups} "
                f"requires one of {_sample(rules.required_groups)} in the {reading.claim!r} claim.",
                warnings,
                reasons,
            )
        reasons.append(f"{names.required_groups}: satisfied by {_sample(present)}")

    # Exact rules: walk the smaller side with C-level lookups; reason lines were built at parse time.
    # Walking the rules keeps configuration order; walking the values needs a sort (set order varies).
    group_map = rules.group_map
    if len(group_map) <= len(values):
        hits = [key for key in group_map if key in values]
    else:
        hits = sorted(key for key in values if key in group_map)
    desired: set[str] = set().union(*map(group_map.__getitem__, hits))
    reasons.extend(map(rules.exact_lines.__getitem__, hits))
    matches = rules.pattern_index.matches(values)
    if matches:
        patterns = rules.group_patterns
        fired = [(patterns[index], matches[index]) for index in sorted(matches)]
        desired.update(*[pattern.groups for pattern, _ in fired])
        reasons.extend(
            [
                pattern.reason_head
                + (repr(matched[0]) if len(matched) == 1 else _sample(matched))
                + pattern.reason_tail
                for pattern, matched in fired
            ]
        )

    defaults = _first_login_defaults(rules, user, reasons)
    add = (desired - user.groups) | defaults
    remove = (managed - desired - rules.default_groups) & user.groups
    if remove:  # configuration order, lines built at parse time
        reasons.extend([line for group, line in rules.removal_lines.items() if group in remove])

    set_superuser: bool | None = None
    if rules.superuser_groups is not None:
        granting = rules.superuser_groups & values
        if granting and not user.is_superuser:
            set_superuser = True
            reasons.append(f"{names.superuser_groups}: superuser granted by {_sample(granting)}")
        elif not granting and user.is_superuser:
            set_superuser = False
            reasons.append(f"{names.superuser_groups}: superuser revoked, none of its values is present")
        elif granting:
            reasons.append(f"{names.superuser_groups}: superuser kept ({_sample(granting)})")

    return Decision(
        allowed=True,
        refusal=None,
        add_groups=frozenset(add),
        remove_groups=frozenset(remove),
        set_superuser=set_superuser,
        managed_groups=managed,
        warnings=tuple(warnings),
        reasons=tuple(reasons),
    )
