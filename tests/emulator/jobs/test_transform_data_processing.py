"""A transform job's DataProcessing through real boto3 against the emulator: the model is sent
only the columns the input filter keeps, each answer is joined to its record, and the output
filter keeps the columns asked for (CSV records, as SageMaker's JSONPath indexes and slices)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError
from jobs_client import error_code, sagemaker, wait

from mlinfra.emulator.containers import JobFailure
from mlinfra.emulator.services.jobs.filters import FilterError, selector

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
ROWS = np.round(np.linspace(-2, 2, 24).reshape(12, 2), 3)
IDS = [f"C{i:03d}" for i in range(len(ROWS))]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    # An id column, the model's two features, then a label the model must not see.
    lines = [f"{i},{a},{b},{n % 2}\n" for n, (i, (a, b)) in enumerate(zip(IDS, ROWS, strict=True))]
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "customers.csv").write_text("".join(lines))
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


def request(name: str, processing: dict, **changes) -> dict:
    job = {
        "TransformJobName": name,
        "ModelName": "scorer",
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 1,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:rows"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"file:out/{name}",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": processing,
    }
    for field, value in changes.items():
        job[field] = {**job[field], **value}
    return job


def scores(model_dir: Path) -> np.ndarray:
    return joblib.load(model_dir / "model.joblib").predict_proba(ROWS)[:, 1]


def run(sm, job: dict) -> dict:
    sm.create_transform_job(**job)
    name = job["TransformJobName"]
    return wait(lambda: sm.describe_transform_job(TransformJobName=name), "TransformJobStatus")


def test_the_model_sees_the_filtered_columns_and_each_answer_joins_its_record(
    sm, project, model_dir
):
    processing = {"InputFilter": "$[1:3]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    job = run(sm, request("joined", processing))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = (project / "out" / "joined" / "customers.csv.out").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == IDS
    assert np.allclose([float(line.split(",")[1]) for line in lines], scores(model_dir), atol=1e-6)


def test_without_an_output_filter_the_whole_record_comes_back_with_its_answer(sm, project):
    processing = {"InputFilter": "$[1,2]", "JoinSource": "Input"}
    job = run(sm, request("whole", processing))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    written = (project / "out" / "whole" / "customers.csv.out").read_text().splitlines()
    given = (project / "rows" / "customers.csv").read_text().splitlines()
    assert [line.rsplit(",", 1)[0] for line in written] == given
    assert all(len(line.split(",")) == 5 for line in written)


def test_one_record_per_request_joins_the_same_way(sm, project, model_dir):
    processing = {"InputFilter": "$[1:-1]", "JoinSource": "Input", "OutputFilter": "$[0,4]"}
    job = request("single", processing)
    job["BatchStrategy"] = "SingleRecord"
    found = run(sm, job)
    assert found["TransformJobStatus"] == "Completed", found.get("FailureReason")
    lines = (project / "out" / "single" / "customers.csv.out").read_text().splitlines()
    assert np.allclose([float(line.split(",")[1]) for line in lines], scores(model_dir), atol=1e-6)


def test_a_filter_past_the_records_columns_fails_the_job(sm):
    job = run(sm, request("past", {"InputFilter": "$[1,9]"}))
    assert job["TransformJobStatus"] == "Failed"
    assert "no column 9" in job["FailureReason"]


@pytest.mark.parametrize(
    ("processing", "changes", "says"),
    [
        ({"InputFilter": "$.features"}, {}, "column indexes and slices only"),
        ({"InputFilter": "$[a]"}, {}, "is not a column index or slice"),
        (
            {"JoinSource": "Input"},
            {"TransformInput": {"ContentType": "application/json"}},
            "CSV records only",
        ),
        ({"InputFilter": "$[1:3]"}, {"TransformInput": {"SplitType": "None"}}, "SplitType Line"),
    ],
)
def test_what_the_emulator_cannot_filter_is_refused_when_the_job_is_created(
    sm, processing, changes, says
):
    with pytest.raises(ClientError) as refused:
        sm.create_transform_job(**request("refused", processing, **changes))
    assert error_code(refused) == "ValidationException"
    assert says in str(refused.value)


def test_a_selector_keeps_indexes_and_slices_in_the_order_written():
    fields = ["a", "b", "c", "d", "e"]
    assert selector("$") is None and selector(None) is None
    assert selector("$[0,-1]")(fields) == ["a", "e"]
    assert selector("$[1:3]")(fields) == ["b", "c"]
    assert selector("$[3:, 0]")(fields) == ["d", "e", "a"]
    assert selector("$[:-3]")(fields) == ["a", "b"]
    with pytest.raises(JobFailure):
        selector("$[5]")(fields)
    for bad in ("$[]", "$[1:2:3]", "$['a']", "[1]", "$[1"):
        with pytest.raises(FilterError):
            selector(bad)
