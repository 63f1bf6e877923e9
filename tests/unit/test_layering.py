"""The package dependency graph, from the code's own imports: every `import` and `from ... import`
in every module under src/dsgate, those inside functions and `if TYPE_CHECKING:` blocks included,
read from the AST. Imports go down the layers below and never sideways between the packages of one
layer; so the graph has no cycle, and the gate imports neither dsgate.gitops nor dsgate.cluster.
docs/ARCHITECTURE.md shows the same layers (checked below)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dsgate

pytestmark = pytest.mark.unit

SRC = Path(dsgate.__file__).resolve().parent
ARCHITECTURE = SRC.parents[1] / "docs" / "ARCHITECTURE.md"

# Lowest first. A node is a subpackage (dsgate.gate) or a top-level module (dsgate.cli).
# An import may go from a node to one in a lower layer only; the base modules may import each other
# (without a cycle): they are small single-purpose modules with no package of their own.
BASE = "base"
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (BASE, ("errors", "paths", "versions", "limits", "procs", "net", "rundir", "tools", "k8s", "jsoncache", "yamlc")),
    ("engine", ("gate", "toolbuild")),
    ("configuration", ("config",)),
    ("plugins and consumers", ("gitops", "cluster", "docs", "chartrepo")),
    ("applications", ("audit", "admission", "serverd")),
    ("wiring", ("plugins",)),
    ("command line", ("cli",)),
]
LAYER_OF = {f"dsgate.{name}": (index, layer) for index, (layer, names) in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    return ".".join(("dsgate", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")


def _node(module: str) -> str:
    """The graph node of MODULE: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    """(imported module, names taken from it) of every import statement in PATH, wherever it is."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, set[str]]] = []
    for stmt in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(stmt, ast.Import):
            out.extend((alias.name, set()) for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:  # relative: resolved against the importing package
                anchor = package.split(".")[: len(package.split(".")) - stmt.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = {alias.name for alias in stmt.names}
            out.append((base, names))
            out.extend(
                (f"{base}.{name}", set())
                for name in names
                if (SRC.parent / base.replace(".", "/") / f"{name}.py").exists()
            )
    return [(target, names) for target, names in out if target.startswith("dsgate.")]


def _graph() -> dict[str, dict[str, set[str]]]:
    """node -> imported node -> the modules whose imports make that edge."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        graph.setdefault(_node(module), {})
        for target, _names in _imports(path):
            if _node(target) != _node(module):
                graph[_node(module)].setdefault(_node(target), set()).add(f"{module} -> {target}")
    return graph


GRAPH = _graph()


def test_every_node_has_a_layer() -> None:
    assert sorted(node for node in GRAPH if node not in LAYER_OF and node != "dsgate") == []


@pytest.mark.parametrize(
    ("importer", "imported", "expected_allowed"),
    [
        ("dsgate.cli", "dsgate.gate", True),  # down
        ("dsgate.gitops", "dsgate.gate", True),  # a plugin uses the gate's protocol
        ("dsgate.gate", "dsgate.gitops", False),  # up: the gate must not know GitOps
        ("dsgate.gate", "dsgate.cluster", False),  # up: nor the cluster
        ("dsgate.gitops", "dsgate.cluster", False),  # sideways within a layer
        ("dsgate.tools", "dsgate.paths", True),  # base modules import each other
    ],
)
def test_the_rule_itself(importer: str, imported: str, expected_allowed: bool) -> None:
    assert _allowed(importer, imported) is expected_allowed


def _allowed(importer: str, imported: str) -> bool:
    (low, layer), (high, _) = LAYER_OF[imported], LAYER_OF[importer]
    return low < high or (low == high and layer == BASE)


def test_imports_only_go_down() -> None:
    upward = {
        f"{importer} -> {imported}": sorted(where)
        for importer, edges in GRAPH.items()
        if importer in LAYER_OF
        for imported, where in edges.items()
        if imported in LAYER_OF and not _allowed(importer, imported)
    }
    assert upward == {}


def test_the_gate_imports_neither_gitops_nor_cluster() -> None:
    # the lazy imports the gate once had (in pipeline.run_job, sources._gitops, deploystage) count too
    assert {"dsgate.gitops", "dsgate.cluster"} & set(GRAPH["dsgate.gate"]) == set()


def test_no_cycle_between_nodes() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in GRAPH.get(node, {}):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_private_name_is_imported_from_another_module() -> None:
    private = sorted(
        f"{_module_name(path)}: {target}.{name}"
        for path in SRC.rglob("*.py")
        for target, names in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != _module_name(path)
    )
    assert private == []


def layer_table() -> str:
    """The layers as docs/ARCHITECTURE.md shows them (highest first)."""
    return "\n".join(f"| {layer} | {', '.join(f'`{name}`' for name in names)} |" for layer, names in reversed(LAYERS))


def test_architecture_page_shows_these_layers() -> None:
    assert layer_table() in ARCHITECTURE.read_text()
