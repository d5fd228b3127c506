"""`mlinfra lineage` of an endpoint on SageMaker: boto3 with the user's credentials, reading
only. moto has no lineage API (QueryLineage, ListContexts...), so the client is a real boto3
client under botocore's Stubber, which checks each request against the service model."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mlinfra.engines import aws
from mlinfra.operations.errors import OperationError
from mlinfra.operations.lineage import LineageRequest, lineage
from mlinfra.spec.validate import validate_file

sys.path.insert(0, str(Path(__file__).parents[1] / "emulator" / "pipelines"))
from pipeline_project import write_project  # noqa: E402

PREFIX = "arn:aws:sagemaker:us-east-1:111111111111"
ENDPOINT = f"{PREFIX}:endpoint/tiny-dev-api"
CONTEXT = f"{PREFIX}:context/tiny-dev-api-endpoint"
DEPLOY = f"{PREFIX}:action/tiny-dev-api-deployment"
PACKAGE = f"{PREFIX}:artifact/package"
JOB = f"{PREFIX}:experiment-trial-component/fit-aws-training-job"
TRAINING = f"{PREFIX}:training-job/fit"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
ENDPOINT_SPEC = """\
endpoints:
  api:
    model: tiny-model
    instance_type: ml.m5.large
"""


@pytest.fixture()
def stubbed(monkeypatch):
    sagemaker = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    monkeypatch.setattr(aws, "clients", lambda region, *names: (sagemaker, None))
    with Stubber(sagemaker) as stub:
        yield stub


def deployed(stub) -> None:
    """DescribeEndpoint answers that the spec's endpoint is in service."""
    described = {
        "EndpointName": "tiny-dev-api",
        "EndpointArn": ENDPOINT,
        "EndpointStatus": "InService",
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }
    stub.add_response("describe_endpoint", described, {"EndpointName": "tiny-dev-api"})


def request(tmp_path: Path, address: str) -> LineageRequest:
    spec = write_project(tmp_path)
    spec.write_text(spec.read_text() + ENDPOINT_SPEC)
    validation = validate_file(spec)
    assert validation.ok, validation.diagnostics
    return LineageRequest(validation, str(spec), "dev", address=address)


def test_an_endpoints_lineage_on_sagemaker_reads_what_sagemaker_recorded(tmp_path, stubbed):
    deployed(stubbed)
    stubbed.add_response(
        "list_contexts",
        {"ContextSummaries": [{"ContextArn": CONTEXT, "ContextName": "tiny-dev-api-endpoint"}]},
        {"SourceUri": ENDPOINT, "SortBy": "CreationTime"},
    )
    edges = [
        {"SourceArn": DEPLOY, "DestinationArn": CONTEXT, "AssociationType": "AssociatedWith"},
        {"SourceArn": PACKAGE, "DestinationArn": DEPLOY, "AssociationType": "ContributedTo"},
        {"SourceArn": JOB, "DestinationArn": PACKAGE, "AssociationType": "Produced"},
    ]
    stubbed.add_response(
        "query_lineage",
        {
            "Vertices": [
                {"Arn": a, "Type": "x", "LineageType": "Artifact"} for a in (DEPLOY, PACKAGE, JOB)
            ],
            "Edges": edges,
        },  # fmt: skip
        {"StartArns": [CONTEXT], "Direction": "Ascendants", "IncludeEdges": True, "MaxDepth": 10},
    )
    stubbed.add_response(
        "describe_context",
        {
            "ContextArn": CONTEXT,
            "ContextName": "tiny-dev-api-endpoint",
            "ContextType": "Endpoint",
            "Source": {"SourceUri": ENDPOINT},
        },  # fmt: skip
        {"ContextName": CONTEXT},
    )
    stubbed.add_response(
        "describe_action",
        {"ActionArn": DEPLOY, "ActionName": "deploy", "ActionType": "ModelDeployment"},
        {"ActionName": DEPLOY},
    )
    stubbed.add_response(
        "describe_artifact",
        {
            "ArtifactArn": PACKAGE,
            "ArtifactType": "ModelPackage",
            "Source": {"SourceUri": f"{PREFIX}:model-package/tiny-dev-tiny/3"},
        },  # fmt: skip
        {"ArtifactArn": PACKAGE},
    )
    stubbed.add_response(
        "describe_trial_component",
        {
            "TrialComponentName": "fit-aws-training-job",
            "TrialComponentArn": JOB,
            "Source": {"SourceArn": TRAINING, "SourceType": "SageMakerTrainingJob"},
            "Parameters": {"C": {"NumberValue": 0.5}, "kernel": {"StringValue": "rbf"}},
            "Metrics": [{"MetricName": "auc", "Last": 0.91}],
        },  # fmt: skip
        {"TrialComponentName": JOB},
    )
    found = lineage(request(tmp_path, "endpoint.api"))
    stubbed.assert_no_pending_responses()
    assert found.root == CONTEXT and found.entities[CONTEXT].type == "Endpoint"
    assert found.inputs_of(CONTEXT) == [DEPLOY] and found.inputs_of(DEPLOY) == [PACKAGE]
    job = found.entities[JOB]
    assert job.type == "TrainingJob" and job.parameters == {"C": "0.5", "kernel": "rbf"}
    assert job.metrics == {"auc": 0.91}


def test_an_endpoint_sagemaker_tracked_nothing_for_says_so(tmp_path, stubbed):
    deployed(stubbed)
    stubbed.add_response("list_contexts", {"ContextSummaries": []})
    with pytest.raises(OperationError, match="no lineage is recorded for endpoint tiny-dev-api"):
        lineage(request(tmp_path, "endpoint.api"))


def test_an_endpoint_not_deployed_is_a_clear_error(tmp_path, stubbed):
    stubbed.add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint tiny-dev-api."
    )
    with pytest.raises(OperationError, match="Could not find endpoint"):
        lineage(request(tmp_path, "endpoint.api"))
