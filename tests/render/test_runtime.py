"""The registry lookup rendered programs run (`mlinfra.render.runtime`), where moto answers
otherwise than SageMaker: AWS's answers are stubbed (botocore Stubber), shaped by botocore's
service model, which the Stubber checks."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from mlinfra.render.runtime import serving_version
from mlinfra.sagemaker import registry

GROUP = "churn-dev-churn"
# The Stubber holds the request the program's text writes out to the one every other
# chooser of the latest approved version sends.
LIST = registry.latest_approved(GROUP)


@pytest.fixture
def sagemaker():
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_a_group_not_created_yet_has_no_approved_version(sagemaker) -> None:
    client, stub = sagemaker
    stub.add_client_error(
        "list_model_packages",
        "ValidationException",
        f"ModelPackageGroup {GROUP} does not exist.",
        expected_params=LIST,
    )
    stub.add_client_error(
        "describe_endpoint",
        "ValidationException",
        'Could not find endpoint "churn-dev-churn-api".',
        expected_params={"EndpointName": "churn-dev-churn-api"},
    )
    found = serving_version(client, GROUP, ("churn-dev-churn-api",))
    assert (found["arn"], found["version"]) == (None, None)
    assert found["why"].startswith(
        f"model package group '{GROUP}' has no approved version (nor exists yet): register one"
    )


def test_an_endpoint_that_cannot_be_described_stops_the_run(sagemaker) -> None:
    client, stub = sagemaker
    stub.add_response("list_model_packages", {"ModelPackageSummaryList": []}, LIST)
    stub.add_client_error(
        "describe_endpoint", "AccessDeniedException", "not authorized: sagemaker:DescribeEndpoint"
    )
    with pytest.raises(RuntimeError, match="cannot tell what endpoint churn-dev-churn-api serves"):
        serving_version(client, GROUP, ("churn-dev-churn-api",))
