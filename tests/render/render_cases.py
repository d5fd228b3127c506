"""Graphs the render tests share (a helper module, not tests): a hand-made one that uses
every IR marker, and the churn example's environments lowered by the real compiler."""

from __future__ import annotations

import functools
from pathlib import Path

from mlinfra.diagnostics import Position, SourceRange
from mlinfra.ir.graph import (
    Args,
    Call,
    Concat,
    FileAsset,
    Json,
    Ref,
    Resource,
    ResourceGraph,
    build_graph,
    freeze,
)

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "examples" / "churn" / "mlinfra.yaml"
# Where `make stacks` writes the churn projects, and so where their paths are relative to.
STACKS = ROOT / "stacks" / "churn"


class Account:
    """The one thing `render_project` reads from an EnvSpec besides the graph."""

    def __init__(self, account: str | None) -> None:
        self.account = account


def _at(line: int) -> SourceRange:
    return SourceRange("specs/mlinfra.yaml", Position(line, 3), Position(line, 12))


def handmade_graph() -> ResourceGraph:
    """A small graph with every kind of value: literals, Ref, Args, Call, Concat (with and
    without Refs), Json (constant and with Refs), FileAsset, depends_on, replace_on_change,
    protect,
    and text that would be code if it were spliced in."""
    tags = {"team": "growth", "mlinfra:project": "demo", "note": 'it\'s "quoted"\n# {{ x }}'}

    def resource(address, type_, properties, line, **kw) -> Resource:
        return Resource(address, type_, freeze(properties), _at(line) if line else None, **kw)

    resources = [
        resource(
            "bucket.artifacts",
            "aws.s3.Bucket",
            {"bucket": "demo-dev-artifacts", "force_destroy": False, "tags": tags},
            10,
            protect=True,
        ),
        resource(
            "model.scorer/role",
            "aws.iam.Role",
            {
                "name": "demo-dev-model-scorer",
                "assume_role_policy": Json(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "sagemaker.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                "tags": tags,
            },
            20,
        ),
        resource(
            "model.scorer/role-policy",
            "aws.iam.RolePolicy",
            {
                "role": Ref("model.scorer/role", "id"),
                "policy": Json(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetObject"],
                                "Resource": [
                                    Concat((Ref("bucket.artifacts", "arn"), "/*")),
                                    Concat(("arn:aws:s3:::shared-", Call("account_id", ()))),
                                ],
                            }
                        ],
                    }
                ),
            },
            20,
        ),
        resource(
            "model.scorer/artifact",
            "aws.s3.BucketObjectv2",
            {
                "bucket": Ref("bucket.artifacts", "id"),
                "key": "models/scorer/model.tar.gz",
                "source": FileAsset("model/model.tar.gz", "0" * 64),
            },
            21,
        ),
        resource(
            "model.scorer",
            "aws.sagemaker.Model",
            {
                "name": Concat(("demo-dev-scorer-v", Call("latest_approved_version", ("demo",)))),
                "execution_role_arn": Ref("model.scorer/role", "arn"),
                "primary_container": Args(
                    "aws.sagemaker.ModelPrimaryContainerArgs",
                    {
                        "model_package_name": Call("latest_approved_model_package", ("demo",)),
                        "environment": {"GREETING": "'''\"\"\"\\n\x00é", "EMPTY": ""},
                    },
                ),
                "enable_network_isolation": True,
                "tags": tags,
            },
            20,
            depends_on=("model.scorer/role-policy",),
        ),
        resource(
            "model.pinned",
            "aws.sagemaker.Model",
            {
                "name": "demo-dev-pinned",
                "execution_role_arn": Ref("model.scorer/role", "arn"),
                "primary_container": Args(
                    "aws.sagemaker.ModelPrimaryContainerArgs",
                    {"model_package_name": Call("model_package_arn", ("demo", 2))},
                ),
                "tags": tags,
            },
            30,
        ),
        resource(
            "endpoint.api/config",
            "aws.sagemaker.EndpointConfiguration",
            {
                "name": "demo-dev-api-0123abcd",
                "production_variants": [
                    Args(
                        "aws.sagemaker.EndpointConfigurationProductionVariantArgs",
                        {
                            "variant_name": "primary",
                            "model_name": Ref("model.scorer", "name"),
                            "initial_instance_count": 1,
                            "instance_type": "ml.m5.large",
                            "initial_variant_weight": 1.0,
                        },
                    )
                ],
                "data_capture_config": Args(
                    "aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs",
                    {
                        "initial_sampling_percentage": 20,
                        "destination_s3_uri": Concat(
                            ("s3://", Ref("bucket.artifacts", "bucket"), "/capture/", "api")
                        ),
                        "capture_options": [
                            Args(
                                "aws.sagemaker."
                                "EndpointConfigurationDataCaptureConfigCaptureOptionArgs",
                                {"capture_mode": mode},
                            )
                            for mode in ("Input", "Output")
                        ],
                    },
                ),
                "tags": tags,
            },
            40,
            replace_on_change=True,
        ),
        resource(
            "endpoint.api",
            "aws.sagemaker.Endpoint",
            {
                "name": "demo-dev-api",
                "endpoint_config_name": Ref("endpoint.api/config", "name"),
                "tags": tags,
            },
            40,
        ),
        resource(
            "endpoint.api/alarm",
            "aws.cloudwatch.MetricAlarm",
            {
                "name": Concat(("demo-dev-api", "-latency")),
                "comparison_operator": "GreaterThanThreshold",
                "evaluation_periods": 1,
                "metric_name": "ModelLatency",
                "namespace": "AWS/SageMaker",
                "period": 60,
                "statistic": "Maximum",
                "threshold": 250000.0,
                "dimensions": {"EndpointName": "demo-dev-api", "VariantName": "primary"},
                "alarm_actions": [],
                "alarm_description": None,
            },
            None,
        ),
    ]
    return build_graph(
        "demo",
        "dev",
        "sagemaker",
        "us-east-1",
        resources,
        {
            "endpoint.api": "demo-dev-api",
            "model.scorer": Concat(
                ("demo-dev-scorer-v", Call("latest_approved_version", ("demo",)))
            ),
        },
    )


@functools.cache
def churn(env: str) -> tuple[ResourceGraph, object]:
    """The churn example's graph and EnvSpec for `env`, from the real validator and lowering."""
    from mlinfra.ir.lower import lower
    from mlinfra.spec.validate import validate_file

    result = validate_file(CHURN)
    assert result.ok, [str(d.summary) for d in result.diagnostics]
    spec = result.environments[env]
    return lower(spec, CHURN.parent), spec


def churn_spec_from(out_dir: Path) -> str:
    """The churn spec's path as seen from `out_dir`, as the CLI computes it."""
    import os

    return Path(os.path.relpath(CHURN, out_dir)).as_posix()
