"""Training jobs started as an SDK user starts them, through real boto3 against the emulator."""

from __future__ import annotations

import tarfile
import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from jobs_client import error_code, sagemaker, wait

from mlinfra.emulator.control import ControlPlane

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

TRAIN = """
import argparse, os, sys, time
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("--C", type=float)
parser.add_argument("--sleep", type=float, default=0)
parser.add_argument("--fail", default="no")
args, _ = parser.parse_known_args()
time.sleep(args.sleep)
if args.fail == "yes":
    print("the data is bad", file=sys.stderr)
    sys.exit(3)
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
model = LogisticRegression(C=args.C).fit(data[:, 1:], data[:, 0])
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print(f"train-accuracy={model.score(data[:, 1:], data[:, 0]):.4f}")
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(textwrap.dedent(TRAIN))
    (tmp_path / "data").mkdir()
    rows = [f"{int(x > 0)},{x:.3f},{-x / 2:.3f}" for x in [i / 10 - 2 for i in range(40)]]
    (tmp_path / "data" / "train.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def request(name: str, **hyperparameters: str) -> dict:
    """What the SageMaker Python SDK's estimators send (script mode)."""
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": r"train-accuracy=([0-9.]+)"}],
        },
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"file:code"',
            "C": "0.5",
            **hyperparameters,
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:data/train.csv"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "file:artifacts"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def describe(sm, name):
    return lambda: sm.describe_training_job(TrainingJobName=name)


def test_a_training_job_runs_the_script_and_packs_its_model_where_sagemaker_does(server, project):
    sm = sagemaker(server)
    arn = sm.create_training_job(**request("churn-train-1"))["TrainingJobArn"]
    assert arn.endswith(":training-job/churn-train-1")
    job = wait(describe(sm, "churn-train-1"), "TrainingJobStatus")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    archive = project / "artifacts" / "churn-train-1" / "output" / "model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == str(archive)
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["model.joblib"]
    (metric,) = job["FinalMetricDataList"]
    assert metric["MetricName"] == "accuracy" and metric["Value"] > 0.9
    assert job["TrainingEndTime"] >= job["TrainingStartTime"]
    assert job["HyperParameters"]["C"] == "0.5"

    listed = sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == ["churn-train-1"]
    assert sm.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"] == []
    with pytest.raises(ClientError) as again:
        sm.create_training_job(**request("churn-train-1"))
    assert error_code(again) == "ResourceInUse"
    with pytest.raises(ClientError) as done:
        sm.stop_training_job(TrainingJobName="churn-train-1")
    assert error_code(done) == "ValidationException"


def test_a_failing_script_fails_the_job_with_its_log_tail(server, project):
    sm = sagemaker(server)
    sm.create_training_job(**request("bad-data", fail="yes"))
    job = wait(describe(sm, "bad-data"), "TrainingJobStatus")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert "exited with code 3" in job["FailureReason"]
    assert "the data is bad" in job["FailureReason"]


def test_stopping_a_running_job_stops_its_process(server, project):
    sm = sagemaker(server)
    sm.create_training_job(**request("long", sleep="60"))
    wait(describe(sm, "long"), "SecondaryStatus", until=("Training",), timeout=30)
    sm.stop_training_job(TrainingJobName="long")
    job = wait(describe(sm, "long"), "TrainingJobStatus", timeout=30)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"
    assert not (project / "artifacts" / "long").exists()


def test_locations_outside_the_project_are_refused_when_the_job_is_created(server, project):
    sm = sagemaker(server)
    outside = request("outside")
    outside["OutputDataConfig"]["S3OutputPath"] = "file:../../elsewhere"
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**outside)
    assert error_code(refused) == "ValidationException"
    assert "OutputDataConfig.S3OutputPath" in str(refused.value)
    with pytest.raises(ClientError) as missing:
        sm.describe_training_job(TrainingJobName="outside")
    assert error_code(missing) == "ValidationException"


def test_a_program_outside_its_code_or_an_s3_location_fails_the_job_saying_why(server, project):
    sm = sagemaker(server)
    escape = request("escape")
    escape["HyperParameters"]["sagemaker_program"] = '"../../../etc/passwd"'
    sm.create_training_job(**escape)
    s3 = request("on-s3")
    s3["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://bucket/train/"
    sm.create_training_job(**s3)
    for name, reason in (("escape", "sagemaker_program"), ("on-s3", "not reachable")):
        job = wait(describe(sm, name), "TrainingJobStatus")
        assert job["TrainingJobStatus"] == "Failed"
        assert reason in job["FailureReason"]


def test_a_job_the_emulator_stopped_during_says_failed_after_a_restart(tmp_path):
    state = tmp_path / ".mlinfra" / "emulator"
    control = ControlPlane(tmp_path, state)
    for kind, noun in (("training-job", "TrainingJob"), ("transform-job", "TransformJob")):
        record = {
            f"{noun}Name": "cut-short",
            f"{noun}Arn": f"arn:{kind}/cut-short",
            f"{noun}Status": "InProgress",
            "CreationTime": 1.0,
            "LastModifiedTime": 1.0,
        }
        control.store.put(kind, "cut-short", record, 1.0)  # fmt: skip
    control.close()
    restarted = ControlPlane(tmp_path, state)
    try:
        for operation, noun in (("DescribeTrainingJob", "TrainingJob"),
                                ("DescribeTransformJob", "TransformJob")):  # fmt: skip
            found = restarted.call(operation, {f"{noun}Name": "cut-short"}, "us-east-1")
            assert found[f"{noun}Status"] == "Failed"
            assert "stopped while this job ran" in found["FailureReason"]
    finally:
        restarted.close()
