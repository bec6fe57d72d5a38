"""No module of the package grows past what one person holds in mind (issue 13: at most 600 lines)."""

from __future__ import annotations

from pathlib import Path

import netbox_sso

PACKAGE = Path(netbox_sso.__file__).resolve().parent
MAX_LINES = 600
#: Modules over the limit whose split is under way: path (relative to the package) -> why it may wait.
PENDING_SPLITS: dict[str, str] = {}


def _line_counts() -> dict[str, int]:
    return {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_every_module_of_the_package_has_at_most_600_lines():
    too_long = {
        name: lines for name, lines in _line_counts().items() if lines > MAX_LINES and name not in PENDING_SPLITS
    }
    assert not too_long, f"split these modules along their seams (at most {MAX_LINES} lines each): {too_long}"


def test_pending_splits_are_still_pending():
    # An entry that is no longer over the limit must go, so the exception cannot outlive the split.
    counts = _line_counts()
    done = [name for name in PENDING_SPLITS if counts.get(name, 0) <= MAX_LINES]
    assert not done, f"remove from PENDING_SPLITS (now within {MAX_LINES} lines or gone): {done}"
