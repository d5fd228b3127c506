"""Batch transform jobs through real boto3 against the emulator: the model really scores files."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError
from jobs_client import error_code, sagemaker, wait

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
ROWS = np.round(np.linspace(-2, 2, 30).reshape(15, 2), 3)


@pytest.fixture()
def project(tmp_path: Path, model_dir: Path) -> Path:
    inputs = tmp_path / "batch" / "in"
    (inputs / "part").mkdir(parents=True)
    lines = [f"{a},{b}\n" for a, b in ROWS]
    (inputs / "a.csv").write_text("".join(lines[:10]))
    (inputs / "part" / "b.csv").write_text("".join(lines[10:]))
    return tmp_path


@pytest.fixture()
def sm(server, project, model_dir):
    client = sagemaker(server)
    client.create_model(
        ModelName="scorer",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(model_dir)},
    )
    return client


def request(name: str, split: str = "Line", strategy: str = "MultiRecord", **extra) -> dict:
    return {
        "TransformJobName": name,
        "ModelName": "scorer",
        "BatchStrategy": strategy,
        "MaxPayloadInMB": 1,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:batch/in"}},
            "ContentType": "text/csv",
            "SplitType": split,
        },
        "TransformOutput": {
            "S3OutputPath": f"file:batch/out/{name}",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    }


def on_file(project: Path, name: str, file: str, line: str) -> dict:
    """The request of job `name` over one file of one line, in a folder of its own."""
    folder = project / "batch" / name
    folder.mkdir()
    (folder / file).write_text(line + "\n")
    job = request(name)
    job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = f"file:batch/{name}"
    return job


def describe(sm, name):
    return lambda: sm.describe_transform_job(TransformJobName=name)


def expected(model_dir: Path, rows: np.ndarray) -> np.ndarray:
    return joblib.load(model_dir / "model.joblib").predict_proba(rows)[:, 1]


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_a_transform_job_writes_one_out_file_per_input_file(sm, project, model_dir, strategy):
    arn = sm.create_transform_job(**request(strategy.lower(), strategy=strategy))
    assert arn["TransformJobArn"].endswith(f":transform-job/{strategy.lower()}")
    job = wait(describe(sm, strategy.lower()), "TransformJobStatus")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TransformEndTime"] >= job["TransformStartTime"]
    out = project / "batch" / "out" / strategy.lower()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "a.csv.out",
        "part",
        "part/b.csv.out",
    ]
    scores = [
        float(x) for f in ("a.csv.out", "part/b.csv.out") for x in (out / f).read_text().split()
    ]
    assert np.allclose(scores, expected(model_dir, ROWS))
    listed = sm.list_transform_jobs(StatusEquals="Completed")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in listed] == [strategy.lower()]


def test_a_whole_file_is_one_request_without_a_split_type(sm, project, model_dir):
    sm.create_transform_job(**request("whole", split="None"))
    job = wait(describe(sm, "whole"), "TransformJobStatus")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    text = (project / "batch" / "out" / "whole" / "a.csv.out").read_text()
    assert np.allclose([float(x) for x in text.split()], expected(model_dir, ROWS[:10]))


def test_what_the_emulator_cannot_do_is_refused_when_the_job_is_created(sm):
    for changes, says in (
        ({"TransformInput": {"SplitType": "RecordIO"}}, "SplitType RecordIO"),
        (
            {
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "file:batch/in"}
                    }
                }
            },
            "S3DataType ManifestFile",
        ),  # fmt: skip
        ({"ModelName": "nope"}, "Could not find model"),
        ({"TransformOutput": {"S3OutputPath": "file:///etc"}}, "TransformOutput.S3OutputPath"),
        ({"MaxConcurrentTransforms": 20, "MaxPayloadInMB": 6}, "cannot exceed 100 MB"),
    ):
        job = request("refused")
        for field, value in changes.items():
            job[field] = {**job[field], **value} if isinstance(value, dict) else value
        with pytest.raises(ClientError) as refused:
            sm.create_transform_job(**job)
        assert error_code(refused) == "ValidationException"
        assert says in str(refused.value)


def test_a_record_larger_than_the_payload_limit_fails_the_job(sm, project):
    sm.create_transform_job(**on_file(project, "too-big", "wide.csv", ",".join(["1.0"] * 400_000)))
    job = wait(describe(sm, "too-big"), "TransformJobStatus")
    assert job["TransformJobStatus"] == "Failed"
    assert "MaxPayloadInMB" in job["FailureReason"]
    assert not (project / "batch" / "out" / "too-big" / "wide.csv.out").exists()


def test_rows_the_model_cannot_read_fail_the_job_with_the_models_answer(sm, project):
    sm.create_transform_job(**on_file(project, "bad-rows", "rows.csv", "1,2,3"))
    job = wait(describe(sm, "bad-rows"), "TransformJobStatus")
    assert job["TransformJobStatus"] == "Failed"
    assert "rows.csv" in job["FailureReason"]
    with pytest.raises(ClientError) as stopped:
        sm.stop_transform_job(TransformJobName="bad-rows")
    assert error_code(stopped) == "ValidationException"
