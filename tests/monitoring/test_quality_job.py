"""The model-quality monitor job as SageMaker runs it (`monitor-job.pyz quality ...`), against
S3 and SageMaker in every state of the account: an empty one (no endpoint), an endpoint serving
an artifact, approved and rejected versions, no previous version.

moto stands in for AWS (it cannot be reached from the build machines): a server on loopback
that the job's boto3 reaches through AWS_ENDPOINT_URL. The registry's answers (which version
is the latest approved after a rejection) are moto's, as the rendered program would ask them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from capture_events import ground_truth_label, prediction_event

from mlinfra.monitoring.bundle import ARCHIVE_NAME, job_archive
from mlinfra.monitoring.quality_job import main

HERE = Path(__file__).parent
GUARD = HERE / "guarded_job.py"
ENDPOINT = "hello-dev-api"
MONITOR = "hello-dev-quality"
GROUP = "hello-dev-hello"
CAPTURE_BUCKET = "hello-dev-capture"
MONITORING_BUCKET = "hello-dev-monitoring"
LABELS_BUCKET = "labels"
CAPTURE = f"s3://{CAPTURE_BUCKET}/{ENDPOINT}/{ENDPOINT}/"
GROUND_TRUTH = f"s3://{LABELS_BUCKET}/churn/ground-truth"
REPORTS = f"s3://{MONITORING_BUCKET}/monitors/quality/reports/"
STARTED = "2026-01-01T12:20:07.512Z"
ROLE = "arn:aws:iam::123456789012:role/model"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _put_traffic(s3, right: int, total: int = 100) -> None:
    """`total` predictions of 1 from 11:21 to 12:00 (the window is the hour before 12:20),
    labelled 1 for the first `right` of them and 0 for the rest; and one prediction before
    the window, which must not count."""
    for bucket in (CAPTURE_BUCKET, MONITORING_BUCKET, LABELS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    start = datetime(2026, 1, 1, 11, 21, tzinfo=UTC)
    captured: dict[str, list[str]] = {}
    labels = []
    for i in range(total):
        moment = start + timedelta(seconds=23 * i)
        key = f"AllTraffic/{moment:%Y/%m/%d/%H}/capture.jsonl"
        captured.setdefault(key, []).append(prediction_event(f"e{i}", "1", moment, f"r{i}"))
        labels.append(ground_truth_label(f"r{i}", "1" if i < right else "0"))
    early = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    captured.setdefault("AllTraffic/2026/01/01/10/capture.jsonl", []).append(
        prediction_event("early", "1", early)
    )
    labels.append(ground_truth_label("early", "0"))
    prefix = CAPTURE.removeprefix(f"s3://{CAPTURE_BUCKET}/")
    for key, lines in captured.items():
        s3.put_object(Bucket=CAPTURE_BUCKET, Key=prefix + key, Body="\n".join(lines).encode())
    # Labels arrive after their predictions, filed by the hour they arrived.
    s3.put_object(
        Bucket=LABELS_BUCKET,
        Key="churn/ground-truth/2026/01/01/12/labels.jsonl",
        Body="\n".join(labels).encode(),
    )


def _versions(sagemaker, statuses: list[str], accuracy: str = "0.9") -> list[str]:
    """Versions 1..n of the group with these approval statuses; their ARNs."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    spec = {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    arns = []
    for status in statuses:
        created = sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=spec,
            ModelApprovalStatus=status,
            CustomerMetadataProperties={"accuracy": accuracy},
        )
        arns.append(created["ModelPackageArn"])
    return arns


def _serve(sagemaker, container: dict) -> None:
    """The endpoint as the rendered program makes it: a model, a configuration, the endpoint."""
    model = "hello-dev-m-0123456789-v2"
    sagemaker.create_model(ModelName=model, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    variant = {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
               "InstanceType": "ml.m5.large"}  # fmt: skip
    sagemaker.create_endpoint_config(
        EndpointConfigName="hello-dev-api-c", ProductionVariants=[variant]
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="hello-dev-api-c")


def _arguments(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--capture", CAPTURE,
        "--ground-truth", GROUND_TRUTH,
        "--reports", REPORTS,
        "--until", STARTED,
        "--problem-type", "binary_classification",
        "--metric", "accuracy",
        "--window-seconds", "3600",
        "--alert", "0.97",
        "--rollback", "0.95",
        "--monitor", MONITOR,
        "--endpoint", ENDPOINT,
        "--execution", "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x",
        "--metrics-file", str(tmp_path / "metrics.json"),
        *extra,
    ]  # fmt: skip


def _report(s3, name: str) -> dict:
    prefix = REPORTS.removeprefix(f"s3://{MONITORING_BUCKET}/")
    key = f"{prefix}20260101T122007Z/{name}"
    return json.loads(s3.get_object(Bucket=MONITORING_BUCKET, Key=key)["Body"].read())


def _metrics(tmp_path: Path) -> dict[str, float]:
    return {
        d["MetricName"]: d["Value"] for d in json.loads((tmp_path / "metrics.json").read_text())
    }


def _status(sagemaker, arn: str) -> tuple[str, str | None]:
    found = sagemaker.describe_model_package(ModelPackageName=arn)
    return found["ModelApprovalStatus"], found.get("ApprovalDescription")


def test_below_the_rollback_line_the_serving_version_is_rejected_and_the_previous_serves_next(
    tmp_path, aws, capsys
):
    _put_traffic(aws["s3"], right=90)
    first, second = _versions(aws["sagemaker"], ["Approved", "Approved"])
    _serve(aws["sagemaker"], {"ModelPackageName": second})

    assert main(_arguments(tmp_path)) == 0

    status, reason = _status(aws["sagemaker"], second)
    assert status == "Rejected"
    assert reason.startswith(f"Rejected by monitor {MONITOR} (execution arn:aws:sagemaker:")
    assert "accuracy 0.9 over 100 labelled predictions is below the rollback line 0.95" in reason
    assert _status(aws["sagemaker"], first) == ("Approved", None)
    quality = _report(aws["s3"], "quality.json")
    assert quality["value"] == pytest.approx(0.9)
    assert quality["labelled"] == 100  # the prediction before the window does not count
    assert quality["model_package"] == second
    assert quality["rollback_result"]["serves_next"] == first
    assert "the previous approved version 1 serves after the next mlinfra apply" in (
        capsys.readouterr().out
    )
    violations = _report(aws["s3"], "constraint_violations.json")["violations"]
    assert [v["description"].split(" line ")[0] for v in violations] == [
        "accuracy 0.9 is below the alert",
        "accuracy 0.9 is below the rollback",
    ]
    assert _metrics(tmp_path) == {
        "violations": 2, "labelled_predictions": 100, "rolled_back": 1, "quality": 0.9
    }  # fmt: skip


def test_a_rejected_version_between_is_skipped_and_the_older_approved_one_serves_next(
    tmp_path, aws
):
    _put_traffic(aws["s3"], right=80)
    first, middle, serving = _versions(aws["sagemaker"], ["Approved", "Rejected", "Approved"])
    _serve(aws["sagemaker"], {"ModelPackageName": serving})

    assert main(_arguments(tmp_path)) == 0

    result = _report(aws["s3"], "quality.json")["rollback_result"]
    assert result["rolled_back"] is True
    assert result["serves_next"] == first
    assert _status(aws["sagemaker"], middle)[0] == "Rejected"


def test_with_no_previous_version_the_version_is_rejected_and_the_report_says_it_keeps_serving(
    tmp_path, aws
):
    _put_traffic(aws["s3"], right=50)
    (only,) = _versions(aws["sagemaker"], ["Approved"])
    _serve(aws["sagemaker"], {"ModelPackageName": only})

    assert main(_arguments(tmp_path)) == 0

    assert _status(aws["sagemaker"], only)[0] == "Rejected"
    result = _report(aws["s3"], "quality.json")["rollback_result"]
    assert result["serves_next"] is None
    assert "no other approved version" in result["message"]


def test_a_version_already_rejected_is_not_rejected_again(tmp_path, aws):
    _put_traffic(aws["s3"], right=50)
    first, serving = _versions(aws["sagemaker"], ["Approved", "Approved"])
    aws["sagemaker"].update_model_package(
        ModelPackageArn=serving, ModelApprovalStatus="Rejected", ApprovalDescription="earlier run"
    )
    _serve(aws["sagemaker"], {"ModelPackageName": serving})

    assert main(_arguments(tmp_path)) == 0

    assert _status(aws["sagemaker"], serving) == ("Rejected", "earlier run")
    result = _report(aws["s3"], "quality.json")["rollback_result"]
    assert result["rolled_back"] is False
    assert "already rejected" in result["message"]
    assert _metrics(tmp_path)["rolled_back"] == 0


def test_above_both_lines_nothing_is_violated_or_rolled_back(tmp_path, aws):
    _put_traffic(aws["s3"], right=99)
    (serving,) = _versions(aws["sagemaker"], ["Approved"])
    _serve(aws["sagemaker"], {"ModelPackageName": serving})

    assert main(_arguments(tmp_path)) == 0

    assert _status(aws["sagemaker"], serving)[0] == "Approved"
    quality = _report(aws["s3"], "quality.json")
    assert "rollback_result" not in quality
    assert quality["alert"] == {"threshold": 0.97, "crossed": False}
    assert _report(aws["s3"], "constraint_violations.json") == {"violations": []}
    assert _metrics(tmp_path)["violations"] == 0


def test_in_an_empty_account_the_metric_is_judged_and_nothing_is_rolled_back(tmp_path, aws):
    """No endpoint, no registry: absolute lines still judge the labelled traffic."""
    _put_traffic(aws["s3"], right=50)

    assert main(_arguments(tmp_path)) == 0

    quality = _report(aws["s3"], "quality.json")
    assert quality["value"] == pytest.approx(0.5)
    assert "model_package" not in quality
    result = quality["rollback_result"]
    assert result["rolled_back"] is False
    assert f"endpoint {ENDPOINT} serves no registry version" in result["message"]


def test_an_endpoint_serving_an_artifact_is_never_rolled_back(tmp_path, aws):
    _put_traffic(aws["s3"], right=50)
    _serve(aws["sagemaker"], {"Image": IMAGE, "ModelDataUrl": "s3://artifacts/model.tar.gz"})

    assert main(_arguments(tmp_path)) == 0

    assert _report(aws["s3"], "quality.json")["rollback_result"]["rolled_back"] is False


def test_a_relative_line_without_the_registered_metric_judges_nothing(tmp_path, aws):
    """97% of an unknown metric is no line: the run says so rather than guessing one."""
    _put_traffic(aws["s3"], right=50)

    arguments = _arguments(tmp_path)
    arguments[arguments.index("--alert") + 1] = "97%"
    arguments[arguments.index("--rollback") + 1] = "95%"
    assert main(arguments) == 0

    quality = _report(aws["s3"], "quality.json")
    assert quality["alert"] == {"threshold": None, "crossed": False}
    assert "rollback_result" not in quality


def test_no_labels_in_the_window_is_a_run_with_no_value_not_a_failure(tmp_path, aws):
    for bucket in (CAPTURE_BUCKET, MONITORING_BUCKET, LABELS_BUCKET):
        aws["s3"].create_bucket(Bucket=bucket)

    assert main(_arguments(tmp_path)) == 0

    quality = _report(aws["s3"], "quality.json")
    assert (quality["value"], quality["labelled"]) == (None, 0)
    assert _metrics(tmp_path) == {"violations": 0, "labelled_predictions": 0, "rolled_back": 0}


def test_an_unreadable_location_fails_in_one_line(tmp_path, aws, capsys):
    """No bucket at all: S3's answer, in one line, exit 1."""
    assert main(_arguments(tmp_path)) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("quality: cannot ") and "NoSuchBucket" in error
    assert "\n" not in error


def test_the_archive_runs_a_quality_monitor_with_nothing_of_mlinfra_installed(tmp_path, aws):
    """The archive, as the scikit-learn image runs it, rejects the version through moto."""
    _put_traffic(aws["s3"], right=90)
    first, second = _versions(aws["sagemaker"], ["Approved", "Approved"])
    _serve(aws["sagemaker"], {"ModelPackageName": second})
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(job_archive())

    done = subprocess.run(
        [sys.executable, "-I", str(GUARD), str(archive), "quality", *_arguments(tmp_path)],
        env={"PATH": os.environ.get("PATH", ""), **aws["environment"]},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("quality: accuracy 0.9 over 100 labelled predictions")
    assert _status(aws["sagemaker"], second)[0] == "Rejected"
