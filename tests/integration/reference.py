"""The reference manual's configuration blocks, filled in with devidp's values and nothing else changed."""

from __future__ import annotations

import re
from pathlib import Path

BLOCKS = Path(__file__).resolve().parent.parent / "data" / "reference"


def reference_block(name: str, **values: str) -> str:
    """Return block `name` with each `<placeholder>` replaced by values['placeholder_name'].

    Placeholders are the manual's own (`<client-id>`, `<provider-domain>`, ...); a placeholder left
    unfilled fails the test instead of reaching NetBox.
    """
    text = (BLOCKS / f"{name}.py").read_text()

    def fill(match: re.Match[str]) -> str:
        key = match.group(1).replace("-", "_")
        if key not in values:
            raise KeyError(f"reference block {name}: no value for <{match.group(1)}>")
        return values[key]

    return re.sub(r"<([a-z][a-z0-9-]*)>", fill, text)
