"""The layering of `qa/`, checked by walking every import (at any depth, relative or absolute).

Bottom to top: config/errors/durable < ingest < encode < index < retrieve < eval < web < cli <
qa/__init__ (and qa/__main__, which runs the CLI). No module imports from a layer above its own;
the core (all but qa/web and qa/cli) never imports flask, click or waitress.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qa"
LAYERS = [("config", "errors", "durable"), ("ingest",), ("encode",), ("index",), ("retrieve",), ("eval",), ("web",), ("cli",)]
TOP = len(LAYERS)  # qa/__init__ and qa/__main__
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
WEB_ONLY = ("flask", "flask_cors", "flask_limiter", "werkzeug", "click", "waitress")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the module, including those inside functions."""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in `source`, a module of `package`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None:  # `from . import x`: x is a module of the package
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def layer(name: str) -> int | None:
    """The layer of a module of `qa` by its dotted name; None for other packages."""
    parts = name.split(".")
    if parts[0] != "qa":
        return None
    if len(parts) == 1 or parts[1] == "__main__":
        return TOP
    return RANK[parts[1]]


def test_imports_are_found_at_any_depth_and_resolved():
    source = """
import numpy as np, qa.config
from . import rows
from .. import errors
from ..web.api import x


def late():
    if True:
        from .. import durable
        from ..retrieve import searcher
"""
    assert [name for _, name in imports_of(source, "qa.index")] == [
        "numpy",
        "qa.config",
        "qa.index.rows",
        "qa.errors",
        "qa.web.api",
        "qa.durable",
        "qa.retrieve",
    ]
    assert dotted(PACKAGE / "index" / "__init__.py") == "qa.index" and dotted(PACKAGE / "cli" / "__init__.py") == "qa.cli"
    assert layer("qa.retrieve.searcher") == RANK["retrieve"] and layer("qa") == TOP and layer("numpy") is None


def test_every_module_belongs_to_a_layer():
    for path in modules():
        assert layer(dotted(path)) is not None, path


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in modules():
        own = layer(dotted(path))
        for line, name in imported(path):
            theirs = layer(name)
            if theirs is not None and own is not None and theirs > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert upward == []


def test_the_core_never_imports_the_web_or_cli_libraries():
    core = [p for p in modules() if layer(dotted(p)) is not None and layer(dotted(p)) < RANK["web"]]
    assert PACKAGE / "index" / "build.py" in core and PACKAGE / "cli" / "__init__.py" not in core
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in core
        for line, name in imported(path)
        if name.split(".")[0] in WEB_ONLY
    ]
    assert found == []


@pytest.mark.parametrize("package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_every_subpackage_says_what_it_owns(package):
    docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8")))
    assert docstring and len(docstring.split()) >= 5, f"qa/{package}/__init__.py needs a docstring saying what it owns"


def module_level_imports(path: Path) -> set[str]:
    """The qa modules this one imports when it is imported (not inside functions, not only for
    type checkers), resolved to modules (a name imported from a package may be one of its modules)."""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        body += [node, *(n for n in ast.walk(node) if isinstance(n, ast.stmt) and n is not node)]
    known = {dotted(p) for p in modules()}
    found = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom) and not _inside_function(tree, node):
            for _, name in imports_of(ast.unparse(node), package):
                names = [f"{name}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
                found |= {n for n in [name, *names] if n in known}
    return found


def _inside_function(tree: ast.Module, target: ast.stmt) -> bool:
    return any(target in list(ast.walk(f)) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef))


def test_no_module_imports_itself_back_through_others():
    graph = {dotted(p): module_level_imports(p) for p in modules()}
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(name, ())):
            if nxt in path:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
