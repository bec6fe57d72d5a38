"""What every NetBox worker loads stays small: scim2-models only on the SCIM request path.

NetBox loads every plugin's URL configuration, models, navigation and signal handlers in every worker.
scim2-models (pydantic) costs about 28 MiB of resident memory and 0.4 s of import (bench item 1 saw the
worker grow by that much when the SCIM URLs imported their views), so only the SCIM views and what they
use may import it, and nothing else in the package may import those modules at module level.
Read from the source (`ast`), like test_import_graph.
"""

from __future__ import annotations

import ast

from tests.unit.test_import_graph import MODULES, _imports

HEAVY = "scim2_models"
# The SCIM request path: loaded by netbox_sso.scim.urls on the first SCIM request (import_module).
SCIM_REQUEST_PATH = {
    "netbox_sso.scim.views",
    "netbox_sso.scim.users",
    "netbox_sso.scim.groups",
    "netbox_sso.scim.accounts",
    "netbox_sso.scim.resources",
    "netbox_sso.scim.discovery",
    "netbox_sso.scim.filters",
}


def _imports_heavy_at_module_level(module: str) -> bool:
    path, _ = MODULES[module]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == HEAVY for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == HEAVY and not node.level:
            return True
    return False


def _loads_heavy() -> dict[str, str]:
    """Module -> why it loads scim2-models at import (directly, or through a module-level import)."""
    why = {m: "imports scim2_models" for m in MODULES if _imports_heavy_at_module_level(m)}
    module_level = [i for i in _imports() if not i.in_function]
    changed = True
    while changed:
        changed = False
        for item in module_level:
            if item.target in why and item.module not in why:
                why[item.module] = f"imports {item.target}"
                changed = True
    return why


def test_the_reader_finds_the_scim_modules_that_use_scim2_models():
    # Guards the test below: finding nothing would pass it vacuously.
    assert {"netbox_sso.scim.views", "netbox_sso.scim.resources"} <= set(_loads_heavy())


def test_only_the_scim_request_path_loads_scim2_models():
    outside = {m: why for m, why in _loads_heavy().items() if m not in SCIM_REQUEST_PATH}
    assert not outside, (
        "these modules load scim2-models in every NetBox worker; import the SCIM module inside the function "
        "that needs it, or keep scim2-models out of it:\n" + "\n".join(f"{m}: {w}" for m, w in sorted(outside.items()))
    )
