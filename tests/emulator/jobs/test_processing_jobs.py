"""Processing jobs started as an SDK user starts them, through real boto3 against the emulator."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from jobs_client import error_code, sagemaker, wait

ROLE = "arn:aws:iam::123456789012:role/sagemaker"

# Paths come as arguments, as the SDK's `arguments=[...]` pass them: the emulator maps every
# `/opt/ml/processing/...` argument and environment value onto the job's folder.
SCRIPT = """
import os, sys, time
source, output, scale = sys.argv[1:]
rows = [line for line in open(os.path.join(source, "rows.csv")) if line.strip()]
time.sleep(float(os.environ.get("SLEEP", "0")))
with open(os.path.join(output, "summary.txt"), "w") as out:
    out.write(f"{len(rows)} rows, scale {scale}\\n")
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "summarise.py").write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("1,2\n3,4\n5,6\n")
    return tmp_path


def request(name: str, **environment: str) -> dict:
    """What the SDK's ScriptProcessor sends: code and data as inputs, one output."""
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        "AppSpecification": {
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/summarise.py"],
            "ContainerArguments": [
                "/opt/ml/processing/input/data",
                "/opt/ml/processing/output",
                "2",
            ],
        },
        "Environment": environment,
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": "file:code/summarise.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": "file:data",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "summary",
                    "S3Output": {
                        "S3Uri": "file:reports/summary",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def describe(sm, name):
    return lambda: sm.describe_processing_job(ProcessingJobName=name)


def test_a_processing_job_stages_its_inputs_runs_and_uploads_its_outputs(server, project):
    sm = sagemaker(server)
    arn = sm.create_processing_job(**request("summarise-1"))["ProcessingJobArn"]
    assert arn.endswith(":processing-job/summarise-1")
    job = wait(describe(sm, "summarise-1"), "ProcessingJobStatus")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert (project / "reports" / "summary" / "summary.txt").read_text() == "3 rows, scale 2\n"
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    assert job["ProcessingInputs"][1]["S3Input"]["S3Uri"] == "file:data"
    listed = sm.list_processing_jobs(NameContains="summarise")["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in listed] == [
        ("summarise-1", "Completed")
    ]
    with pytest.raises(ClientError) as again:
        sm.create_processing_job(**request("summarise-1"))
    assert error_code(again) == "ResourceInUse"


def test_a_stopped_processing_job_says_stopped_and_publishes_nothing(server, project):
    sm = sagemaker(server)
    sm.create_processing_job(**request("slow", SLEEP="60"))
    wait(describe(sm, "slow"), "ProcessingJobStatus", until=("InProgress",))
    sm.stop_processing_job(ProcessingJobName="slow")
    job = wait(describe(sm, "slow"), "ProcessingJobStatus", timeout=30)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert not (project / "reports").exists()


def test_hostile_locations_are_refused_or_fail_the_job_saying_why(server, project):
    sm = sagemaker(server)
    outside = request("outside")
    outside["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = "/etc"
    with pytest.raises(ClientError) as refused:
        sm.create_processing_job(**outside)
    assert error_code(refused) == "ValidationException"
    assert "ProcessingOutputConfig.Outputs[1].S3Uri" in str(refused.value)
    escape = request("escape")
    escape["ProcessingInputs"][1]["S3Input"]["LocalPath"] = "/opt/ml/processing/../../../tmp"
    sm.create_processing_job(**escape)
    job = wait(describe(sm, "escape"), "ProcessingJobStatus")
    assert job["ProcessingJobStatus"] == "Failed"
    assert "outside /opt/ml/processing" in job["FailureReason"]


def test_an_unknown_processing_job_is_not_found(server):
    sm = sagemaker(server)
    with pytest.raises(ClientError) as missing:
        sm.describe_processing_job(ProcessingJobName="nope")
    assert error_code(missing) == "ResourceNotFound"
    with pytest.raises(ClientError) as stop:
        sm.stop_processing_job(ProcessingJobName="nope")
    assert error_code(stop) == "ValidationException"
