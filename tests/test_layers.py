"""The layers hold: the CLI's commands hand their work to operations and import no other
command; operations never print, read the terminal or exit; no stage reaches up into them."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "mlinfra"
# What the commands share, in `cli/`: not commands themselves.
SHARED = {"__init__", "main", "common", "options", "docs"}


def imported(path: Path) -> set[str]:
    """The mlinfra modules (and names in them) `path` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlinfra"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mlinfra"))
    return found


def commands() -> dict[str, Path]:
    return {
        f"mlinfra.cli.{path.stem}": path
        for path in (SOURCE / "cli").glob("*.py")
        if path.stem not in SHARED
    }


def test_no_command_imports_another_command() -> None:
    found = commands()
    assert "mlinfra.cli.plan" in found and "mlinfra.cli.apply" in found
    reaching = {
        name: sorted(other for other in imported(path) if other in found and other != name)
        for name, path in found.items()
    }
    assert {name: others for name, others in reaching.items() if others} == {}


def test_operations_never_print_read_the_terminal_or_exit() -> None:
    for path in (SOURCE / "operations").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = imported(path) | {
            a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for a in node.names
        }
        modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in modules if m.split(".")[0] in ("click", "rich")}, path.name
        assert not any(m.startswith("mlinfra.cli") for m in modules), path.name
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert not calls & {"print", "input", "sys.exit", "exit", "SystemExit"}, path.name


def test_no_stage_imports_the_cli_or_the_operations() -> None:
    for path in SOURCE.rglob("*.py"):
        layer = path.relative_to(SOURCE).parts[0]
        if layer in ("cli", "operations"):
            continue
        upward = {m for m in imported(path) if m.startswith(("mlinfra.cli", "mlinfra.operations"))}
        assert not upward, path
