"""The churn example in a temporary folder, its graphs, and states that record them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlinfra.ir.graph import ResourceGraph
from mlinfra.ir.lower import lower
from mlinfra.plan.diff import resource_state
from mlinfra.spec.validate import validate_file
from mlinfra.state.model import State

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"


def state_from(graph: ResourceGraph, known=None) -> State:
    """The state an apply of `graph` records."""
    resources = {r.address: resource_state(r, known) for r in graph.resources}
    lineage = "0f5c1c8e-0000-4000-8000-000000000000"
    return State(graph.project, graph.env, serial=1, lineage=lineage, resources=resources)


@pytest.fixture
def churn(tmp_path: Path) -> Path:
    folder = tmp_path / "churn"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    return folder


@pytest.fixture
def graph_of(churn: Path) -> Callable[..., ResourceGraph]:
    """The graph of an environment of the churn spec, after replacing `old` with `new`."""

    def make(env: str, *edits: tuple[str, str]) -> ResourceGraph:
        spec_file = churn / "mlinfra.yaml"
        text = EXAMPLE.joinpath("mlinfra.yaml").read_text()
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        spec_file.write_text(text)
        result = validate_file(spec_file)
        assert result.ok, [d.summary for d in result.diagnostics if d.is_error]
        return lower(result.environments[env], churn)

    return make


@pytest.fixture
def recorded() -> Callable[..., State]:
    """`state_from(graph, known=None)`: the state an apply of `graph` records."""
    return state_from
