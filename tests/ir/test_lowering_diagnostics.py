"""`lowering_diagnostics`: what lowering would refuse, said at the spec text that chose it."""

from __future__ import annotations

from pathlib import Path

from mlinfra.ir.sagemaker.problems import lowering_diagnostics
from mlinfra.spec.validate import validate_file

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_an_instance_type_without_an_image_is_refused_where_it_is_written():
    path = FIXTURES / "invalid" / "no-image.yaml"
    validation = validate_file(path)
    found = lowering_diagnostics(validation.environments["dev"], path.parent)
    assert {d.code for d in found} == {"no-image-for-instance-type"}
    lines = path.read_text().splitlines()
    for diagnostic in found:
        assert "ml.g4dn.xlarge" in lines[diagnostic.range.start.line - 1] or (
            "ml.p3.2xlarge" in lines[diagnostic.range.start.line - 1]
        )
    # Validation reports them as the spec's own errors.
    assert {d.code for d in validation.diagnostics} >= {"no-image-for-instance-type"}


def test_the_local_target_runs_anything_on_the_cpu():
    path = FIXTURES / "invalid" / "no-image.yaml"
    validation = validate_file(path)
    assert lowering_diagnostics(validation.environments["local"], path.parent) == []


def test_the_reference_spec_lowers_without_a_word():
    path = Path(__file__).parents[2] / "examples" / "churn" / "mlinfra.yaml"
    validation = validate_file(path)
    for spec in validation.environments.values():
        assert lowering_diagnostics(spec, path.parent) == []
