"""Property test: every program mlinfra renders is well-formed Python.

Rendering does not parse its own output (`render.pulumi`'s docstring says why it need not);
this test is what proves it. Specs are generated from the churn example and the valid and
warning fixtures (`spec_mutations`): values swapped for others of the same type (huge,
special, unicode, hostile text), so that many stay valid, and structural changes. Every
environment of each valid spec is lowered and rendered, and its program must compile
(`compile(ast.parse(...))`: the parser, then everything bytecode generation refuses, which is
more than `render --check` does) and pass `check_program`.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from mlinfra.ir.graph import ResourceGraph
from mlinfra.operations.environment import lower_environment
from mlinfra.operations.errors import OperationError
from mlinfra.render.pulumi import check_program, render_project
from mlinfra.spec.validate import validate_text
from spec_mutations import CHURN, REFERENCE, REFERENCE_TEXT, mutated_specs, spec_data, tweaked_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASES = (
    REFERENCE,
    *(
        spec_data(p.read_text())
        for kind in ("valid", "warning")
        for p in sorted(FIXTURES.glob(f"{kind}/*.yaml"))
    ),
)
EXAMPLES = int(os.environ.get("MLINFRA_PROPERTY_EXAMPLES", "100"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The churn example's folder with the fixtures' project in it, which they name as
    `project/...`: where every generated spec's files are found."""
    folder = tmp_path_factory.mktemp("render-property") / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    shutil.copytree(FIXTURES / "valid" / "project", folder / "project")
    return folder


def rendered_programs(text: str, spec_dir: Path) -> dict[str, tuple[str, ResourceGraph]]:
    """The `__main__.py` of every environment of a valid spec that compiles and the graph it
    was rendered from, by environment ({} if the spec is invalid). An environment the
    compiler refuses with an error (a model artifact not built yet) is left out, as
    `mlinfra render` refuses it."""
    result = validate_text(text, "mlinfra.yaml", spec_dir)
    if not result.ok:
        return {}
    programs = {}
    for env, spec in sorted(result.environments.items()):
        try:
            graph = lower_environment(spec, str(spec_dir / "mlinfra.yaml"))
        except OperationError:
            continue
        programs[env] = render_project(graph, spec, "../../mlinfra.yaml")["__main__.py"], graph
    return programs


def assert_well_formed(program: str, env: str) -> None:
    compile(ast.parse(program), f"__main__.py ({env})", "exec")


@SETTINGS
@given(text=st.one_of(tweaked_specs(BASES), tweaked_specs(BASES), mutated_specs(BASES)))
@example(text=REFERENCE_TEXT)
def test_every_rendered_program_is_well_formed_python(project: Path, text: str) -> None:
    programs = rendered_programs(text, project)
    event("valid spec" if programs else "invalid spec")
    for env, (program, graph) in programs.items():
        assert_well_formed(program, env)
        check_program(program, graph)


@pytest.mark.parametrize("base", range(len(BASES)))
def test_every_base_spec_is_valid_and_renders_well_formed_programs(
    project: Path, base: int
) -> None:
    # The property test's floor: each spec it starts from is valid, so the generated ones
    # reach rendering too (a fixture whose model artifact is missing renders no environment).
    text = yaml.safe_dump(BASES[base], sort_keys=False)
    assert validate_text(text, "mlinfra.yaml", project).ok
    for env, (program, _) in rendered_programs(text, project).items():
        assert_well_formed(program, env)


def test_the_churn_example_renders_every_environment(project: Path) -> None:
    assert set(rendered_programs(REFERENCE_TEXT, project)) == {"dev", "local", "prod"}
