"""The package imports one way (issue 13): no import cycles, and no function-level import that only dodges one.

Read from the source (`ast`), not by importing: most modules need Django set up. An import under
`if TYPE_CHECKING:` never runs and does not count. A function-level import may still defer a module for
other reasons (Django's app registry, start-up order, cost); it only fails here when moving it to the top
of its module would close a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import netbox_sso

PACKAGE = Path(netbox_sso.__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # the package module it loads (a submodule, or the package an attribute comes from)
    in_function: bool


def _modules() -> dict[str, tuple[Path, bool]]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


MODULES = _modules()


def _known(name: str) -> str | None:
    """The package module `name` is, or is inside (`a.b.attr` -> `a.b`); None outside the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".")[: None if is_package else -1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        # `from pkg import name`: the submodule pkg.name if there is one, else an attribute of pkg.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    for name in names:
        target = _known(name)
        if target is not None and target != module:
            yield target


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(module: str, is_package: bool, nodes: list[ast.stmt], in_function: bool, found: list[Import]) -> None:
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.extend(Import(module, node.lineno, t, in_function) for t in _targets(module, is_package, node))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            _walk(module, is_package, node.orelse, in_function, found)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            _walk(module, is_package, node.body, True, found)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    statements = [c for c in children if isinstance(c, ast.stmt | ast.excepthandler | ast.match_case)]
                    _walk(module, is_package, statements, in_function, found)


def _imports() -> list[Import]:
    found: list[Import] = []
    for module, (path, is_package) in MODULES.items():
        _walk(module, is_package, ast.parse(path.read_text(encoding="utf-8"), str(path)).body, False, found)
    return found


def _graph(imports: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in imports:
        if not item.in_function:
            graph[item.module].add(item.target)
    return graph


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A chain of module-level imports from start to goal (breadth first), or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for current in queue:
        if current == goal:
            chain: list[str] = []
            node: str | None = current
            while node is not None:
                chain.append(node)
                node = previous[node]
            return chain[::-1]
        for following in sorted(graph[current]):
            if following not in previous:
                previous[following] = current
                queue.append(following)
    return None


def test_the_reader_sees_the_package_imports():
    # Guards the test itself: a reader that found nothing would pass the tests below vacuously.
    imports = _imports()
    assert Import("netbox_sso.pipeline.groups", 0, "netbox_sso.pipeline.capture", False) in {
        Import(i.module, 0, i.target, i.in_function) for i in imports
    }
    assert any(i.in_function for i in imports) and len(MODULES) > 100


def test_the_package_has_no_import_cycles():
    graph = _graph(_imports())
    cycles = set()
    for module, targets in graph.items():
        for target in targets:
            back = _path(graph, target, module)
            if back is not None:
                cycles.add(" -> ".join([module, *back]))
    assert not cycles, "module-level import cycles:\n" + "\n".join(sorted(cycles))


def test_no_function_level_import_only_dodges_a_cycle():
    imports = _imports()
    graph = _graph(imports)
    dodges = []
    for item in imports:
        if item.in_function:
            back = _path(graph, item.target, item.module)
            if back is not None:
                dodges.append(f"{item.module}:{item.line} imports {item.target}, which imports it: {' -> '.join(back)}")
    assert not dodges, "move the shared code so these imports can be at the top:\n" + "\n".join(sorted(dodges))
