"""`mlinfra graph`: every resource the environment compiles to, and each dependency, drawn as
Mermaid or DOT from the very graph plan and apply use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).parents[1] / "examples" / "churn" / "mlinfra.yaml"


def drawn(env: str, form: str) -> str:
    result = CliRunner().invoke(cli, ["graph", "--env", env, "--format", form, "-f", str(CHURN)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("env", ["local", "dev"])
def test_dot_draws_every_resource_and_dependency_of_the_ir(env):
    graph = lower(validate_file(str(CHURN)).environments[env], CHURN.parent)
    text = drawn(env, "dot")
    nodes = set(re.findall(r'^    "([^"]+)" \[label=', text, re.M))
    assert nodes == {r.address for r in graph.resources}
    edges = set(re.findall(r'^    "([^"]+)" -> "([^"]+)";', text, re.M))
    assert edges == {(d, r.address) for r in graph.resources for d in r.dependencies()}
    assert ("endpoint.churn-api/config", "endpoint.churn-api") in edges


def test_mermaid_has_a_node_per_resource_and_an_arrow_per_dependency():
    graph = lower(validate_file(str(CHURN)).environments["dev"], CHURN.parent)
    text = drawn("dev", "mermaid")
    assert text.startswith("flowchart LR\n")
    assert text.count("<br/>") == len(graph.resources)
    assert text.count(" --> ") == sum(len(r.dependencies()) for r in graph.resources)


def test_an_unknown_environment_is_named():
    result = CliRunner().invoke(cli, ["graph", "--env", "prd", "-f", str(CHURN)])
    assert result.exit_code == 1
    assert "has no environment 'prd'" in result.stderr and "did you mean 'prod'" in result.stderr
