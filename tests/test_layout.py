"""The house rules of the layout (docs/design.md), read from the code itself: which packages may
import which, the engine does no I/O, and no module grows past what a newcomer reads at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "bridge"
MAX_LINES = 350
# Modules that reach outside the process: the engine imports none of them, directly or not.
IO_MODULES = {"socket", "sqlite3", "requests", "http", "urllib", "os", "pathlib", "subprocess", "shutil",
              "websocket", "plexapi", "watchdog", "io", "select", "selectors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(BRIDGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every module `name` imports (absolute names; `from x import y` counts x.y when it is a module)."""
    path = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def closure(name: str) -> set[str]:
    """`name`'s imports within the bridge, followed transitively, plus the outside modules they name."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for imported in imports(todo.pop()):
            if imported not in seen:
                seen.add(imported)
                if imported in MODULES:
                    todo.append(imported)
    return seen


def under(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("bridge.adapters")])
def test_adapters_know_nothing_of_simkl(name: str) -> None:
    assert under(imports(name), "bridge.simkl") | under(imports(name), "bridge.emulator") == set()


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("bridge.simkl")])
def test_the_simkl_client_knows_no_media_server(name: str) -> None:
    assert under(closure(name), "bridge.adapters") == set()
    assert under(imports(name), "bridge.emulator") == set()


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("bridge.emulator")])
def test_the_emulator_is_apart_from_the_client(name: str) -> None:
    bridge_imports = {n for n in imports(name) if n.startswith("bridge.") and not n.startswith("bridge.emulator")}
    assert bridge_imports <= {"bridge.http", "bridge.wire", "bridge.times"}


def test_the_engine_imports_no_adapter_and_does_no_io() -> None:
    reached = closure("bridge.engine")
    assert under(reached, "bridge.adapters") == set()
    assert {n.split(".")[0] for n in reached} & IO_MODULES == set()
    calls = {n.func.id for n in ast.walk(ast.parse(MODULES["bridge.engine"].read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert calls & {"open", "print", "input"} == set()


def test_no_module_is_longer_than_a_newcomer_reads_at_once() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_rules_see_real_imports() -> None:
    # Guards the reader itself: an import-reading bug would make every rule above pass.
    assert "bridge.events" in imports("bridge.engine")
    assert "bridge.item" in closure("bridge.engine")
    assert "requests" in imports("bridge.simkl.client")
