"""Model-quality monitors on SageMaker: mlinfra's own monitor job (`monitor_job`), run in its
`quality` mode, not Model Monitor.

The monitor is what a data-quality monitor on this engine is (the job's archive, a one-step
pipeline on a schedule, two roles, an alarm on the job's `violations` metric that notifies
`on_violation.alert` and starts `on_violation.retrain`), with no baseline: each run joins the
predictions the endpoint captured with the ground-truth labels under the spec's S3 prefix
(`mlinfra.monitoring.quality_job`). A crossed line is a violation, so the alarm alerts on it.

Below the rollback line the job marks the version the endpoint serves `Rejected`
(`mlinfra.monitoring.rollback`, the code the emulator runs). The rendered program chooses
the group's latest approved version whenever it runs, so the next `mlinfra apply` serves the
approved version before it. The job's role may therefore, beyond reading the capture and
the labels and writing its reports:

- describe that one endpoint, and the endpoint configurations and models of this
  environment (their names carry a content hash, so a prefix is as narrow as IAM can say),
  to find the version served;
- describe and update (reject) versions of that one model package group, and nothing else
  of the registry;
- read the evaluation reports registering pipelines wrote (`pipelines/*/runs/*/evaluation/
  evaluation.json` in the artifacts bucket) when a line is relative: the serving version's
  registered metric is in its report;
- list model packages, to say in its report which version serves next: ListModelPackages
  takes no resource-level permission (the Service Authorization Reference lists no resource
  type for it), so it is granted on "*"; it reads names and statuses only.

With no `rollback_below`/`_above` line, the role gets none of the write permission.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Concat, Ref, Resource
from mlinfra.ir.requests.models import registry_group_name
from mlinfra.ir.requests.monitors import line_text
from mlinfra.ir.sagemaker import iam
from mlinfra.ir.sagemaker.arns import arn, s3_arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitor_job import (
    capture_statements,
    capture_uri,
    monitor_data_statements,
    scheduled_job,
)
from mlinfra.ir.sagemaker.monitor_shared import job_image, reports_key
from mlinfra.ir.sagemaker.pipeline_definition.layout import PROPERTY_FILE_PATH
from mlinfra.ir.sagemaker.pipelines import job_statements
from mlinfra.monitoring import metrics
from mlinfra.spec.model import Endpoint, Monitor, Quality
from mlinfra.spec.values import parse_duration

QUALITY_COMMAND = "quality"  # the archive's first argument for a quality run (`bundle`)


def lower_quality_monitor(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    quality = component.quality
    assert quality is not None  # monitors.lower_monitor sends only quality monitors here
    endpoint = ctx.spec.endpoints[component.endpoint]
    statements = quality_role_statements(ctx, component, endpoint, quality)
    arguments = quality_arguments(ctx, component, endpoint, quality)
    side = "above" if quality.lower_is_better else "below"
    description = (
        f"{component.address}: {quality.metric} crossed a line (alert_{side} or "
        f"rollback_{side}) over the labelled predictions of the window"
    )
    return scheduled_job(ctx, component, statements, arguments, description)


def _seconds(duration: str | None) -> str:
    return f"{parse_duration(duration).total_seconds():g}" if duration else "0"


def quality_arguments(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, quality: Quality
) -> list[Any]:
    found: list[Any] = [
        QUALITY_COMMAND,
        "--capture", capture_uri(ctx, endpoint),
        "--ground-truth", quality.ground_truth,
        "--reports", ctx.s3_uri("monitoring", reports_key(component) + "/"),
        # When this execution started: the window ends there, less the label delay.
        "--until", {"Get": "Execution.StartDateTime"},
        "--problem-type", quality.problem_type,
        "--metric", quality.metric,
        "--window-seconds", _seconds(quality.window),
        "--label-delay-seconds", _seconds(quality.label_delay),
    ]  # fmt: skip
    for flag, line in (("--alert", quality.alert), ("--rollback", quality.rollback)):
        if line is not None:
            found += [flag, line_text(line)]
    found += [
        "--monitor", ctx.name(component, "monitoring_schedule"),
        "--endpoint", Ref(endpoint.address, "name"),
        "--execution", {"Get": "Execution.PipelineExecutionArn"},
    ]  # fmt: skip
    return found


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def quality_role_statements(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, quality: Quality
) -> list[dict]:
    """See the module's docstring: the capture, the labels, the reports, the registry."""
    bucket, prefix = _bucket_and_prefix(quality.ground_truth)
    statements = [
        *capture_statements(ctx, endpoint),
        iam.statement(["s3:GetObject"], [s3_arn(ctx, f"{bucket}/{prefix}*")], "ReadGroundTruth"),
        {
            **iam.statement(["s3:ListBucket"], [s3_arn(ctx, bucket)], "ListGroundTruth"),
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
        *monitor_data_statements(ctx, component, [f"{reports_key(component)}/"]),
        *registry_statements(ctx, component, endpoint),
    ]
    if any(line is not None and line.relative for line in (quality.alert, quality.rollback)):
        # A relative line is a share of the metric in the serving version's evaluation
        # report, which the registering pipeline wrote to the artifacts bucket.
        report = f"/pipelines/*/runs/*/{PROPERTY_FILE_PATH}"
        artifacts = Concat((ctx.bucket("artifacts", "arn"), report))
        statements.append(iam.statement(["s3:GetObject"], [artifacts], "ReadEvaluationReports"))
    return statements + job_statements(ctx, [job_image(ctx, component)], [metrics.NAMESPACE])


def registry_statements(ctx: LoweringContext, component: Monitor, endpoint: Endpoint) -> list[dict]:
    """Find the version served; reject it below the rollback line (that group only)."""
    prefix = f"{ctx.spec.project}-{ctx.spec.env}-"
    statements = [
        iam.statement(
            ["sagemaker:DescribeEndpoint"],
            [arn(ctx, "sagemaker", f"endpoint/{ctx.name(endpoint, 'endpoint')}")],
            "DescribeServingEndpoint",
        ),
        iam.statement(
            ["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
            [
                arn(ctx, "sagemaker", f"endpoint-config/{prefix}*"),
                arn(ctx, "sagemaker", f"model/{prefix}*"),
            ],
            "DescribeServingModel",
        ),
    ]
    model = ctx.spec.models[endpoint.model]
    if model.registry_group is None:
        return statements  # it serves an artifact: there is no version to read or reject
    group = registry_group_name(ctx, model.registry_group)
    actions = ["sagemaker:DescribeModelPackage"]
    if component.quality is not None and component.quality.rollback is not None:
        actions.append("sagemaker:UpdateModelPackage")
    statements.append(
        iam.statement(
            actions, [arn(ctx, "sagemaker", f"model-package/{group}/*")], "ServingVersion"
        )
    )
    if "sagemaker:UpdateModelPackage" in actions:
        # No resource-level permission exists for ListModelPackages (see the docstring).
        statements.append(iam.statement(["sagemaker:ListModelPackages"], ["*"], "ListVersions"))
    return statements
