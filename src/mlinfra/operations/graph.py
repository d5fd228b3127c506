"""The IR drawn (`mlinfra graph`): an environment's resources and what each depends on, as
Mermaid or Graphviz DOT text. Nothing is contacted: the graph is the compiler's own."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlinfra.operations.environment import EnvironmentRequest, environment, lower_environment

GraphRequest = EnvironmentRequest  # the environment whose graph to draw


@dataclass(frozen=True)
class Drawn:
    """Each resource's address and type, and the edges (resource, what it depends on)."""

    env: str
    target: str
    resources: tuple[tuple[str, str], ...]
    edges: tuple[tuple[str, str], ...]


def graph(request: GraphRequest) -> Drawn:
    spec = environment(request.validation, request.env, request.spec_file)
    found = lower_environment(spec, request.spec_file)
    resources = tuple((r.address, r.type) for r in found.resources)
    known = {address for address, _ in resources}
    edges = tuple((r.address, d) for r in found.resources for d in r.dependencies() if d in known)
    return Drawn(request.env, spec.target, resources, edges)


def mermaid(drawn: Drawn) -> str:
    """A Mermaid flowchart, each resource a node (address and type), dependencies first."""
    ids = {address: f"r{i}" for i, (address, _) in enumerate(drawn.resources)}
    lines = ["flowchart LR"]
    for address, kind in drawn.resources:
        lines.append(f'    {ids[address]}["{_mermaid(address)}<br/>{_mermaid(kind)}"]')
    for resource, needed in drawn.edges:
        lines.append(f"    {ids[needed]} --> {ids[resource]}")
    return "\n".join(lines) + "\n"


def dot(drawn: Drawn) -> str:
    """Graphviz DOT: an arrow from what a resource needs to the resource."""
    lines = [f"digraph {_quoted(drawn.env)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for address, kind in drawn.resources:
        label = _quoted(address + "\n" + kind)  # DOT reads `\n` in a label as a line break
        lines.append(f"    {_quoted(address)} [label={label}];")
    for resource, needed in drawn.edges:
        lines.append(f"    {_quoted(needed)} -> {_quoted(resource)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    # A JSON string is a valid DOT quoted string: user text stays a string.
    return json.dumps(text, ensure_ascii=False)


def _mermaid(text: str) -> str:
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text
