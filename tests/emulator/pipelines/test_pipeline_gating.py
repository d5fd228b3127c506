"""Steps after several conditions, and negated and nested conditions, run in the emulator as
mlinfra compiles them for SageMaker: a step runs only when every condition before it holds."""

from __future__ import annotations

from pipeline_project import GROUP, PIPELINE, create, run, steps, write_project

from mlinfra.emulator.services.pipelines.service import evaluated_condition

# A second condition beside `gate`, neither after the other; `register` follows both. Its
# `when` has a `!=` and an `and` inside an `or`: SageMaker's Not and Or, nested.
APPROVED = """\
      approved:
        type: condition
        after: [train]
        when: "parameters.approve != false or (parameters.min_accuracy < 0 and parameters.approve)"
      register:
        type: register_model
        after: [gate, approved]
"""


def write_gated_project(root):
    spec = write_project(root)
    text = spec.read_text()
    parameter = "      min_accuracy: 0.6\n"
    text = text.replace(parameter, parameter + "      approve: true\n")
    text = text.replace(
        "      register:\n        type: register_model\n        after: [gate]\n", APPROVED
    )
    assert "approved:" in text and "approve: true" in text
    spec.write_text(text)
    return spec


def versions(sagemaker) -> list:
    found = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    return found["ModelPackageSummaryList"]


def test_a_step_after_two_conditions_waits_for_both_to_hold(server, tmp_path):
    sagemaker = create(server, write_gated_project(tmp_path))

    # `gate` holds (the accuracy is above 0.6) but `approved` does not: nothing registers.
    refused = run(sagemaker, {"approve": "false"})
    assert refused["PipelineExecutionStatus"] == "Succeeded", refused.get("FailureReason")
    found = steps(sagemaker, refused["PipelineExecutionArn"])
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert found["approved"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert found["gate-and-approved"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert "register" not in found
    assert versions(sagemaker) == []

    # Both hold: the combined condition holds and the version is registered.
    accepted = run(sagemaker, {"approve": "true"})
    assert accepted["PipelineExecutionStatus"] == "Succeeded", accepted.get("FailureReason")
    found = steps(sagemaker, accepted["PipelineExecutionArn"])
    assert found["gate-and-approved"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert found["register"]["StepStatus"] == "Succeeded"
    assert len(versions(sagemaker)) == 1


def test_a_step_after_two_conditions_waits_for_the_metric_one_too(server, tmp_path):
    sagemaker = create(server, write_gated_project(tmp_path))
    # `approved` holds, `gate` does not (no model is that accurate): nothing registers.
    execution = run(sagemaker, {"approve": "true", "min_accuracy": "1.5"})
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    found = steps(sagemaker, execution["PipelineExecutionArn"])
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert found["approved"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert "register" not in found
    assert versions(sagemaker) == []
    # The emulator keeps what the gate compared: the metric against the threshold.
    state = tmp_path / ".mlinfra" / "emulator"
    gate = evaluated_condition(state, PIPELINE, execution["PipelineExecutionArn"], "gate")
    (compared,) = gate["conditions"]
    assert gate["outcome"] is False and compared["held"] is False
    assert compared["type"] == "GreaterThanOrEqualTo" and compared["right"] == 1.5
    assert 0.6 < compared["left"] <= 1.0  # the accuracy the evaluate step wrote
    assert evaluated_condition(state, PIPELINE, execution["PipelineExecutionArn"], "train") is None
