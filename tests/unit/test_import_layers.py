"""The import direction the README's map promises: connectors and actions stand on the domain, the domain on the
WhatsApp channel's internals and the infrastructure; the application packages never import connectors, actions
or devtools; no module imports itself round a cycle. Every import counts, inside functions too (only
`if TYPE_CHECKING:` blocks are skipped)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP_PACKAGES = ("hsm", "connectors", "actions", "devtools")

# Which layer each package is in (first match wins), and what each layer may import (itself included).
DOMAIN = ("hsm.people", "hsm.classes", "hsm.money", "hsm.outreach", "hsm.records", "hsm.voice")
LAYER_OF_PREFIX: list[tuple[str, str]] = [
    ("connectors", "connectors"),
    ("actions", "actions"),
    ("devtools", "devtools"),
    ("hsm.cli", "cli"),
    ("hsm.office", "office"),
    ("hsm.rasa_glue", "rasa_glue"),
    *((package, "domain") for package in DOMAIN),
    ("hsm.whatsapp", "whatsapp"),
    ("hsm.infra", "infra"),
    ("hsm", "hsm_root"),  # hsm/__init__.py
]
MAY_IMPORT: dict[str, set[str]] = {
    "infra": {"infra", "hsm_root"},
    "whatsapp": {"whatsapp", "infra", "hsm_root"},
    "domain": {"domain", "whatsapp", "infra", "hsm_root"},
    "rasa_glue": {"rasa_glue", "infra", "hsm_root"},
    "office": {"office", "domain", "whatsapp", "infra", "hsm_root"},
    "cli": {"cli", "office", "rasa_glue", "domain", "whatsapp", "infra", "hsm_root"},
    "connectors": {"rasa_glue", "domain", "whatsapp", "infra", "hsm_root"},
    "actions": {"actions", "domain", "whatsapp", "infra", "hsm_root"},
    "devtools": {"devtools", "office", "rasa_glue", "domain", "whatsapp", "infra", "hsm_root"},
    "hsm_root": {"hsm_root"},
}
# Action modules share only these helpers; one feature's actions never import another's.
SHARED_ACTION_MODULES = {"actions", "actions.common", "actions.pending", "actions.texts"}


def layer_of(module: str) -> str:
    for prefix, layer in LAYER_OF_PREFIX:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise ValueError(f"{module} is in no layer")


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in TOP_PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The project modules `source` (the text of `module`) imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    targets = set()
    for name in found:
        while name and name not in known:  # `import hsm.infra.db` of a module, or a name inside one
            name = name.rpartition(".")[0]
        if name and name != module:
            targets.add(name)
    return targets


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {
        name: imports_of(name, path.read_text(), known, path.name == "__init__.py") for name, path in modules.items()
    }


def violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        layer = layer_of(module)
        for target in sorted(targets):
            if layer_of(target) not in MAY_IMPORT[layer]:
                problems.append(f"{module} ({layer}) imports {target} ({layer_of(target)})")
            elif (
                layer_of(target) == "actions"
                and target not in SHARED_ACTION_MODULES
                and module not in SHARED_ACTION_MODULES
            ):
                problems.append(f"{module} imports another feature's actions: {target}")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(project_modules())


def test_every_module_is_in_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_imports_go_down_the_layers(graph):
    assert violations(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_check_catches_an_upward_import_and_a_cycle(graph):
    known = set(graph)
    injected = dict(graph)
    injected["hsm.infra.db"] = graph["hsm.infra.db"] | imports_of(
        "hsm.infra.db", "def f():\n    from hsm.outreach import notify\n", known
    )
    assert set(violations(injected)) - set(violations(graph)) == {
        "hsm.infra.db (infra) imports hsm.outreach.notify (domain)"
    }
    injected = dict(graph)
    injected["hsm.infra.clock"] = graph["hsm.infra.clock"] | {"hsm.infra.db"}
    injected["hsm.infra.db"] = graph["hsm.infra.db"] | {"hsm.infra.clock"}
    assert any({"hsm.infra.clock", "hsm.infra.db"} <= set(group) for group in cycles(injected))
    assert (
        imports_of(
            "hsm.infra.db",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hsm.outreach import notify\n",
            known,
        )
        == set()
    )
    assert "actions.leave imports another feature's actions: actions.billing" in violations(
        {**graph, "actions.leave": {"actions.billing"}}
    )


def external_imports(source: str) -> set[str]:
    """The top-level names of every package `source` imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_rasa_is_imported_only_by_the_rasa_glue_connectors_and_actions():
    rasa_users = {
        name
        for name, path in project_modules().items()
        if name.startswith("hsm.")
        and not name.startswith("hsm.rasa_glue")
        and external_imports(path.read_text()) & {"rasa", "rasa_sdk", "sanic"}
    }
    assert rasa_users == set()
