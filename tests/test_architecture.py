"""The layout stays legible: imports flow one way, bottom to top, with no circle, and no file
grows past the size a reader can hold.

Read with the standard library's ``ast`` from the source files (nothing of ravine is imported):
every ``import`` and ``from … import`` counts, at module level or inside a function, so a lazy
import cannot hide an arrow that runs back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ravine"

# Bottom to top: a module may import from its own layer or the layers below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("validation", "files"),
    ("optim", "schedules", "tasks"),
    ("surfaces", "diagnose", "sweep"),
    ("training", "distributed", "integrations"),
    ("report",),
    ("experiments", "explore"),
    ("commands",),
    ("cli", "__main__"),
)
MAX_LINES = 600


def layer_of(module: str) -> int | None:
    """The layer of ``ravine.<room>[.…]``; None for the package itself (``ravine``)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for level, rooms in enumerate(LAYERS):
        if parts[1] in rooms:
            return level
    raise AssertionError(f"{module}: its room {parts[1]!r} is in no layer; add it to LAYERS")


def module_name(path: Path, root: Path = SOURCE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str], root: Path = SOURCE) -> set[str]:
    """The ravine modules that the file at ``path`` imports (a name taken from a package counts as
    its submodule when there is one, else as the package's ``__init__``)."""
    name = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    files = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    return {module_name(f, root): imports_of(f, modules, root) for f in files}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a module into a layer above its own, as 'a -> b'."""
    found = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if here is not None and there is not None and there > here:
                found.append(f"{module} (layer {here}) -> {target} (layer {there})")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the house as it stands -------------------------------------------------------------------


def test_the_graph_is_read():
    graph = import_graph()
    assert "ravine.optim.update" in graph["ravine.optim.optimizer"]
    assert "ravine.validation" in graph["ravine.optim.base"]
    assert len(graph) > 50


def test_no_import_runs_back_up():
    assert upward_imports(import_graph()) == []


def test_no_circle_among_modules():
    assert circles(import_graph()) == []


def test_every_room_has_a_layer():
    for module in import_graph():
        layer_of(module)  # raises for a room no layer names


def test_no_file_over_the_limit():
    long = {
        str(path.relative_to(SOURCE)): n
        for path in sorted((SOURCE / PACKAGE).rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_command_line_only_assembles():
    assert len((SOURCE / PACKAGE / "cli.py").read_text().splitlines()) < 200


# --- the checks can fail ----------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path)


def test_an_upward_import_is_found(tmp_path):
    graph = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "optim/__init__.py": "",
            "optim/rule.py": "def f():\n    from ..report import html\n",  # lazy, still counted
            "report/__init__.py": "",
            "report/html.py": "from ..optim import rule\n",
        },
    )
    assert graph["ravine.optim.rule"] == {"ravine.report.html"}
    assert upward_imports(graph) == ["ravine.optim.rule (layer 1) -> ravine.report.html (layer 4)"]


def test_a_circle_is_found(tmp_path):
    graph = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "optim/__init__.py": "from .a import x\n",
            "optim/a.py": "from .b import y\nx = 1\n",
            "optim/b.py": "import ravine.optim.c\ny = 2\n",
            "optim/c.py": "from ravine.optim import a\n",
        },
    )
    assert circles(graph) == [["ravine.optim.a", "ravine.optim.b", "ravine.optim.c"]]


def test_a_room_without_a_layer_is_refused():
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("ravine.attic.box")
