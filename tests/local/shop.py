"""The small project the local-target tests deploy (a helper module, not tests): a feature
store, a model with a registry group, and an endpoint with data capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.emulator.access import Access
from mlinfra.ir.graph import ResourceGraph
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

ARTIFACT = "artifact: models/a/model.joblib"
LATEST_APPROVED = "version: latest-approved"
ENDPOINT = "shop-local-scorer-api"


def shop_spec(model: str = ARTIFACT, instance_type: str = "ml.m5.large") -> str:
    """The spec; `model` says where the model comes from (an artifact or the registry)."""
    return f"""\
version: 1
project: shop
defaults:
  tags: {{team: growth}}
environments:
  local:
    target: local
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features: {{customer_id: string, event_time: string, spend: fractional}}
    online: {{enabled: true, ttl: 30d}}
models:
  scorer:
    registry_group: scorers
    framework: sklearn
    framework_version: "1.2-1"
    {model}
endpoints:
  scorer-api:
    model: scorer
    instance_type: {instance_type}
    data_capture: {{sampling_percent: 100}}
"""


def mlinfra(*args: str) -> tuple[int, str]:
    """Run the CLI in this process: its exit code and output."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def graph_of(project: Path, text: str) -> ResourceGraph:
    """Write `text` as the project's spec, validate it and lower its local environment."""
    spec_file = project / "mlinfra.yaml"
    spec_file.write_text(text)
    result = validate_file(spec_file)
    assert result.ok, [d.summary for d in result.diagnostics]
    return lower(result.environments["local"], project)


def client(emulator: Any, service: str = "sagemaker"):
    """A boto3 client of a running emulator: an `EmulatorServer`, or an `Access` to one."""
    return Access.for_server(emulator).client(service)


def predict(emulator: Any, body: bytes) -> list[int]:
    """The classes the endpoint predicts for CSV rows (it answers probabilities)."""
    answer = client(emulator, "sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="text/csv", Body=body
    )
    return [round(float(p)) for p in answer["Body"].read().decode().split()]


def register_version(emulator: Any, artifact: str) -> str:
    """Register `artifact` in the scorers group and approve it; the version's ARN."""
    sagemaker = client(emulator)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="shop-local-scorers",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": artifact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return arn
