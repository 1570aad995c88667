"""The package's layout rule (generator/__init__.py): lower wings never import higher ones, and no import loops.

The graph is read with `ast` from every `generator/**.py`, imports inside functions included: a lazy import
still makes the importing module depend on the imported one, and a loop hidden in a function body is still a
loop a reader has to untangle. Imports under `if TYPE_CHECKING:` never run: they count for the layer rule (a
lower wing does not even name a higher one's types) but not as loops (an annotation may name the type of a
module that imports this one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "generator"

#: Each top-level module and wing of `generator`, lowest first. A module may import its own layer and lower ones.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "base",
        frozenset(
            {
                "config",
                "naming",
                "errors",
                "manifest",
                "contract",
                "progress",
                "rendered",
                "shipped",
                "network",
                "build_network",
            }
        ),
    ),
    ("iam", frozenset({"iam"})),
    ("product", frozenset({"product"})),
    ("companions", frozenset({"companions"})),
    ("checks", frozenset({"checks"})),
    ("live", frozenset({"live"})),
    ("composers", frozenset({"render", "graph", "cli", "commands", "__main__", ""})),
)
#: `from generator import __version__` reads a constant of the package's __init__: it runs no other module
#: (the package's `main` imports the CLI only when called), so it is no edge up to the entry point.
ROOT_CONSTANTS = frozenset({"__version__"})


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py")) if "__pycache__" not in p.parts}


def type_only(tree: ast.AST) -> set[int]:
    """The ids of the import nodes under `if TYPE_CHECKING:`."""
    found: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            found.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return found


def imported(tree: ast.AST, known: Mapping[str, Path], runtime_only: bool = False) -> Iterator[str]:
    """The `generator` modules a module's code imports, anywhere in it (functions included)."""
    skipped = type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "generator":
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "generator":
                continue
            for alias in node.names:
                if node.module == "generator" and alias.name in ROOT_CONSTANTS:
                    continue
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in known else node.module


def import_graph(package: Path = PACKAGE, runtime_only: bool = False) -> dict[str, set[str]]:
    """module -> the `generator` modules it imports (`runtime_only`: leaving out `if TYPE_CHECKING:` imports)."""
    known = modules(package)
    return {
        name: set(imported(ast.parse(path.read_text(encoding="utf-8")), known, runtime_only)) - {name}
        for name, path in known.items()
    }


def layer_of(module: str) -> int:
    """The rank of the layer a module belongs to; KeyError when it is in none (place it, and say so above)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    raise KeyError(module)


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(source)
    )


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: the import loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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
    return sorted(found)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


@pytest.mark.slow  # parses every generator module (the import graph)
def test_every_module_is_in_a_layer(graph: dict[str, set[str]]) -> None:
    unplaced = []
    for module in graph:
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"place these in a wing or the base (generator/__init__.py, tests/test_layout.py): {unplaced}"


@pytest.mark.slow  # parses every generator module (the import graph)
def test_lower_wings_never_import_higher_ones(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


@pytest.mark.slow  # parses every generator module (the import graph)
def test_no_import_loops() -> None:
    assert cycles(import_graph(runtime_only=True)) == []


def test_the_wings_show_in_the_folder() -> None:
    wings = {name for _, members in LAYERS[1:-1] for name in members}
    assert wings <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def write(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


#: Small trees for the checker itself: it must see a loop and an upward import where there is one, and only there.
LOOPED = {
    "generator/__init__.py": "",
    "generator/naming.py": "def f():\n    from generator.product import kms\n",  # lazy, still a loop
    "generator/product/kms.py": "from generator import naming\n",
    "generator/checks/validate.py": "import generator.naming\n",
    "generator/product/roles.py": "if TYPE_CHECKING:\n    from generator.checks.validate import Finding\n",
}
CLEAN = {
    "generator/__init__.py": "def main():\n    from generator.cli import run\n",
    "generator/cli.py": "from generator.checks import validate\n",
    "generator/manifest.py": "from generator import __version__\n",
    "generator/checks/validate.py": "from generator.manifest import X\n",
    "generator/checks/finding.py": "if TYPE_CHECKING:\n    from generator.checks.validate import Y\n",  # types only
}


@pytest.mark.parametrize(
    ("files", "loops", "upward"),
    [
        (
            LOOPED,
            [["generator.naming", "generator.product.kms"]],
            [
                "generator.naming (base) imports generator.product.kms (product)",
                "generator.product.roles (product) imports generator.checks.validate (checks)",  # a type, still up
            ],
        ),
        (CLEAN, [], []),
    ],
    ids=["looped", "clean"],
)
def test_the_checker(tmp_path: Path, files: Mapping[str, str], loops: list[list[str]], upward: list[str]) -> None:
    package = write(tmp_path, files) / "generator"
    for folder in {p.parent for p in package.rglob("*.py")} - {package}:
        (folder / "__init__.py").touch()
    assert upward_imports(import_graph(package)) == upward
    assert cycles(import_graph(package, runtime_only=True)) == loops


#: Past this many lines a module says in its docstring why it is one unit (a data table may be).
LONG_MODULE = 400


def test_long_modules_say_why_they_are_one_unit() -> None:
    silent = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > LONG_MODULE and f"{LONG_MODULE} lines" not in (
            ast.get_docstring(ast.parse(text)) or ""
        ):
            silent.append(name)
    assert not silent, f"over {LONG_MODULE} lines without saying why in the docstring: {silent}"
