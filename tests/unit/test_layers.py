"""Imports point one way: no cycle between the harness's subpackages (and synth).

`make lint` checks the layers themselves (`lint-imports`, contracts in pyproject.toml); this
test catches a cycle through any subpackage or module, listed in a contract or not, and names
the imports that close it.
"""

from __future__ import annotations

from collections import defaultdict

import grimp


def _unit(module: str) -> str:
    parts = module.split(".")
    return "synth" if parts[0] == "synth" else ".".join(parts[:2])


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_subpackages() -> None:
    graph = grimp.build_graph(
        "harness",
        "synth",
        include_external_packages=False,
        exclude_type_checking_imports=True,
        cache_dir=None,
    )
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], str] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            a, b = _unit(module), _unit(imported)
            if a != b:
                edges[a].add(b)
                edges.setdefault(b, set())  # every unit is a node
                why.setdefault((a, b), f"{module} imports {imported}")
    cycles = _cycles(edges)
    detail = [why[(a, b)] for cycle in cycles for a in cycle for b in cycle if (a, b) in why]
    assert not cycles, f"import cycles: {cycles}; edges: {detail}"


def test_the_drill_proxy_does_not_import_the_sandbox() -> None:
    """The fault specs matched the sandbox's route table through three lazy imports of
    `harness.sandbox.routes`; both now read `harness.shop_routes`."""
    graph = grimp.build_graph("harness", include_external_packages=False, cache_dir=None)
    chains = graph.find_shortest_chains(importer="harness.faults", imported="harness.sandbox")
    assert not chains, f"harness.faults reaches the sandbox: {sorted(chains)}"


def test_commands_use_no_private_name_of_the_engine() -> None:
    """`harness/commands/` reaches the engine through its public functions: rollout read
    `locust_users._state` and mutated its sink list."""
    import ast
    from pathlib import Path

    found = []
    for path in sorted(Path("harness/commands").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        engine_modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "harness.engine"
            ):
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append(f"{path}:{node.lineno} imports {alias.name}")
                    engine_modules.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in engine_modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not found, found


def test_commands_hold_no_orchestration() -> None:
    """A command parses its options into a `RunRequest`, calls the session and prints: it does
    not drive the engine itself (`load.execute` did, and rehearse, rollout and drill passed it
    closures). Only the engine's plan vocabulary (`ShapeKind` for a parser's choices) may be
    imported."""
    graph = grimp.build_graph("harness", include_external_packages=False, cache_dir=None)
    found = []
    for module in sorted(graph.find_descendants("harness.commands")):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.startswith("harness.engine") and imported != "harness.engine.plan":
                found.append(f"{module} imports {imported}")
    assert not found, found
