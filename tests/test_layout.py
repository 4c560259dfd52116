"""The shape of the code, checked: no import circle between modules, no module reaching into
another's private names, no module over 400 lines without a reason written at its top.

Every import counts, those inside functions too (a lazy import still ties two modules together).
The graph is read from the sources with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the folders that hold import packages (each child folder with an __init__.py is one)
SOURCE_ROOTS = [ROOT / "core", ROOT / "examples" / "plugin-hello",
                *sorted(p.parent for p in (ROOT / "lib").glob("*/pyproject.toml")),
                *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]
MAX_LINES = 400
#: a long module says why at its top, in a line starting with this
LONG_REASON = "Why this module is long:"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in SOURCE_ROOTS:
        for init in root.glob("*/__init__.py"):
            package = init.parent
            for path in package.rglob("*.py"):
                parts = path.relative_to(root).with_suffix("").parts
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                found[name] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement of ``name``."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names]
            # `from pkg import sub` imports the submodule pkg.sub
            subs = [n for n in names if f"{base}.{n}" in MODULES]
            found.extend((f"{base}.{n}", []) for n in subs)
            found.append((base, [n for n in names if n not in subs]))
    return found


def _project_module(target: str) -> str | None:
    """The project module an import names (the longest known prefix), or None for others'."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _ in _imports(name):
            module = _project_module(target)
            # a package's __init__ importing its own parts, or a module importing its package, is no circle
            if module and module != name and not name.startswith(module + ".") and not module.startswith(name + "."):
                graph[name].add(module)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_the_sources_were_found():
    # the checks below mean nothing if the walk finds nothing: every family and the host are there
    for package in ("aster_core.host", "aster_server.request", "aster_connect.addresses",
                    "aster_registry.server.service", "aster_authority.server.handlers", "aster_hello.plugin"):
        assert package in MODULES, package
    assert len(MODULES) > 150


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _circles(graph) == [["a", "b", "c"]]


def test_no_import_circle_between_modules():
    circles = _circles(_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_no_module_imports_another_modules_private_names():
    offences = []
    for name in MODULES:
        for target, names in _imports(name):
            module = _project_module(target)
            if module is None or module == name:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                offences.append(f"{name} takes {', '.join(private)} from {module}")
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why(name):
    text = MODULES[name].read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines > MAX_LINES:
        head = ast.get_docstring(ast.parse(text)) or ""
        assert LONG_REASON in head, f"{MODULES[name]} has {lines} lines: split it, or say why at its top"
