"""Transform steps in the emulator's pipeline runner, through real boto3: the step runs a
batch transform job (the jobs an SDK user starts run through the same code), and a feature
group's input is first exported as the latest row of each record, which the step's log says."""

from __future__ import annotations

import json
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from featurestore_client import client, create_group

ROLE = "arn:aws:iam::123456789012:role/pipeline"
GROUP = "customers"
OFFLINE = f"file:.mlinfra/emulator/featurestore/offline/{GROUP}"
# customer_id, event_time, tenure_months, monthly_charges, total_charges, contract,
# support_calls, churned: the model reads tenure_months and monthly_charges.
FEATURES = ("customer_id", "event_time", "tenure_months", "monthly_charges", "total_charges",
            "contract", "support_calls", "churned")  # fmt: skip


def record(customer: str, event_time: str, tenure: int, charges: float) -> list[dict]:
    values = (customer, event_time, tenure, charges, 10.0, "one-year", 1, 0)
    return [
        {"FeatureName": n, "ValueAsString": str(v)} for n, v in zip(FEATURES, values, strict=True)
    ]


def definition(model: str = "scorer") -> str:
    step = {
        "Name": "score",
        "Type": "Transform",
        "Arguments": {
            "ModelName": model,
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": 6,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": OFFLINE}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": {
                    "Std:Join": {
                        "On": "/",
                        "Values": ["file:scores", {"Get": "Execution.PipelineExecutionId"}],
                    }
                },
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "DataProcessing": {
                "InputFilter": "$[2,3]",
                "JoinSource": "Input",
                "OutputFilter": "$[0,-1]",
            },
        },
    }
    return json.dumps({"Version": "2020-12-01", "Steps": [step]})


@pytest.fixture()
def sm(server, model_dir):
    sagemaker = client(server, "sagemaker")
    sagemaker.create_model(
        ModelName="scorer",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(model_dir)},
    )
    create_group(server, GROUP)
    runtime = client(server, "sagemaker-featurestore-runtime")
    for customer, event_time, tenure, charges in (
        ("C1", "2025-01-01T00:00:00Z", 5, 1.0),
        ("C2", "2025-01-02T00:00:00Z", 3, -0.5),
        ("C3", "2025-01-01T00:00:00Z", 8, 0.2),
        ("C1", "2025-02-01T00:00:00Z", 9, -1.0),  # C1 changes: its later row counts
        ("C2", "2024-12-01T00:00:00Z", 1, 2.0),  # an older event written later: not C2's
    ):
        runtime.put_record(
            FeatureGroupName=GROUP, Record=record(customer, event_time, tenure, charges)
        )
    runtime.delete_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString="C3",
        EventTime="2025-03-01T00:00:00Z",
    )
    return sagemaker


def run(sm, name: str, model: str = "scorer") -> tuple[dict, list[dict]]:
    sm.create_pipeline(PipelineName=name, PipelineDefinition=definition(model), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    deadline = time.monotonic() + 120
    while True:
        found = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if found["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return found, steps


def test_a_transform_step_scores_the_latest_row_of_each_record(sm, tmp_path, model_dir):
    found, (step,) = run(sm, "scores")
    assert found["PipelineExecutionStatus"] == "Succeeded", found.get("FailureReason")
    execution = found["PipelineExecutionArn"].rsplit("/", 1)[-1]
    out = tmp_path / "scores" / execution / f"{GROUP}.csv.out"
    written = dict(line.split(",") for line in out.read_text().splitlines())
    # C1 at its latest row, C2 at its latest event (not its last write), C3 deleted.
    assert list(written) == ["C1", "C2"]
    model = joblib.load(model_dir / "model.joblib")
    wanted = model.predict_proba(np.array([[9, -1.0], [3, -0.5]]))[:, 1]
    assert np.allclose([float(v) for v in written.values()], wanted, atol=1e-6)
    job = step["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[-1]
    described = sm.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed"
    assert described["TransformOutput"]["S3OutputPath"] == f"file:scores/{execution}"


def test_the_step_log_says_what_was_exported(sm, tmp_path):
    found, _ = run(sm, "said")
    execution = found["PipelineExecutionArn"].rsplit("/", 1)[-1]
    folder = tmp_path / ".mlinfra" / "emulator" / "pipelines" / "said" / "executions" / execution
    log = (folder / "score" / "log.txt").read_text()
    assert f"latest row of each record of feature group {GROUP}: 2 records (of 6" in log
    exported = (folder / "score" / "input" / f"{GROUP}.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in exported] == ["C1", "C2"]  # no header, by id
    lineage = json.loads((folder / "lineage.json").read_text())["steps"]["score"]
    assert lineage["inputs"][GROUP]["exported_rows"] == 2
    assert lineage["job"].endswith(f"transform-job/pipelines-{execution}-score")


def test_a_model_that_does_not_exist_fails_the_step_saying_so(sm):
    found, (step,) = run(sm, "no-model", model="nope")
    assert found["PipelineExecutionStatus"] == "Failed"
    assert step["StepStatus"] == "Failed"
    assert 'Could not find model "nope"' in step["FailureReason"]


def test_a_stopped_execution_stops_its_transform_job(sm, tmp_path: Path):
    sm.create_pipeline(PipelineName="stopped", PipelineDefinition=definition(), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="stopped")["PipelineExecutionArn"]
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    deadline = time.monotonic() + 60
    while sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
        "Executing",
        "Stopping",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
    assert status in ("Stopped", "Succeeded")  # a stop may arrive after a fast job ended
    for job in sm.list_transform_jobs()["TransformJobSummaries"]:
        assert job["TransformJobStatus"] in ("Stopped", "Completed")
