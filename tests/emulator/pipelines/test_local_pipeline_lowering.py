"""A spec pipeline lowered for `target: local`: SageMaker's definition, with local locations."""

from __future__ import annotations

import json
from pathlib import Path

from mlinfra.engines.providers.values import resolve
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).parents[3] / "examples" / "churn"


def churn_pipeline():
    graph = lower(validate_file(CHURN / "mlinfra.yaml").environments["local"], CHURN)
    return graph.get("pipeline.train-churn")


def definition_of(pipeline) -> dict:
    """The definition document, as the provider sends it (JSON text) and read back."""
    return json.loads(resolve(pipeline.properties, None, None)["PipelineDefinition"])


def inputs(step: dict) -> dict[str, object]:
    return {i["InputName"]: i["S3Input"]["S3Uri"] for i in step["Arguments"]["ProcessingInputs"]}


def test_the_churn_pipeline_reads_code_in_place_and_features_from_the_emulator():
    pipeline = churn_pipeline()
    assert pipeline.properties["PipelineName"] == "churn-local-train-churn"
    assert pipeline.depends_on == ("feature_store.customers", "model.churn-model/registry")
    steps = {s["Name"]: s for s in definition_of(pipeline)["Steps"]}
    assert inputs(steps["prepare"]) == {
        # The feature group's own offline folder, as its OfflineStoreConfig names it.
        "customers": "file:.mlinfra/emulator/featurestore/offline/churn-local-customers",
        "code": "file:pipelines/prepare.py",
    }
    hyperparameters = steps["train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["sagemaker_submit_directory"] == '"file:pipelines/train.py"'
    output = steps["prepare"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    runs = output["S3Uri"]["Std:Join"]["Values"][0]
    assert runs == "file:.mlinfra/emulator/pipelines/churn-local-train-churn/runs"


def test_the_gate_holds_the_registration_and_auto_approval_holds_locally():
    definition = definition_of(churn_pipeline())
    gate = next(s for s in definition["Steps"] if s["Type"] == "Condition")
    (register,) = gate["Arguments"]["IfSteps"]
    assert register["Arguments"]["ModelApprovalStatus"] == "Approved"
    assert register["Arguments"]["ModelPackageGroupName"] == "churn-local-churn"
