"""Group patterns compiled for matching: globs and regexes, indexed by literal prefix and suffix.

Exact values go into a dict; wildcard-free globs into a dict; globs and `^literal...` regexes are
indexed by literal prefix (or suffix, `*literal`); only patterns with no literal prefix are scanned,
behind one combined regex that skips values none of them can match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Regex features that would change meaning once the pattern is embedded in a combined alternation.
_UNSAFE_TO_COMBINE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(|\(\?[aiLmsux]+\)")


@dataclass(frozen=True)
class GroupPattern:
    """A glob (`kind='match'`, whole value) or regex (`kind='regex'`, re.search) mapping to groups."""

    kind: Literal["match", "regex"]
    pattern: str
    groups: frozenset[str]
    ignore_case: bool = False
    label: str = field(default="", compare=False)
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)
    #: `regex.match` for globs (whole value: the translation ends in \Z), `regex.search` for regexes.
    test: Callable[[str], re.Match[str] | None] = field(init=False, compare=False, repr=False)
    #: The reason line up to the matched values, and after them (built once, not per login).
    reason_head: str = field(init=False, compare=False, repr=False)
    reason_tail: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        source = fnmatch.translate(self.pattern) if self.kind == "match" else self.pattern
        regex = re.compile(source, re.IGNORECASE if self.ignore_case else 0)
        set_ = object.__setattr__
        set_(self, "regex", regex)
        set_(self, "test", regex.match if self.kind == "match" else regex.search)
        set_(self, "reason_head", f"{self.label or self.kind}: {self.kind} {self.pattern!r} matched ")
        set_(self, "reason_tail", " -> " + ", ".join(repr(group) for group in sorted(self.groups)))

    def index_key(self) -> tuple[Literal["literal", "startswith", "endswith", "prefix", "scan"], str]:
        """How the pattern can be indexed.

        'literal': matches exactly that value; 'startswith' / 'endswith': matches every value with that
        prefix / suffix; 'prefix': every match starts with that prefix, the regex decides; 'scan': no
        index.
        With ignore_case the values are already lower-cased, so the lower-cased literal is compared;
        that can only be stricter than re.IGNORECASE (which also folds a few non-ASCII letters onto
        ASCII ones, such as the long s).
        """
        kind: Literal["literal", "startswith", "endswith", "prefix", "scan"]
        if self.kind == "match":
            cut = min((i for i in (self.pattern.find(c) for c in "*?[") if i >= 0), default=-1)
            text = self.pattern if cut < 0 else self.pattern[:cut]
            rest = self.pattern[1:]
            if cut == 0 and self.pattern[0] == "*" and rest and not any(c in rest for c in "*?["):
                kind, text = "endswith", rest
            elif cut < 0:
                kind = "literal"
            elif cut == len(self.pattern) - 1 and self.pattern[cut] == "*":
                kind = "startswith"
            else:
                kind = "prefix"
        else:
            text, kind = _regex_literal_prefix(self.pattern), "prefix"
        if not text:
            return "scan", ""
        return kind, text.lower() if self.ignore_case else text

    def combinable_source(self) -> str | None:
        """This pattern as one branch of a combined regex, or None when embedding would change it."""
        if self.kind == "match":
            return rf"\A(?:{fnmatch.translate(self.pattern)})"
        if _UNSAFE_TO_COMBINE.search(self.pattern) or self.regex.groupindex:
            return None
        return f"(?:{self.pattern})"


def _regex_literal_prefix(source: str) -> str:
    """The literal text every match of an `^`-anchored regex starts with ('' when unknown)."""
    if source.startswith("^"):
        index = 1
    elif source.startswith(r"\A"):
        index = 2
    else:
        return ""
    if "|" in source:  # a top-level alternative need not start with the prefix
        return ""
    out: list[str] = []
    while index < len(source):
        char = source[index]
        if char == "\\":
            if index + 1 >= len(source) or source[index + 1].isalnum():
                break  # \d, \w, \b ...: not a literal
            char, step = source[index + 1], 2
        elif char in ".^$*+?{}[]()|":
            break
        else:
            step = 1
        following = source[index + step] if index + step < len(source) else ""
        if following in ("*", "?", "{"):
            break  # the character may be absent or repeated
        out.append(char)
        if following == "+":
            break
        index += step
    return "".join(out)


class PatternIndex:
    """Group patterns compiled for matching many values without testing every pattern on every value.

    Per value and per distinct literal length, one slice and one dict lookup find the only patterns
    that can match; a regex runs only where the index alone cannot decide.
    """

    __slots__ = ("_literal", "_prefix_tables", "_scan", "_scan_filter", "_suffix_tables", "_tests", "patterns")

    def __init__(self, patterns: Sequence[GroupPattern]) -> None:
        self.patterns = tuple(patterns)
        literal: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        by_suffix: dict[str, list[int]] = {}
        scan: list[int] = []
        # None where the index alone decides ('team-*' matches whatever starts with 'team-').
        tests: list[Callable[[str], Any] | None] = []
        for index, pattern in enumerate(self.patterns):
            kind, key = pattern.index_key()
            tests.append(None if kind in ("literal", "startswith", "endswith") else pattern.test)
            if kind == "literal":
                literal.setdefault(key, []).append(index)
            elif kind in ("startswith", "prefix"):
                by_prefix.setdefault(key, []).append(index)
            elif kind == "endswith":
                by_suffix.setdefault(key, []).append(index)
            else:
                scan.append(index)
        self._tests = tuple(tests)
        self._literal = {key: tuple(v) for key, v in literal.items()}
        self._prefix_tables = self._by_length(by_prefix)
        self._suffix_tables = self._by_length(by_suffix)
        self._scan = tuple(scan)
        self._scan_filter = self._combine([self.patterns[i] for i in scan])

    @staticmethod
    def _by_length(keyed: Mapping[str, list[int]]) -> tuple[tuple[int, dict[str, tuple[int, ...]]], ...]:
        # One table per key length: a slice of that length can only hit keys of that length.
        tables: dict[int, dict[str, tuple[int, ...]]] = {}
        for key, indexes in keyed.items():
            tables.setdefault(len(key), {})[key] = tuple(indexes)
        return tuple(sorted(tables.items()))

    @staticmethod
    def _combine(patterns: Sequence[GroupPattern]) -> Any:
        """One regex matching a value iff any of `patterns` does (a prefilter), or None."""
        if len(patterns) < 3:
            return None  # one more regex call would cost more than it saves
        branches = [pattern.combinable_source() for pattern in patterns]
        if any(branch is None for branch in branches):
            return None
        flags = re.IGNORECASE if patterns[0].ignore_case else 0
        try:
            return re.compile("|".join(branches), flags).search  # type: ignore[arg-type]
        except re.error:
            return None

    def matches(self, values: Collection[str]) -> dict[int, list[str]]:
        """Map pattern index -> the values it matched (only patterns that matched something)."""
        hits: dict[int, list[str]] = {}
        if not self.patterns:
            return hits
        tests = self._tests
        if self._literal:
            literal = self._literal
            for value in literal.keys() & values:
                for index in literal[value]:
                    hits.setdefault(index, []).append(value)
        for length, table in self._prefix_tables:
            get = table.get
            # The comprehension keeps the per-value work (slice, lookup) in one tight loop.
            for value, bucket in [(v, b) for v in values if (b := get(v[:length])) is not None]:
                for index in bucket:
                    test = tests[index]
                    if test is None or test(value):
                        hits.setdefault(index, []).append(value)
        for length, table in self._suffix_tables:
            get = table.get
            for value, bucket in [(v, b) for v in values if (b := get(v[-length:])) is not None]:
                for index in bucket:
                    hits.setdefault(index, []).append(value)
        if self._scan:
            scan, scan_filter = self._scan, self._scan_filter
            candidates = values if scan_filter is None else [v for v in values if scan_filter(v)]
            for value in candidates:
                for index in scan:
                    if tests[index](value):  # type: ignore[misc]  # scanned patterns always have a test
                        hits.setdefault(index, []).append(value)
        return hits
