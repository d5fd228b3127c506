"""`model approve|reject` on a SageMaker environment: boto3 with the user's credentials, the
caller from STS. moto has no lineage actions (CreateAction), so the SageMaker and STS clients
are real boto3 clients under botocore's Stubber, which checks every request against the
service model and answers as AWS would."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from mlinfra.engines import aws
from mlinfra.operations.approvals import DecisionRequest, decide
from mlinfra.operations.errors import OperationError
from mlinfra.operations.registry import Registry
from mlinfra.spec.validate import validate_file

sys.path.insert(0, str(Path(__file__).parents[1] / "emulator" / "pipelines"))
from pipeline_project import write_project  # noqa: E402

ACCOUNT = "111111111111"
GROUP = "tiny-dev-tiny"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/reviewer/alice"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def package(number: int, status: str) -> dict:
    return {
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/{number}",
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": number,
        "ModelApprovalStatus": status,
        "ModelPackageStatus": "Completed",
        "CreationTime": WHEN,
    }


def described(summary: dict) -> dict:
    """DescribeModelPackage's answer for a version whose evaluation report is in S3."""
    number = summary["ModelPackageVersion"]
    report = {"ContentType": "application/json", "S3Uri": f"s3://reports/{number}.json"}
    return {
        **summary,
        "ModelPackageName": GROUP,
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelMetrics": {"ModelQuality": {"Statistics": report}},
    }


def report(stub, number: int, auc: float) -> None:
    """S3 answers version `number`'s report, its `auc`."""
    body = json.dumps({"metrics": {"auc": {"value": auc}}}).encode()
    stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "reports", "Key": f"{number}.json", "Range": ANY},
    )


@pytest.fixture()
def stubbed(monkeypatch):
    sagemaker = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    sts = boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    made = {"sagemaker": sagemaker, "sts": sts, "s3": s3}
    monkeypatch.setattr(aws, "clients", lambda region, *names: tuple(made[n] for n in names))
    with Stubber(sagemaker) as sm, Stubber(sts) as st, Stubber(s3) as objects:
        yield sm, st, objects


def request(tmp_path: Path, decision: str, version: int | None, reason: str | None):
    spec = write_project(tmp_path, approval="manual")
    validation = validate_file(spec)
    return DecisionRequest(validation, str(spec), "dev", "tiny-model", version, decision, reason)


def test_rejecting_on_sagemaker_records_the_sts_caller_and_the_reason(tmp_path, stubbed):
    sm, st, objects = stubbed
    listing = {"ModelPackageGroupName": GROUP, "ModelPackageType": "Versioned",
               "SortBy": "CreationTime", "SortOrder": "Descending"}  # fmt: skip
    two = package(2, "PendingManualApproval")
    sm.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": [two, package(1, "Approved")]},
        listing,
    )
    sm.add_response(
        "describe_model_package", described(two), {"ModelPackageName": two["ModelPackageArn"]}
    )
    report(objects, 2, 0.93)
    one = package(1, "Approved")
    sm.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": [one]},
        {**listing, "ModelApprovalStatus": "Approved", "MaxResults": 1},
    )
    sm.add_response(
        "describe_model_package", described(one), {"ModelPackageName": one["ModelPackageArn"]}
    )
    report(objects, 1, 0.88)
    st.add_response(
        "get_caller_identity", {"Arn": CALLER, "Account": ACCOUNT, "UserId": "AROA:alice"}, {}
    )
    sm.add_response(
        "update_model_package",
        {"ModelPackageArn": two["ModelPackageArn"]},
        {
            "ModelPackageArn": two["ModelPackageArn"],
            "ModelApprovalStatus": "Rejected",
            "ApprovalDescription": f"Rejected by {CALLER}: worse on recent data",
        },
    )
    sm.add_response(
        "create_action",
        {"ActionArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:action/x"},
        {
            "ActionName": ANY,
            "ActionType": "ModelApproval",
            "Source": {"SourceUri": two["ModelPackageArn"], "SourceType": "ModelPackage"},
            "Status": "Completed",
            "Description": "worse on recent data",
            "Properties": {"Status": "Rejected", "By": CALLER, "Version": "2"},
        },
    )
    seen = []

    def confirm(review) -> bool:
        seen.append(review)
        return True

    done = decide(request(tmp_path, "reject", None, "worse on recent data"), confirm)
    assert done.by == CALLER and done.status == "Rejected"
    (review,) = seen
    assert review.candidate.number == 2 and review.serving.number == 1
    assert review.compared() == [("auc", 0.93, 0.88)]  # read from S3, read only
    sm.assert_no_pending_responses()


def test_an_account_without_the_version_is_told_which_it_has(tmp_path, stubbed):
    sm, _, _ = stubbed
    sm.add_response(
        "list_model_packages", {"ModelPackageSummaryList": [package(1, "Approved")]}, None
    )
    with pytest.raises(OperationError, match=r"has no version 4 \(it has: 1\)"):
        decide(request(tmp_path, "approve", 4, None), lambda review: True)


def test_no_credentials_says_how_to_give_them(tmp_path, monkeypatch):
    def none(region, *names):
        raise aws.NoCredentials("no AWS credentials found")

    monkeypatch.setattr(aws, "clients", none)
    with pytest.raises(OperationError, match="no AWS credentials") as raised:
        decide(request(tmp_path, "approve", 1, None), lambda review: True)
    assert "configure AWS credentials" in raised.value.suggestion


def test_a_report_s3_will_not_give_leaves_the_metrics_unknown(stubbed):
    _, _, objects = stubbed
    objects.add_client_error("get_object", "AccessDenied", "Access Denied")
    found = Registry("tiny-model", GROUP, None, False, "us-east-1")
    assert found.read_report("s3://reports/1.json") is None
    body = b"not json"
    objects.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))})
    assert found.read_report("s3://reports/1.json") is None
    assert found.read_report("file:evaluation.json") is None  # only S3 is read here
