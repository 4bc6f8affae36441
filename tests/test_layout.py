"""The package's shape: no import cycles (function-level imports included), no arrows from the core or
the shared data layer up into a task package, short modules and a short entry point."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600


def modules() -> dict[str, tuple[Path, bool]]:
    """lddbm's modules: dotted name -> (file, is a package's __init__)."""
    found = {}
    for path in (ROOT / "lddbm").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The lddbm modules ``name`` imports anywhere in its file (a name imported from a package counts as
    that submodule when there is one)."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges = {name: imports(name, path, is_package, set(mods)) for name, (path, is_package) in mods.items()}
    # a package's __init__ gathering its own submodules (the registry, the facade) is not an arrow back
    return {a: {b for b in bs if not (mods[a][1] and b.startswith(a + "."))} for a, bs in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_check_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_arrows_up_into_the_tasks():
    """The core, lddbm.data and the command line serve every task: they import no task package (the registry
    itself, lddbm.tasks, and its lddbm.tasks.base are read by training and the command line)."""
    up = [(a, b) for a, bs in graph().items() for b in bs
          if b.startswith("lddbm.tasks.") and b != "lddbm.tasks.base" and not a.startswith("lddbm.tasks")]
    assert up == []
    data_up = [(a, b) for a, bs in graph().items() for b in bs
               if a.startswith("lddbm.data") and (b.startswith("lddbm.tasks") or b in ("lddbm.train", "lddbm.presets"))]
    assert data_up == []


def test_modules_and_the_entry_point_stay_short():
    long = {str(path.relative_to(ROOT)): n for path in [*(ROOT / "lddbm").rglob("*.py"), *(ROOT / "app").rglob("*.py")]
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}
    assert len((ROOT / "app.py").read_text().splitlines()) <= 150
