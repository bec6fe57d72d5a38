"""Keep `group_patterns` regexes linear-time: refuse the shapes that make a backtracking matcher blow up.

Python's `re` has no timeout, and group values come from the identity provider (thousands per login with
Entra overage). Rather than swap the matcher the rule index is built on (`re`, combined alternations) for
a third-party engine with a timeout, a regex is refused at start-up, with the setting's path, when its
parse tree has a shape known for catastrophic backtracking:

- a quantified group containing another quantifier (`(a+)+`, `(\\w*-)*`): exponential;
- a quantified alternation whose branches can start with the same character (`(a|ab)*`): exponential;
- a backreference (`(a)\\1`): matching with backreferences is NP-hard;
- more than two unbounded "any character" repeats (`.*`, `[^-]+`, `\\S*`): polynomial of the third degree
  and up on a value of max_claim_length characters;
- a pattern longer than MAX_PATTERN_LENGTH characters.
Possessive quantifiers and atomic groups never backtrack and are allowed anywhere.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python >= 3.11
    from re import _constants as sre_constants  # type: ignore[attr-defined,unused-ignore]  # private; typeshed varies
    from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants
    import sre_parse

MAX_PATTERN_LENGTH = 500
MAX_ANY_REPEATS = 2
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_MAXREPEAT = sre_constants.MAXREPEAT


def backtracking_risk(pattern: str) -> str | None:
    """Why `pattern` can take super-linear time (a sentence), or None when its shape is safe."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"it is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        tree = sre_parse.parse(pattern)
    except re.error:
        return None  # reported as an invalid regular expression by the caller
    state = {"any_repeats": 0}
    reason = _walk(tree, inside_repeat=False, state=state)
    if reason is None and state["any_repeats"] > MAX_ANY_REPEATS:
        reason = (
            f"it has {state['any_repeats']} unbounded repeats of a broad character class (such as .*); "
            f"at most {MAX_ANY_REPEATS} keep matching fast"
        )
    return reason


def _walk(items: Any, *, inside_repeat: bool, state: dict[str, int]) -> str | None:
    for op, arg in items:
        reason: str | None = None
        if op in _REPEATS:
            low, high, body = arg
            repeats = high > 1
            if low != high and inside_repeat:
                return "it nests a quantifier inside a quantified group (as in (a+)+)"
            if high == _MAXREPEAT and _is_broad(body):
                state["any_repeats"] += 1
            reason = _walk(body, inside_repeat=inside_repeat or repeats, state=state)
            if not reason and repeats and high == _MAXREPEAT and _ambiguous_branches(body):
                reason = "it repeats an alternation whose branches can start with the same character (as in (a|ab)*)"
        elif op == sre_constants.SUBPATTERN:
            reason = _walk(arg[-1], inside_repeat=inside_repeat, state=state)
        elif op == sre_constants.BRANCH:
            for branch in arg[1]:
                reason = reason or _walk(branch, inside_repeat=inside_repeat, state=state)
        elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            return "it uses a backreference"
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            reason = _walk(arg[1], inside_repeat=inside_repeat, state=state)
        # ATOMIC_GROUP and POSSESSIVE_REPEAT never backtrack: not descended into.
        if reason:
            return reason
    return None


def _is_broad(body: Any) -> bool:
    """A single-character item matching almost anything: `.`, a negated class, \\S, \\W, \\D."""
    items = list(body)
    if len(items) != 1:
        return False
    op, arg = items[0]
    if op in (sre_constants.ANY, sre_constants.NOT_LITERAL):
        return True
    if op == sre_constants.IN:
        return any(
            kind == sre_constants.NEGATE or (kind == sre_constants.CATEGORY and "NOT" in str(value))
            for kind, value in arg
        )
    return False


def _first_literals(items: Any) -> set[int] | None:
    """The literal characters a sequence can start with; None when it is not a plain literal start."""
    for op, arg in items:
        if op == sre_constants.LITERAL:
            return {arg}
        if op == sre_constants.SUBPATTERN:
            return _first_literals(arg[-1])
        return None
    return None


def _ambiguous_branches(body: Any) -> bool:
    """Whether an alternation in `body` has branches that can start alike (an empty branch always can)."""
    for op, arg in body:
        if op == sre_constants.SUBPATTERN and _ambiguous_branches(arg[-1]):
            return True
        if op == sre_constants.BRANCH:
            seen: set[int] = set()
            for branch in arg[1]:
                first = _first_literals(branch)
                if first is None or first & seen:
                    return True
                seen |= first
    return False
