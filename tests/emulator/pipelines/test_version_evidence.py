"""A registered version carries its evidence, in SageMaker's own fields, and a run that
would register the same artifact from the same inputs names the version it matches."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from pipeline_project import GROUP, PIPELINE, create, run, steps, write_project


def _version(sagemaker) -> dict:
    (summary,) = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)[
        "ModelPackageSummaryList"
    ]
    return sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])


def _sha256(path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_version_records_its_report_hyperparameters_code_inputs_and_execution(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    version = _version(sagemaker)

    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    folder = tmp_path / ".mlinfra/emulator/pipelines" / PIPELINE / "executions" / execution_id
    statistics = version["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"].endswith("evaluate/evaluation/evaluation.json")
    report = folder / "evaluate/output/evaluation/evaluation.json"
    assert statistics["ContentDigest"] == _sha256(report)

    assert version["MetadataProperties"]["GeneratedBy"] == execution["PipelineExecutionArn"]
    customer = version["CustomerMetadataProperties"]
    assert customer["hyperparameter:C"] == "0.5"
    assert customer["code:prepare"] == _sha256(tmp_path / "steps/prepare.py")
    assert customer["code:evaluate"] == _sha256(tmp_path / "steps/evaluate.py")
    assert customer["code:train"].startswith("sha256:")
    # The data the pipeline read from outside it; what its steps passed on is not an input.
    assert customer["input:points:sha256"] == _sha256(tmp_path / "data/points.csv")
    assert not any(key.startswith(("input:train", "input:model")) for key in customer)
    model = version["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert customer["artifact:sha256"] == _sha256(Path(model))
    assert "CommitId" not in version["MetadataProperties"]  # the project is not in git


def test_a_version_names_the_git_commit_of_a_project_in_git(server, tmp_path):
    spec = write_project(tmp_path)
    for command in (
        ["init", "-q"],
        ["-c", "user.email=a@b.c", "-c", "user.name=a", "add", "."],
        ["-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-qm", "spec"],
        ["remote", "add", "origin", "https://example.com/team/churn.git"],
    ):
        subprocess.run(["git", "-C", str(tmp_path), *command], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    sagemaker = create(server, spec)
    assert run(sagemaker)["PipelineExecutionStatus"] == "Succeeded"
    metadata = _version(sagemaker)["MetadataProperties"]
    assert metadata["CommitId"] == head
    assert metadata["Repository"] == "https://example.com/team/churn.git"


def test_a_rerun_on_the_same_data_registers_nothing_and_names_the_version_it_matches(
    server, tmp_path
):
    sagemaker = create(server, write_project(tmp_path))
    first = run(sagemaker)
    second = run(sagemaker)
    assert second["PipelineExecutionStatus"] == "Succeeded"
    version = _version(sagemaker)  # still the one version
    assert version["MetadataProperties"]["GeneratedBy"] == first["PipelineExecutionArn"]
    found = steps(sagemaker, second["PipelineExecutionArn"])
    assert found["register"]["Metadata"]["RegisterModel"]["Arn"] == version["ModelPackageArn"]

    execution_id = second["PipelineExecutionArn"].rsplit("/", 1)[-1]
    folder = tmp_path / ".mlinfra/emulator/pipelines" / PIPELINE / "executions" / execution_id
    log = (folder / "register/log.txt").read_text()
    assert f"version 1 ({version['ModelPackageArn']})" in log
    lineage = json.loads((folder / "lineage.json").read_text())
    assert lineage["steps"]["register"]["matched"]["version"] == 1


def test_new_data_registers_a_new_version(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    run(sagemaker)
    data = tmp_path / "data/points.csv"
    data.write_text(data.read_text() + "9.9,0.1,1\n")
    assert run(sagemaker)["PipelineExecutionStatus"] == "Succeeded"
    versions = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    assert len(versions["ModelPackageSummaryList"]) == 2
