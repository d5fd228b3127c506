"""Pipelines that really run in the emulator, driven by boto3 as on SageMaker."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from pipeline_project import (
    GROUP,
    PIPELINE,
    client,
    create,
    pipeline_request,
    run,
    steps,
    wait,
    write_project,
)

from mlinfra.emulator.control import ControlPlane


def test_a_pipeline_runs_every_step_and_registers_an_approved_version(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    found = steps(sagemaker, execution["PipelineExecutionArn"])
    assert {name: s["StepStatus"] for name, s in found.items()} == dict.fromkeys(
        ["prepare", "train", "evaluate", "gate", "register"], "Succeeded"
    )
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    versions = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    (version,) = versions["ModelPackageSummaryList"]
    assert version["ModelApprovalStatus"] == "Approved"
    assert found["register"]["Metadata"]["RegisterModel"]["Arn"] == version["ModelPackageArn"]

    # Each step ran in its own folder, laid out as SageMaker's containers are.
    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    folder = tmp_path / ".mlinfra/emulator/pipelines" / PIPELINE / "executions" / execution_id
    assert (folder / "prepare/input/points/points.csv").is_file()
    assert (folder / "prepare/input/code/prepare.py").is_file()
    assert (folder / "train/input/data/train/train.csv").is_file()
    assert (folder / "train/model/model.joblib").is_file()
    assert "trained with C = 0.5" in (folder / "train/log.txt").read_text()
    report = json.loads((folder / "evaluate/output/evaluation/evaluation.json").read_text())
    assert report["metrics"]["accuracy"]["value"] > 0.6

    # The lineage record says what each step read, ran and wrote, and what was registered.
    lineage = json.loads((folder / "lineage.json").read_text())
    assert lineage["status"] == "Succeeded" and lineage["parameters"] == {"min_accuracy": "0.6"}
    code = hashlib.sha256((tmp_path / "steps/prepare.py").read_bytes()).hexdigest()
    prepare_code = lineage["steps"]["prepare"]["inputs"]["code"]
    assert prepare_code == {"location": "file:steps/prepare.py", "sha256": code}
    assert lineage["steps"]["train"]["outputs"]["model"]["location"].endswith("model.tar.gz")
    registered = lineage["steps"]["register"]["registered"]
    assert registered["model_package_arn"] == version["ModelPackageArn"]


def test_the_registered_version_serves_through_an_endpoint(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    assert run(sagemaker)["PipelineExecutionStatus"] == "Succeeded"
    package = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    arn = package["ModelPackageSummaryList"][0]["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    artifact = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert artifact.endswith("/output/model.tar.gz") and Path(artifact).is_file()

    sagemaker.create_model(ModelName="tiny", PrimaryContainer={"ModelPackageName": arn})
    sagemaker.create_endpoint_config(
        EndpointConfigName="tiny",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "tiny", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 1}
        ],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="tiny", EndpointConfigName="tiny")
    assert sagemaker.describe_endpoint(EndpointName="tiny")["EndpointStatus"] == "InService"
    answer = client(server, "sagemaker-runtime").invoke_endpoint(
        EndpointName="tiny", ContentType="text/csv", Body=b"9.0,1.0\n1.0,9.0\n"
    )
    scores = [float(v) for v in answer["Body"].read().decode().split()]
    assert scores[0] > 0.5 > scores[1]


def test_a_parameter_overrides_its_default_and_a_false_condition_registers_nothing(
    server, tmp_path
):
    sagemaker = create(server, write_project(tmp_path))
    execution = run(sagemaker, {"min_accuracy": 1.5})  # the default, 0.6, would hold
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert parameters == [{"Name": "min_accuracy", "Value": "1.5"}]
    found = steps(sagemaker, execution["PipelineExecutionArn"])
    assert found["gate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert "register" not in found
    assert (
        sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []
    )


def test_a_failing_script_fails_the_execution_with_its_log_tail(server, tmp_path):
    broken = "print('loading the model')\nraise SystemExit('evaluate: no test data')\n"
    sagemaker = create(server, write_project(tmp_path, evaluate=broken))
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "evaluate" in execution["FailureReason"]
    assert "evaluate: no test data" in execution["FailureReason"]
    found = steps(sagemaker, execution["PipelineExecutionArn"])
    assert found["evaluate"]["StepStatus"] == "Failed"
    assert "loading the model" in found["evaluate"]["FailureReason"]
    assert set(found) == {"prepare", "train", "evaluate"}
    assert (
        sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []
    )


def test_executions_are_listed_newest_first(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path, prepare="raise SystemExit(3)\n"))
    first = run(sagemaker)["PipelineExecutionArn"]
    second = run(sagemaker)["PipelineExecutionArn"]
    listed = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)
    assert [e["PipelineExecutionArn"] for e in listed["PipelineExecutionSummaries"]] == [
        second,
        first,
    ]


def test_a_stopped_execution_ends_stopped(server, tmp_path):
    slow = "import time\ntime.sleep(60)\n"
    sagemaker = create(server, write_project(tmp_path, prepare=slow))
    arn = sagemaker.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
    while "prepare" not in steps(sagemaker, arn):
        time.sleep(0.1)
    sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn)
    assert wait(sagemaker, arn, 20)["PipelineExecutionStatus"] == "Stopped"
    assert steps(sagemaker, arn)["prepare"]["StepStatus"] == "Stopped"


def test_unknown_parameters_are_refused(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    with pytest.raises(sagemaker.exceptions.ClientError, match="min_acuracy"):
        sagemaker.start_pipeline_execution(
            PipelineName=PIPELINE, PipelineParameters=[{"Name": "min_acuracy", "Value": "1"}]
        )


def test_an_unknown_pipeline_is_not_found(server):
    sagemaker = client(server)
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_pipeline(PipelineName="nope")


def test_a_rerun_reuses_job_steps_whose_code_inputs_and_arguments_are_unchanged(server, tmp_path):
    spec = write_project(tmp_path)
    sagemaker = create(server, spec)
    first = run(sagemaker)["PipelineExecutionArn"]
    second = run(sagemaker)
    assert second["PipelineExecutionStatus"] == "Succeeded"
    found = steps(sagemaker, second["PipelineExecutionArn"])
    for step in ("prepare", "train", "evaluate"):
        assert found[step]["CacheHitResult"] == {"SourcePipelineExecutionArn": first}
    assert "CacheHitResult" not in found["register"]  # a registration is never reused
    # The same artifact from the same inputs is the version already registered, not a new one.
    (version,) = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)[
        "ModelPackageSummaryList"
    ]
    assert found["register"]["Metadata"]["RegisterModel"]["Arn"] == version["ModelPackageArn"]

    # A changed argument (from a parameter or a new definition) reruns the step it reaches.
    request = pipeline_request(spec)
    request["PipelineDefinition"] = request["PipelineDefinition"].replace('"0.5"', '"0.25"')
    sagemaker.update_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=request["PipelineDefinition"]
    )
    third = run(sagemaker)
    found = steps(sagemaker, third["PipelineExecutionArn"])
    assert "CacheHitResult" in found["prepare"]
    assert "CacheHitResult" not in found["train"]


def test_an_s3_location_fails_the_step_saying_only_local_ones_run(server, tmp_path):
    spec = write_project(tmp_path)
    sagemaker = create(server, spec)
    request = pipeline_request(spec)
    definition = request["PipelineDefinition"].replace("file:data/points.csv", "s3://b/p.csv")
    sagemaker.update_pipeline(PipelineName=PIPELINE, PipelineDefinition=definition)
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "s3://b/p.csv is not reachable from the local emulator" in execution["FailureReason"]


def test_an_execution_cut_short_by_a_restart_says_so(tmp_path):
    running = {
        "_Id": "abc",
        "PipelineName": "p",
        "PipelineExecutionArn": "arn:x/execution/abc",
        "PipelineExecutionStatus": "Executing",
        "CreationTime": 1.0,
    }
    before = ControlPlane(tmp_path, tmp_path / "state")
    before.store.put("pipeline-execution", "abc", running, 1.0)
    before.close()
    after = ControlPlane(tmp_path, tmp_path / "state")
    try:
        found = after.pipelines.execution("arn:x/execution/abc")
    finally:
        after.close()
    assert found["PipelineExecutionStatus"] == "Failed"
    assert found["FailureReason"] == "The emulator stopped while this execution ran."


def test_pipelines_are_created_described_listed_updated_and_deleted(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    described = sagemaker.describe_pipeline(PipelineName=PIPELINE)
    assert described["PipelineArn"].endswith(f":pipeline/{PIPELINE}")
    assert described["PipelineStatus"] == "Active"
    assert json.loads(described["PipelineDefinition"])["Version"] == "2020-12-01"
    listed = sagemaker.list_pipelines(PipelineNamePrefix="tiny")["PipelineSummaries"]
    assert [p["PipelineName"] for p in listed] == [PIPELINE]

    arn = described["PipelineArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "growth"}])
    assert {"Key": "team", "Value": "growth"} in sagemaker.list_tags(ResourceArn=arn)["Tags"]

    sagemaker.update_pipeline(PipelineName=PIPELINE, PipelineDescription="nightly")
    assert sagemaker.describe_pipeline(PipelineName=PIPELINE)["PipelineDescription"] == "nightly"
    with pytest.raises(sagemaker.exceptions.ClientError, match="not valid JSON"):
        sagemaker.update_pipeline(PipelineName=PIPELINE, PipelineDefinition="{")

    sagemaker.delete_pipeline(PipelineName=PIPELINE, ClientRequestToken="x" * 32)
    assert sagemaker.list_pipelines()["PipelineSummaries"] == []


def test_a_retried_start_with_the_same_token_starts_one_execution(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path, prepare="raise SystemExit(1)\n"))
    arns = {
        sagemaker.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="t" * 32)[
            "PipelineExecutionArn"
        ]
        for _ in range(2)
    }
    assert len(arns) == 1
    wait(sagemaker, arns.pop())


def test_a_training_job_past_its_max_runtime_is_stopped_and_fails(server, tmp_path):
    spec = write_project(tmp_path)
    (tmp_path / "steps" / "train.py").write_text("import time\ntime.sleep(60)\n")
    sagemaker = create(server, spec)
    definition = pipeline_request(spec)["PipelineDefinition"]
    assert '"MaxRuntimeInSeconds": 86400' in definition
    definition = definition.replace('"MaxRuntimeInSeconds": 86400', '"MaxRuntimeInSeconds": 1')
    sagemaker.update_pipeline(PipelineName=PIPELINE, PipelineDefinition=definition)
    execution = run(sagemaker, timeout=30)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "longer than MaxRuntimeInSeconds (1)" in execution["FailureReason"]
