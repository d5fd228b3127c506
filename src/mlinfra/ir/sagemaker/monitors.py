"""Monitors on Model Monitor (`engine: model-monitor`): a data-quality schedule on an endpoint,
with its alerts (what both engines share, the baseline's upload, thresholds and retraining, is
`monitor_shared`'s).

`lower_monitor` lowers a monitor on its engine: mlinfra's own (`monitor_job`, the default;
`monitor_quality` for model_quality monitors) or, for accounts that still have it, SageMaker
Model Monitor (data quality only). Model Monitor is closed to new
customers ("Amazon SageMaker Model Monitor availability change", SageMaker developer guide),
and its `drift_psi` is Model Monitor's own distance, not the population stability index.

The Model Monitor job compares the requests an endpoint captured with a baseline: the
statistics and constraints computed from the spec's baseline data set. Those two files are
made by a baselining job (Model Monitor's `suggest_baseline`), which runs outside the Pulumi
program: the program uploads the baseline data set and expects the job's `statistics.json`
and `constraints.json` under `s3://<monitoring>/monitors/<monitor>/baseline-results/<hash>/`
(running that job is mlinfra's own next step; until it has run, executions fail for want of
a baseline). The hash is that of the baseline file (or of its S3 URI), so a new baseline
points the monitor at new results rather than stale ones.

With `publish_cloudwatch_metrics` on, every execution publishes, per feature of the
baseline, `feature_baseline_drift_<feature>` (distance from the baseline distribution) and
`feature_non_null_<feature>` (completeness) in the `aws/sagemaker/Endpoints/data-metrics`
namespace, with `Endpoint` and `MonitoringSchedule` dimensions. Alarms on those metrics are
the monitor's violations: one fires when any feature drifts beyond `thresholds.drift_psi`,
one when any feature misses more than `thresholds.missing_percent` of its values (alarms
take at most ten metrics each, so wide baselines get several). The features are read from
the header of a local baseline CSV; an S3 baseline cannot be read offline, so it gets no
alarms, and so no alerts or retraining.

A violation alarm notifies `on_violation.alert`: `email:` and `webhook:` targets subscribe
to the monitor's SNS topic; `sns:` topics are alarm actions themselves. `retrain` starts a
pipeline when an alarm goes into ALARM, through an EventBridge rule on the alarms' state
changes (SageMaker sends no EventBridge event of its own for monitoring executions).
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Args, Concat, Ref, Resource
from mlinfra.ir.requests.monitors import (
    baseline_config,
    cluster_config,
    create_monitoring_schedule,
    endpoint_input,
    monitoring_output,
)
from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker import fields, iam
from mlinfra.ir.sagemaker.alerts import alarm_actions, alert_topic
from mlinfra.ir.sagemaker.arns import s3_arn
from mlinfra.ir.sagemaker.cloudwatch import metric_query
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.ir.sagemaker.monitor_job import lower_monitor_job
from mlinfra.ir.sagemaker.monitor_quality import lower_quality_monitor
from mlinfra.ir.sagemaker.monitor_shared import (
    ALARM_NAME_LIMIT,
    MAX_RUNTIME_SECONDS,
    Baseline,
    period_seconds,
    reports_key,
    retrain,
    schedule_expression,
)
from mlinfra.ir.sagemaker.pipelines import job_statements
from mlinfra.ir.sagemaker.translate import translate
from mlinfra.naming import fit
from mlinfra.sagemaker import images
from mlinfra.spec.model import Endpoint, Monitor

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
METRICS_PER_ALARM = 10  # CloudWatch's limit of metrics in one alarm's math expression
MODEL_MONITOR = "model-monitor"


def lower_monitor(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    """A monitor's resources on its engine."""
    if component.engine == MODEL_MONITOR:
        return lower_model_monitor(ctx, component)
    if component.quality is not None:
        return lower_quality_monitor(ctx, component)
    return lower_monitor_job(ctx, component)


def lower_model_monitor(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    endpoint = ctx.spec.endpoints[component.endpoint]
    baseline = Baseline.of(ctx, component)
    resources = list(baseline.uploads)
    role, role_arn = iam.execution_role(
        ctx, component, role_statements(ctx, component, endpoint, baseline)
    )
    resources += role
    job = job_definition(ctx, component, endpoint, baseline, role_arn)
    resources += [job, monitoring_schedule(ctx, component, job)]
    topic = alerts(ctx, component)
    resources += topic
    alarms = violation_alarms(ctx, component, endpoint, baseline.features, topic)
    resources += alarms
    resources += retrain(ctx, component, alarms)
    return resources


# --- the job definition and schedule ----------------------------------------------------------


def network_config(ctx: LoweringContext) -> dict[str, Any]:
    security = ctx.spec.security
    config: dict[str, Any] = {
        "EnableNetworkIsolation": security.network_isolation,
        "EnableInterContainerTrafficEncryption": security.encrypt_inter_container_traffic,
    }
    vpc = security.vpc
    if vpc is not None:
        config["VpcConfig"] = {
            "SecurityGroupIds": list(vpc.security_groups),
            "Subnets": list(vpc.subnets),
        }
    return config


def monitor_image(ctx: LoweringContext) -> str:
    # Model Monitor has one unversioned analyzer image per region.
    return images.image_uri(images.MODEL_MONITOR, None, ctx.spec.region)


def job_definition(
    ctx: LoweringContext,
    component: Monitor,
    endpoint: Endpoint,
    baseline: Baseline,
    role_arn: Ref,
) -> Resource:
    """`CreateDataQualityJobDefinition`'s request: the job the schedule runs, with the
    environment's key on its volumes (where they take one) and reports, in its network."""
    key = ctx.kms_key
    job_input = {
        **endpoint_input(ctx, component),
        "S3DataDistributionType": "FullyReplicated",
        "S3InputMode": "File",
    }
    output = monitoring_output(ctx.s3_uri("monitoring", reports_key(component)))
    output["S3Output"]["S3UploadMode"] = "EndOfJob"
    output_config: dict[str, Any] = {"MonitoringOutputs": [output]}
    cluster = cluster_config(component)
    if key is not None:
        output_config["KmsKeyId"] = key
        if not has_instance_storage(component.instance_type):
            cluster["VolumeKmsKeyId"] = key
    request = {
        "JobDefinitionName": ctx.name(component, "monitoring_job_definition"),
        "DataQualityAppSpecification": {
            "ImageUri": monitor_image(ctx),
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        },
        "DataQualityBaselineConfig": baseline_config(
            lambda file: ctx.s3_uri("monitoring", baseline.result_key(component, file))
        ),
        "DataQualityJobInput": {"EndpointInput": job_input},
        "DataQualityJobOutputConfig": output_config,
        "JobResources": {"ClusterConfig": cluster},
        "NetworkConfig": network_config(ctx),
        "RoleArn": role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
        "Tags": tags(ctx, component),
    }
    return ctx.resource(
        f"{component.address}/job-definition",
        fields.DATA_QUALITY_JOB_DEFINITION.type,
        translate(fields.DATA_QUALITY_JOB_DEFINITION, request),
        component.key_range,
        # SageMaker checks the role when the definition is created.
        depends_on=(f"{component.address}/role-policy",),
    )


def monitoring_schedule(ctx: LoweringContext, component: Monitor, job: Resource) -> Resource:
    request = create_monitoring_schedule(
        ctx,
        component,
        schedule_expression(component),
        {"MonitoringJobDefinitionName": Ref(job.address, "name")},
    )
    return ctx.resource(
        component.address,
        fields.MONITORING_SCHEDULE.type,
        translate(fields.MONITORING_SCHEDULE, request),
        component.key_range,
    )


# --- the role ---------------------------------------------------------------------------------


def role_statements(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, baseline: Baseline
) -> list[dict]:
    """Read the endpoint's captured data and the baseline, write the monitor's reports."""
    capture = ctx.bucket("capture", "arn")
    monitoring = ctx.bucket("monitoring", "arn")
    captured = f"{ctx.name(endpoint, 'endpoint')}/"
    own = f"monitors/{component.name}/"
    if isinstance(baseline.uri, str):
        baseline_objects: list[Any] = [s3_arn(ctx, baseline.uri)]
    else:
        baseline_objects = [Concat((monitoring, f"/{baseline.uploads[0].properties['key']}"))]
    baseline_objects.append(Concat((monitoring, f"/{baseline.result_key(component)}*")))
    statements = [
        iam.statement(["s3:GetObject"], [Concat((capture, f"/{captured}*"))], "ReadCaptures"),
        {
            **iam.statement(["s3:ListBucket"], [capture], "ListCaptures"),
            "Condition": {"StringLike": {"s3:prefix": [f"{captured}*"]}},
        },
        iam.statement(["s3:GetObject"], baseline_objects, "ReadBaseline"),
        iam.statement(
            ["s3:PutObject"], [Concat((monitoring, f"/{reports_key(component)}/*"))], "WriteReports"
        ),
        {
            **iam.statement(["s3:ListBucket"], [monitoring], "ListMonitorData"),
            "Condition": {"StringLike": {"s3:prefix": [f"{own}*"]}},
        },
    ]
    return statements + job_statements(ctx, [monitor_image(ctx)], [NAMESPACE])


# --- alerts -----------------------------------------------------------------------------------


def alerts(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    """The monitor's SNS topic and its email and webhook subscriptions."""
    name = f"{ctx.name(component, 'monitoring_schedule')}-alerts"
    return alert_topic(ctx, component, component.on_violation, name)


# --- violation alarms -------------------------------------------------------------------------


def _chunks(features: list[str]) -> list[list[str]]:
    return [features[i : i + METRICS_PER_ALARM] for i in range(0, len(features), METRICS_PER_ALARM)]


def _metric_query(
    ctx: LoweringContext,
    component: Monitor,
    endpoint: Endpoint,
    query_id: str,
    metric: str,
    stat: str,
) -> Args:
    dimensions = {
        "Endpoint": ctx.name(endpoint, "endpoint"),
        "MonitoringSchedule": ctx.name(component, "monitoring_schedule"),
    }
    return metric_query(query_id, NAMESPACE, metric, stat, period_seconds(component), dimensions)


# The two violations: (address part, metric prefix, statistic, combining function, comparison).
VIOLATIONS = (
    ("violations", "feature_baseline_drift_", "Maximum", "MAX", "GreaterThanThreshold"),
    ("missing", "feature_non_null_", "Minimum", "MIN", "LessThanThreshold"),
)


def _threshold(component: Monitor, kind: str) -> float:
    limits = component.thresholds
    if kind == "violations":
        return float(limits.drift_psi)
    # Completeness is the share of values present: 5% missing is below 0.95.
    return 1 - float(limits.missing_percent) / 100


def _alarm(
    ctx: LoweringContext,
    component: Monitor,
    endpoint: Endpoint,
    violation: tuple[str, str, str, str, str],
    features: list[str],
    number: int,
    actions: list[Any],
) -> Resource:
    kind, prefix, stat, combine, comparison = violation
    suffix = "" if number == 1 else f"-{number}"
    queries = [
        _metric_query(ctx, component, endpoint, f"m{i}", f"{prefix}{feature}", stat)
        for i, feature in enumerate(features)
    ]
    ids = ", ".join(f"m{i}" for i in range(len(features)))
    queries.append(
        Args(
            "aws.cloudwatch.MetricAlarmMetricQueryArgs",
            {
                "id": "worst",
                "expression": f"{combine}([{ids}])",
                "label": kind,
                "return_data": True,
            },
        )
    )
    threshold_field = "drift_psi" if kind == "violations" else "missing_percent"
    properties: dict[str, Any] = {
        "name": fit(
            f"{ctx.name(component, 'monitoring_schedule')}-{kind}{suffix}", ALARM_NAME_LIMIT
        ),
        "alarm_description": f"{component.address}: {kind} in {', '.join(features)}",
        "comparison_operator": comparison,
        "evaluation_periods": 1,
        "threshold": _threshold(component, kind),
        "metric_queries": queries,
        # No execution in a period is no violation.
        "treat_missing_data": "notBreaching",
        "alarm_actions": actions,
        "tags": ctx.tags(component),
    }
    return ctx.resource(
        f"{component.address}/alarm-{kind}{suffix}",
        "aws.cloudwatch.MetricAlarm",
        properties,
        component.range_of("thresholds", threshold_field),
    )


def violation_alarms(
    ctx: LoweringContext,
    component: Monitor,
    endpoint: Endpoint,
    features: list[str],
    topic: list[Resource],
) -> list[Resource]:
    actions = alarm_actions(component.on_violation.alert, topic)
    return [
        _alarm(ctx, component, endpoint, violation, chunk, number, actions)
        for violation in VIOLATIONS
        for number, chunk in enumerate(_chunks(features), start=1)
    ]
