"""Monitors: a data-quality or model-quality monitoring schedule in the emulator, with its
alerts, retraining and rollback.

The request is SageMaker's `CreateMonitoringSchedule` with an inline job definition, in the
same shape as on AWS, with local folders in place of S3:

- the baseline results (`statistics.json`, `constraints.json`) live in
  `.mlinfra/emulator/monitors/<schedule>/baseline-results/<hash>/`, where the hash covers the
  baseline file and the thresholds, so a changed baseline or threshold gets fresh results;
  the emulator runs the baselining job when the schedule is created, as `suggest_baseline`
  does before a schedule is made on AWS;
- each execution's reports go to `.mlinfra/emulator/monitors/<schedule>/reports/<job>/`.

What AWS wires with CloudWatch alarms, SNS and EventBridge (thresholds, alert targets, the
pipeline to retrain) is given to the emulator's monitoring job through its `Environment`, as
Model Monitor's own container takes its settings: the `mlinfra_*` variables below.

A model-quality schedule (`MonitoringType: ModelQuality`) has no baseline: its job joins the
captured predictions with the labels in the spec's `ground_truth` folder, and its variables
carry the problem type, metric, window, label delay and lines (as the spec writes them,
`0.8` or `97%`), and the model's registry group, whose serving version it rejects on
rollback.
"""

from __future__ import annotations

import json

from mlinfra.ir.graph import Resource
from mlinfra.ir.local.api import MONITORING_SCHEDULE
from mlinfra.ir.local.pipelines import EMULATOR_FOLDER
from mlinfra.ir.requests.models import registry_group_name
from mlinfra.ir.requests.monitors import (
    baseline_config,
    cluster_config,
    create_monitoring_schedule,
    endpoint_input,
    line_text,
    monitoring_output,
)
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitor_shared import HASH_IN_KEY, thresholds
from mlinfra.ir.sagemaker.monitors import monitor_image
from mlinfra.ir.sagemaker.pipelines import file_sha256, local_path
from mlinfra.naming import stable_hash
from mlinfra.sagemaker.arns import EXAMPLE_ACCOUNT, role_arn
from mlinfra.spec.model import Monitor, Quality
from mlinfra.spec.values import monitor_setting

# The emulator accepts any role; this one says plainly that none is assumed.
ROLE_ARN = role_arn(EXAMPLE_ACCOUNT, "mlinfra-local-monitor")


def lower_monitor(ctx: LoweringContext, component: Monitor) -> list[Resource]:
    name = ctx.name(component, "monitoring_schedule")
    folder = f"{EMULATOR_FOLDER}/monitors/{name}"
    definition: dict = {}
    if component.quality is None:
        results = f"file:{folder}/baseline-results/{baseline_version(ctx, component)}"
        definition["BaselineConfig"] = baseline_config(lambda file: f"{results}/{file}")
    definition |= {
        "MonitoringInputs": [{"EndpointInput": endpoint_input(ctx, component)}],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [monitoring_output(f"file:{folder}/reports")]
        },
        "MonitoringResources": {"ClusterConfig": cluster_config(component)},
        "MonitoringAppSpecification": {"ImageUri": monitor_image(ctx)},
        "RoleArn": ROLE_ARN,
        "Environment": environment(ctx, component),
    }
    request = create_monitoring_schedule(
        ctx, component, component.schedule, {"MonitoringJobDefinition": definition}
    )
    depends_on = ()
    retrain = component.on_violation.retrain
    if retrain:  # retraining starts it by name, so it must exist first
        depends_on = (f"pipeline.{retrain}",)
    return [
        ctx.resource(
            component.address, MONITORING_SCHEDULE, request, component.key_range, depends_on
        )
    ]


def baseline_version(ctx: LoweringContext, component: Monitor) -> str:
    """A hash of what the baseline results are computed from: the data and the thresholds."""
    sha256 = file_sha256(local_path(ctx, component, component.baseline))
    return stable_hash(json.dumps([sha256, thresholds(component)], sort_keys=True), HASH_IN_KEY)


def environment(ctx: LoweringContext, component: Monitor) -> dict[str, str]:
    if component.quality is not None:
        env = quality_environment(ctx, component, component.quality)
    else:
        limits = component.thresholds
        env = {
            "mlinfra_baseline_dataset": monitor_setting("baseline", component.baseline),
            "mlinfra_drift_psi": _number(limits.drift_psi),
            "mlinfra_missing_percent": _number(limits.missing_percent),
        }
    acts = component.on_violation
    if acts.alert:
        env["mlinfra_alert_targets"] = monitor_setting("alert", acts.alert)
    if acts.retrain:
        env["mlinfra_retrain_pipeline"] = ctx.name(acts.retrain, "pipeline")
    return env


def _number(value: float) -> str:
    return f"{value:g}"


def quality_environment(
    ctx: LoweringContext, component: Monitor, quality: Quality
) -> dict[str, str]:
    env = {
        "mlinfra_problem_type": quality.problem_type,
        "mlinfra_metric": quality.metric,
        "mlinfra_ground_truth": monitor_setting("ground_truth", quality.ground_truth),
        "mlinfra_window": quality.window,
    }
    if quality.label_delay is not None:
        env["mlinfra_label_delay"] = quality.label_delay
    for name, line in (("alert", quality.alert), ("rollback", quality.rollback)):
        if line is not None:
            env[f"mlinfra_{name}_line"] = line_text(line)
    model = ctx.spec.models[ctx.spec.endpoints[component.endpoint].model]
    if model.registry_group is not None:
        env["mlinfra_model_package_group"] = registry_group_name(ctx, model.registry_group)
    return env
