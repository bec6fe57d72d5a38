"""Regenerate docs/configuration.md from the settings schema (run after adding or changing a setting).

    python -m netbox_sso.core.configuration_docs           # writes docs/configuration.md
    python -m netbox_sso.core.configuration_docs --stdout  # prints it

A unit test (tests/unit/test_settings_schema.py) fails when the file is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from netbox_sso.core.settings_schema import DOCS_PATH, render_markdown


def main(argv: Sequence[str] = ()) -> int:
    text = render_markdown()
    if "--stdout" in argv:
        sys.stdout.write(text)
        return 0
    DOCS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
