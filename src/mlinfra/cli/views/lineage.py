"""How a lineage reads: a tree from what serves back to what made it (rich), or a Mermaid
flowchart of the same entities and associations."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.tree import Tree

STYLES = {"Endpoint": "bold", "ModelPackage": "green", "TrainingJob": "cyan"}


def label(entity: Any) -> str:
    """The entity's type and name, then what it stands for, its parameters and its metrics,
    a line each."""
    lines = [f"{entity.type or entity.kind} {entity.name}"]
    if entity.uri and entity.uri != entity.name:
        lines.append(f"  {entity.uri}")
    if entity.parameters:
        parameters = ", ".join(f"{k}={v}" for k, v in sorted(entity.parameters.items()))
        lines.append(f"  parameters: {parameters}")
    if entity.metrics:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(entity.metrics.items()))
        lines.append(f"  metrics: {metrics}")
    return "\n".join(lines)


def tree(found: Any) -> Tree:
    """The root, and under each entity what contributed to it; an entity reached twice is
    shown once, then referred to."""
    shown: set[str] = set()

    def grow(node: Tree, arn: str) -> None:
        for source in found.inputs_of(arn):
            entity = found.entities[source]
            if source in shown:
                node.add(escape(f"{entity.type} {entity.name} (above)"), style="dim")
                continue
            shown.add(source)
            grow(node.add(escape(label(entity)), style=STYLES.get(entity.type)), source)

    root = found.entities[found.root]
    shown.add(found.root)
    top = Tree(escape(label(root)), style=STYLES.get(root.type))
    grow(top, found.root)
    return top


def mermaid(found: Any) -> str:
    """A Mermaid flowchart: each entity a node, each association an arrow from what
    contributed to what it made."""
    ids = {arn: f"n{i}" for i, arn in enumerate(found.entities)}
    lines = ["flowchart BT"]
    for arn, entity in found.entities.items():
        # An artifact's name is a hash: where it is says more.
        shown = entity.name
        if entity.kind == "artifact" and entity.uri:
            shown = entity.uri.rstrip("/").rsplit("/", 1)[-1]
        lines.append(f'    {ids[arn]}["{_mermaid_text(f"{entity.type} {shown}")}"]')
    for source, destination, kind in found.edges:
        if source in ids and destination in ids:
            lines.append(f"    {ids[source]} -->|{_mermaid_text(kind)}| {ids[destination]}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid's entity codes: user text never closes the label or starts markup.
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                       ("|", "#124;"), ("[", "#91;"), ("]", "#93;")):  # fmt: skip
        text = text.replace(char, code)
    return text
