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


def reference_pipeline(*, without: tuple[str, ...] = ()) -> str:
    """The manual's SOCIAL_AUTH_PIPELINE assignment (from its Entra ID group-mapping block), verbatim but for
    the steps named in `without`."""
    text = (BLOCKS / "entra_id_group_mapping.py").read_text()
    match = re.search(r"^SOCIAL_AUTH_PIPELINE = \(\n.*?^\)\n", text, re.S | re.M)
    if match is None:
        raise ValueError("the reference block has no SOCIAL_AUTH_PIPELINE")
    lines = [line for line in match.group(0).splitlines(keepends=True) if line.strip().strip("',") not in without]
    return "".join(lines)
