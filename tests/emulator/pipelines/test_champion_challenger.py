"""Champion and challenger: a `when:` comparing with the version that serves now
(`evaluate.metrics.accuracy >= serving.metrics.accuracy`), run in the emulator as mlinfra
compiles it for SageMaker: a `serving` step looks up the group's newest approved version and
its report; with none, the comparison holds.

The champion is registered through boto3, approved, with an evaluation report of a chosen
accuracy that is a file of the project (as the emulator's own reports are).
"""

from __future__ import annotations

import json

from pipeline_project import GROUP, create, register_version, run, steps, write_project

WHEN = 'when: "evaluate.metrics.accuracy >= parameters.min_accuracy"'
CHALLENGE = 'when: "evaluate.metrics.accuracy >= serving.metrics.accuracy"'


def write_challenger_project(root):
    spec = write_project(root)
    spec.write_text(spec.read_text().replace(WHEN, CHALLENGE))
    return spec


def champion(sagemaker, root, accuracy: float | None) -> str:
    """An approved version whose report says `accuracy` (None: a report without it)."""
    report = root / "champion.json"
    metrics = {} if accuracy is None else {"accuracy": {"value": accuracy}}
    report.write_text(json.dumps({"metrics": metrics}))
    return register_version(sagemaker, "Approved", "file:champion.json")


def registered(sagemaker) -> int:
    found = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    return len(found["ModelPackageSummaryList"])


def gate(sagemaker, execution) -> dict:
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    return steps(sagemaker, execution["PipelineExecutionArn"])


def test_with_no_serving_version_the_comparison_holds_and_the_first_model_registers(
    server, tmp_path
):
    sagemaker = create(server, write_challenger_project(tmp_path))
    found = gate(sagemaker, run(sagemaker))
    assert found["serving"]["StepStatus"] == "Succeeded"
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert found["register"]["StepStatus"] == "Succeeded"
    assert registered(sagemaker) == 1


def test_a_better_challenger_registers(server, tmp_path):
    sagemaker = create(server, write_challenger_project(tmp_path))
    champion(sagemaker, tmp_path, 0.5)  # the tiny model scores well above this
    found = gate(sagemaker, run(sagemaker))
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert "register" in found and registered(sagemaker) == 2


def test_a_worse_challenger_does_not_register(server, tmp_path):
    sagemaker = create(server, write_challenger_project(tmp_path))
    champion(sagemaker, tmp_path, 1.01)  # no model scores above a perfect one
    found = gate(sagemaker, run(sagemaker))
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert "register" not in found and registered(sagemaker) == 1


def test_a_pending_or_rejected_version_is_no_champion(server, tmp_path):
    sagemaker = create(server, write_challenger_project(tmp_path))
    arn = champion(sagemaker, tmp_path, 1.01)
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    found = gate(sagemaker, run(sagemaker))
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"


def test_a_champion_whose_report_lacks_the_metric_cannot_block(server, tmp_path):
    sagemaker = create(server, write_challenger_project(tmp_path))
    champion(sagemaker, tmp_path, None)
    found = gate(sagemaker, run(sagemaker))
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"
