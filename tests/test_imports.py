"""The import rules of `docs/architecture.md`, checked over `src/mlinfra`'s syntax trees.

- No module imports another's `_private` name: what two modules share lives in a public place.
- No import cycle among the modules, counting the imports that run when a module loads (those
  under `if TYPE_CHECKING:` never run).
- An mlinfra module imported inside a function says why, in a comment just above: such an
  import is kept only to defer a heavy dependency (cold start) or a runtime's.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Cycles known and scheduled to go (issue 17, move 2's vocabulary part): each is named here so
# that a new one fails, and the list only shrinks.
KNOWN_CYCLES: set[frozenset[str]] = set()

# Imports inside functions that do not yet say why, by (module, what it imports): each is a
# cycle dodged or a layer crossed still to remove, or a command's deferred import still to be
# explained. A new one fails; one that goes must leave the list.
KNOWN_SILENT: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    targets: tuple[str, ...]  # mlinfra modules it names (a module, or a module and its names)
    names: tuple[str, ...]  # the names of a `from ... import`
    base: str  # the module a `from` import reads from
    in_function: bool
    type_checking: bool


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(known: dict[str, Path]) -> list[Import]:
    found = []
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found += _Visitor(module, package, known).collect(ast.parse(path.read_text()))
    return found


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, package: str, known: dict[str, Path]) -> None:
        self.module, self.package, self.known = module, package, known
        self.depth = 0  # functions we are inside
        self.type_checking = 0
        self.found: list[Import] = []

    def collect(self, tree: ast.AST) -> list[Import]:
        self.visit(tree)
        return self.found

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        guarded = "TYPE_CHECKING" in ast.unparse(node.test)
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self._record(node, "", [a.name for a in node.names], ())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        names = tuple(a.name for a in node.names)
        self._record(node, base, [base, *(f"{base}.{n}" for n in names)], names)

    def _record(self, node: ast.stmt, base: str, candidates: list[str], names) -> None:
        targets = tuple(t for t in candidates if t in self.known and t != self.module)
        if not targets:
            return
        self.found.append(
            Import(
                self.module,
                node.lineno,
                targets,
                names,
                base,
                self.depth > 0,
                self.type_checking > 0,
            )
        )


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


KNOWN = modules()
IMPORTS = imports(KNOWN)


def test_no_module_imports_another_modules_private_names() -> None:
    private = [
        f"{i.module}:{i.line} imports {n} from {i.base}"
        for i in IMPORTS
        for n in i.names
        if n.startswith("_") and not n.startswith("__") and i.base != i.module
    ]
    assert private == []


def test_no_import_cycle_among_the_modules() -> None:
    edges: dict[str, set[str]] = {m: set() for m in KNOWN}
    for i in IMPORTS:
        if not i.in_function and not i.type_checking:
            edges[i.module].update(i.targets)
    found = set(cycles(edges))
    assert sorted(map(sorted, found - KNOWN_CYCLES)) == []
    # A known cycle that is gone leaves the list, so it cannot come back unnoticed.
    assert sorted(map(sorted, KNOWN_CYCLES - found)) == []


def test_each_import_inside_a_function_says_why() -> None:
    lines = {m: p.read_text().splitlines() for m, p in KNOWN.items()}
    silent = set()
    for i in IMPORTS:
        if not i.in_function:
            continue
        text = lines[i.module]
        # The comment sits on the import's line, or in the lines just above it (other
        # deferred imports of the same group may stand between).
        above = text[max(0, i.line - 6) : i.line]
        if not any("#" in line for line in above):
            silent.add((i.module, i.base or i.targets[0]))
    assert sorted(silent - KNOWN_SILENT) == []
    assert sorted(KNOWN_SILENT - silent) == []


def test_the_checker_sees_what_it_checks() -> None:
    # Guards the checks above against finding nothing because they look at nothing.
    assert len(KNOWN) > 150
    assert any(i.in_function for i in IMPORTS)
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mlinfra import x\n"
    seen = _Visitor("mlinfra.y", "mlinfra", {"mlinfra.x": Path()}).collect(ast.parse(guarded))
    assert [i.type_checking for i in seen] == [True]
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [frozenset({"a", "b"})]
