"""Monitors on mlinfra's own engine (`engine: mlinfra`, the default): the analysis the emulator
runs, as a SageMaker Processing job, started on the monitor's schedule.

Model Monitor is closed to new customers (the SageMaker developer guide's "Amazon SageMaker
Model Monitor availability change"), so a monitor does not need it. What it becomes:

- `<monitor>/code`: the job's code, `monitor-job.pyz` (`mlinfra.monitoring.bundle`), uploaded
  to the monitoring bucket under a key holding its content hash, as pipeline scripts are;
- `<monitor>/baseline`: a local baseline CSV, uploaded the same way (an S3 baseline is read
  where it is);
- `<monitor>`: a one-step SageMaker pipeline whose Processing step runs the archive on the
  scikit-learn image. A pipeline rather than an EventBridge Scheduler target creating the job
  itself: a processing job needs a new name every run, which SageMaker Pipelines gives it
  (and retries, and a record of every run with its status and failure reason), and the
  schedule is then started the way mlinfra already starts pipelines, through a role that may
  start this pipeline and nothing else;
- `<monitor>/schedule`: an EventBridge rule starting the pipeline 20 minutes after each hour
  the monitor's schedule names, so that the capture files of the hour before are written;
  the job analyses the window ending on that hour (see `mlinfra.monitoring.processing`);
- two roles: `<monitor>/role`, the pipeline's, may only start processing jobs and pass them
  `<monitor>/job-role`, the job's, which may only read its endpoint's capture and its
  baseline, write its own baseline results and reports, and put metrics in its namespace;
- `<monitor>/alarm-violations`: an alarm on the job's `violations` metric. It fires when a run
  finds any violation, as the emulator alerts and retrains on any violation; it notifies
  `on_violation.alert` and starts `on_violation.retrain` (the same as with Model Monitor).

Each run writes statistics.json, constraint_violations.json and drift.json under
`s3://<monitoring>/monitors/<monitor>/reports/<window end>/`, encrypted with the
environment's key, and makes the baseline itself at its first run. The job reads S3 and
publishes metrics itself, so it cannot run network-isolated; it runs in the environment's
VPC when one is set, whose endpoints then decide what it reaches.
"""

from __future__ import annotations

import json
from typing import Any

from mlinfra.ir.graph import Concat, FileAsset, GraphError, Json, Ref, Resource
from mlinfra.ir.requests.monitors import VOLUME_SIZE_GB
from mlinfra.ir.sagemaker import iam
from mlinfra.ir.sagemaker.alerts import alarm_actions, alert_topic
from mlinfra.ir.sagemaker.arns import arn, s3_arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.ir.sagemaker.monitor_shared import (
    ALARM_NAME_LIMIT,
    HASH_IN_KEY,
    MAX_RUNTIME_SECONDS,
    Baseline,
    job_image,
    period_seconds,
    reports_key,
    retrain,
    schedule_expression,
    thresholds,
)
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipelines import job_statements, start_on_schedule
from mlinfra.monitoring import KMS_KEY_VARIABLE, metrics
from mlinfra.monitoring.bundle import ARCHIVE_NAME, job_archive, job_archive_sha256
from mlinfra.naming import fit, stable_hash
from mlinfra.spec.model import Endpoint, Monitor

CODE_DIR = "/opt/ml/processing/input/code"
STEP = "analyse"
PIPELINE_VERSION = "2020-12-01"
# Minutes after the hour the run starts: the window ends on the hour, and capture files of
# its last minutes are written by then.
START_MINUTE = 20
# The alarm's period: a run's datapoint is seen within minutes and is gone from the next
# period, so every run with violations notifies (and retrains) once, as in the emulator.
ALARM_PERIOD_SECONDS = 300


def lower_monitor_job(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    endpoint = ctx.spec.endpoints[component.endpoint]
    baseline = Baseline.of(ctx, component)
    statements = job_role_statements(ctx, component, endpoint, baseline)
    arguments = container_arguments(ctx, component, endpoint, baseline)
    description = (
        f"{component.address}: a run found constraint violations (drift above "
        "drift_psi, missing values above missing_percent, new types or values)"
    )
    return [*baseline.uploads, *scheduled_job(ctx, component, statements, arguments, description)]


def scheduled_job(
    ctx: LoweringContext,
    component: Monitor,
    job_statements: list[dict],
    arguments: list[Any],
    alarm_description: str,
) -> list[Resource]:
    """What every monitor on this engine is, whatever its job analyses: the code, the two
    roles, the pipeline running the job with `arguments`, its schedule, the alerts, the
    alarm on the job's violations and the retraining it starts."""
    endpoint = ctx.spec.endpoints[component.endpoint]
    code = code_upload(ctx, component)
    job_role, job_role_arn = iam.execution_role(ctx, component, job_statements, purpose="job")
    role, role_arn = iam.execution_role(ctx, component, pipeline_role_statements(ctx, job_role_arn))
    step = processing_step(ctx, component, arguments, code, job_role_arn)
    pipeline = monitor_pipeline(ctx, component, endpoint, step, role_arn)
    acts = component.on_violation
    topic = alert_topic(
        ctx, component, acts, f"{ctx.name(component, 'monitoring_schedule')}-alerts"
    )
    actions = alarm_actions(acts.alert, topic)
    alarms = [violations_alarm(ctx, component, endpoint, actions, alarm_description)]
    return [
        code,
        *job_role,
        *role,
        pipeline,
        *schedule(ctx, component),
        *topic,
        *alarms,
        *retrain(ctx, component, alarms),
    ]


# --- code and locations -----------------------------------------------------------------------


def code_upload(ctx: LoweringContext, component: Monitor) -> Resource:
    """The job's archive in the monitoring bucket, under its content hash."""
    sha256 = job_archive_sha256()
    key = f"monitors/{component.name}/code/{sha256[:HASH_IN_KEY]}/{ARCHIVE_NAME}"
    properties: dict[str, Any] = {
        "bucket": ctx.bucket("monitoring"),
        "key": key,
        "source": FileAsset(ARCHIVE_NAME, sha256, content=job_archive()),
    }
    if ctx.kms_key is not None:
        properties["kms_key_id"] = ctx.kms_key
    properties["tags"] = ctx.tags(component)
    return ctx.resource(
        f"{component.address}/code",
        "aws.s3.BucketObjectv2",
        properties,
        component.key_range,
        ("bucket.monitoring/encryption",),
    )


def results_key(component: Monitor, baseline: Baseline) -> str:
    """Where the first run puts the baseline: named by the data set and the thresholds, so a
    new data set or threshold is a new baseline rather than a stale one."""
    version = stable_hash(json.dumps([baseline.version, thresholds(component)]), HASH_IN_KEY)
    return f"monitors/{component.name}/baseline-results/{version}/"


def capture_uri(ctx: LoweringContext, endpoint: Endpoint) -> Concat:
    # The endpoint's DestinationS3Uri is s3://<capture>/<endpoint name>, under which SageMaker
    # writes <endpoint name>/<variant>/yyyy/mm/dd/hh/*.jsonl. The Refs also make the monitor
    # wait for the endpoint, as a Model Monitor schedule does.
    name = Ref(endpoint.address, "name")
    return Concat(("s3://", ctx.bucket("capture"), "/", name, "/", name, "/"))


# --- the pipeline -----------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def container_arguments(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, baseline: Baseline
) -> list[Any]:
    limits = component.thresholds
    return [
        "--capture", capture_uri(ctx, endpoint),
        "--baseline-dataset", baseline.uri,
        "--baseline-results", ctx.s3_uri("monitoring", results_key(component, baseline)),
        "--reports", ctx.s3_uri("monitoring", reports_key(component) + "/"),
        # When this execution started: the job floors it to the hour its window ends on.
        "--until", {"Get": "Execution.StartDateTime"},
        "--period-hours", str(period_seconds(component) // 3600),
        "--drift-psi", _number(limits.drift_psi),
        "--missing-percent", _number(limits.missing_percent),
        "--monitor", ctx.name(component, "monitoring_schedule"),
        "--endpoint", Ref(endpoint.address, "name"),
    ]  # fmt: skip


def _network_config(ctx: LoweringContext) -> dict[str, Any]:
    security = ctx.spec.security
    config: dict[str, Any] = {
        "EnableInterContainerTrafficEncryption": security.encrypt_inter_container_traffic,
        # The job reads S3 and puts metrics itself: isolation would cut it off from both.
        "EnableNetworkIsolation": False,
    }
    vpc = security.vpc
    if vpc is not None:
        config["VpcConfig"] = {
            "SecurityGroupIds": list(vpc.security_groups),
            "Subnets": list(vpc.subnets),
        }
    return config


def processing_step(
    ctx: LoweringContext,
    component: Monitor,
    container_arguments: list[Any],
    code: Resource,
    job_role_arn: Ref,
) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "InstanceType": component.instance_type,
        "InstanceCount": 1,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    if ctx.kms_key is not None and not has_instance_storage(component.instance_type):
        cluster["VolumeKmsKeyId"] = ctx.kms_key
    code_uri = Concat(("s3://", Ref(code.address, "bucket"), f"/{code.properties['key']}"))
    arguments: dict[str, Any] = {
        "ProcessingResources": {"ClusterConfig": cluster},
        "AppSpecification": {
            "ImageUri": job_image(ctx, component),
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{ARCHIVE_NAME}"],
            "ContainerArguments": container_arguments,
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": code_uri,
                    "LocalPath": CODE_DIR,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            }
        ],
        "NetworkConfig": _network_config(ctx),
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
        "RoleArn": job_role_arn,
    }
    if ctx.kms_key is not None:
        # The job uploads its outputs itself, with this key; audits read it here.
        arguments["Environment"] = {KMS_KEY_VARIABLE: ctx.kms_key}
    return {"Name": STEP, "Type": "Processing", "Arguments": arguments}


def monitor_pipeline(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, step: dict, role_arn: Ref
) -> Resource:
    definition = {"Version": PIPELINE_VERSION, "Metadata": {}, "Parameters": [], "Steps": [step]}
    problems = check_definition(definition)
    if problems:
        raise GraphError(f"{component.address}: invalid monitor pipeline: {'; '.join(problems)}")
    name = pipeline_name(ctx, component)
    description = f"mlinfra monitor {component.name} of endpoint {endpoint.name}"
    return ctx.resource(
        component.address,
        "aws.sagemaker.Pipeline",
        {
            "pipeline_name": name,
            "pipeline_display_name": name,
            "pipeline_description": description,
            "role_arn": role_arn,
            "pipeline_definition": Json(definition),
            "tags": ctx.tags(component),
        },
        component.key_range,
        # Executions need both roles' permissions, which the definition names only by ARN.
        depends_on=(f"{component.address}/role-policy", f"{component.address}/job-role-policy"),
    )


def pipeline_name(ctx: LoweringContext, component: Monitor) -> str:
    # `-monitor`: a pipeline of the spec may have the monitor's name.
    return ctx.name(f"{component.name}-monitor", "pipeline")


# --- roles ------------------------------------------------------------------------------------


def job_role_statements(
    ctx: LoweringContext, component: Monitor, endpoint: Endpoint, baseline: Baseline
) -> list[dict]:
    """Read the endpoint's capture and the baseline, write the monitor's own data, put
    metrics in the monitors' namespace, and what every job needs (image, logs, key, VPC)."""
    monitoring = ctx.bucket("monitoring", "arn")
    if isinstance(baseline.uri, str):
        dataset: Any = s3_arn(ctx, baseline.uri)
    else:
        dataset = Concat((monitoring, f"/{baseline.uploads[0].properties['key']}"))
    writes = [results_key(component, baseline), f"{reports_key(component)}/"]
    statements = [
        *capture_statements(ctx, endpoint),
        iam.statement(["s3:GetObject"], [dataset], "ReadBaselineDataSet"),
        *monitor_data_statements(ctx, component, writes),
    ]
    return statements + job_statements(ctx, [job_image(ctx, component)], [metrics.NAMESPACE])


def capture_statements(ctx: LoweringContext, endpoint: Endpoint) -> list[dict]:
    """Read (and list) what the endpoint captured, and nothing else of the capture bucket."""
    capture = ctx.bucket("capture", "arn")
    captured = Concat((Ref(endpoint.address, "name"), "/*"))
    return [
        iam.statement(["s3:GetObject"], [Concat((capture, "/", captured))], "ReadCaptures"),
        {
            **iam.statement(["s3:ListBucket"], [capture], "ListCaptures"),
            "Condition": {"StringLike": {"s3:prefix": [captured]}},
        },
    ]


def monitor_data_statements(
    ctx: LoweringContext, component: Monitor, writes: list[str]
) -> list[dict]:
    """Read and write the monitor's own keys `writes` (prefixes), list its own folder."""
    monitoring = ctx.bucket("monitoring", "arn")
    own = f"monitors/{component.name}/"
    return [
        iam.statement(
            ["s3:GetObject", "s3:PutObject"],
            [Concat((monitoring, f"/{key}*")) for key in writes],
            "MonitorData",
        ),
        {
            **iam.statement(["s3:ListBucket"], [monitoring], "ListMonitorData"),
            "Condition": {"StringLike": {"s3:prefix": [f"{own}*"]}},
        },
    ]


def pipeline_role_statements(ctx: LoweringContext, job_role_arn: Ref) -> list[dict]:
    """The pipeline runs the job's processing job with the job's role, and nothing else."""
    jobs = [arn(ctx, "sagemaker", "processing-job/*")]
    actions = ["sagemaker:AddTags"] + [
        f"sagemaker:{verb}ProcessingJob" for verb in ("Create", "Describe", "Stop")
    ]
    return [
        iam.statement(actions, jobs, "ProcessingJobs"),
        {
            **iam.statement(["iam:PassRole"], [job_role_arn], "PassJobRole"),
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ]


# --- schedule and alarm -----------------------------------------------------------------------


def start_expression(component: Monitor) -> str:
    """The EventBridge schedule: the monitor's hours, START_MINUTE past each."""
    expression = schedule_expression(component)  # cron(0 <hours> ? * * *)
    return expression.replace("cron(0 ", f"cron({START_MINUTE} ", 1)


def schedule(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    description = f"Runs monitor {component.name} ({component.schedule})"
    return start_on_schedule(ctx, component, start_expression(component), description)


def violations_alarm(
    ctx: LoweringContext,
    component: Monitor,
    endpoint: Endpoint,
    actions: list[Any],
    description: str,
) -> Resource:
    schedule_name = ctx.name(component, "monitoring_schedule")
    return ctx.resource(
        f"{component.address}/alarm-violations",
        "aws.cloudwatch.MetricAlarm",
        {
            "name": fit(f"{schedule_name}-violations", ALARM_NAME_LIMIT),
            "alarm_description": description,
            "namespace": metrics.NAMESPACE,
            "metric_name": metrics.VIOLATIONS,
            # As the job publishes them: `--monitor` and `--endpoint`.
            "dimensions": {"Monitor": schedule_name, "Endpoint": Ref(endpoint.address, "name")},
            "statistic": "Maximum",
            "period": ALARM_PERIOD_SECONDS,
            "evaluation_periods": 1,
            "threshold": 0,
            "comparison_operator": "GreaterThanThreshold",
            # No run in a period is no violation.
            "treat_missing_data": "notBreaching",
            "alarm_actions": actions,
            "tags": ctx.tags(component),
        },
        component.range_of("thresholds") if component.quality is None else component.key_range,
    )
