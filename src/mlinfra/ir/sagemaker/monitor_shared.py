"""What a monitor lowers to on either engine (`monitor_job`, mlinfra's own, and `monitors`,
Model Monitor's): the baseline's upload, the thresholds, the schedule and the alarm period it
sets, and the pipeline a violation retrains.

Both engines' modules import this one, and `monitors` (which chooses the engine) imports
`monitor_job`, so what they share lives here, below both.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from mlinfra.ir.graph import Concat, FileAsset, Json, Ref, Resource
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipelines import (
    file_sha256,
    local_path,
    pipeline_target,
    rule_name,
    start_pipeline_role,
    upload,
)
from mlinfra.naming import stable_hash
from mlinfra.sagemaker import images
from mlinfra.spec.model import Monitor
from mlinfra.spec.values import monitoring_schedule_expression, parse_schedule

# The scikit-learn image the job runs on: 1.4-2 has Python 3.10, pandas 2 and pyarrow (the
# image's Dockerfile and requirements.txt); 1.2-1, the pipelines' default, has pandas 1.1.
SKLEARN_VERSION = "1.4-2"
BASELINE_FILE = "baseline.csv"
# An execution must end before the next hourly one starts; SageMaker's default too.
MAX_RUNTIME_SECONDS = 3600
HASH_IN_KEY = 16
ALARM_NAME_LIMIT = 255


def thresholds(component: Monitor) -> dict[str, float]:
    """The monitor's thresholds by name, as the baseline results' names hash them."""
    limits = component.thresholds
    return {"drift_psi": limits.drift_psi, "missing_percent": limits.missing_percent}


def job_image(ctx: LoweringContext, component: Monitor) -> str:
    """The image mlinfra's monitor job runs on (validation checks the instance type has it)."""
    return images.image_uri(
        "sklearn", SKLEARN_VERSION, ctx.spec.region, "training", component.instance_type
    )


# --- the baseline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """Where the baseline data set is, its upload if local, and the baselining job's results."""

    uri: Any
    version: str  # a hash naming this baseline's results
    uploads: list[Resource]
    features: list[str]  # the CSV header of a local baseline; unknown (empty) for S3

    @classmethod
    def of(cls, ctx: LoweringContext, component: Monitor) -> Baseline:
        location = component.baseline
        if location.startswith("s3://"):
            return cls(location, stable_hash(location, HASH_IN_KEY), [], [])
        path = local_path(ctx, component, location)
        sha256 = file_sha256(path)
        key = f"monitors/{component.name}/baseline/{sha256[:HASH_IN_KEY]}/{BASELINE_FILE}"
        address = f"{component.address}/baseline"
        source = component.range_of("baseline")
        asset = FileAsset(location, sha256)
        uploaded = upload(ctx, component, address, key, asset, source, "monitoring")
        uri = Concat(("s3://", Ref(address, "bucket"), f"/{key}"))
        return cls(uri, sha256[:HASH_IN_KEY], [uploaded], csv_header(path))

    def result_key(self, component: Monitor, name: str = "") -> str:
        return f"monitors/{component.name}/baseline-results/{self.version}/{name}"


def csv_header(path: Any) -> list[str]:
    with open(path, newline="", encoding="utf-8") as stream:
        return [name.strip() for name in next(csv.reader(stream), [])]


def reports_key(component: Monitor) -> str:
    return f"monitors/{component.name}/reports"


# --- the schedule -----------------------------------------------------------------------------


def schedule_expression(component: Monitor) -> str:
    return monitoring_schedule_expression(parse_schedule(component.schedule))


def period_seconds(component: Monitor) -> int:
    """The time between executions: an alarm period sees one execution's metrics."""
    hours = schedule_expression(component).split()[1]  # cron(0 <hours> ? * * *)
    if hours == "*":
        return 3600
    if "/" in hours:
        return int(hours.split("/")[1]) * 3600
    return 86400


# --- retraining -------------------------------------------------------------------------------


def retrain(ctx: LoweringContext, component: Monitor, alarms: list[Resource]) -> list[Resource]:
    pipeline = component.on_violation.retrain
    if not pipeline or not alarms:
        return []
    source = component.range_of("on_violation", "retrain")
    address = component.address
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [Ref(alarm.address, "arn") for alarm in alarms],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    rule = ctx.resource(
        f"{address}/retrain",
        "aws.cloudwatch.EventRule",
        {
            "name": rule_name(ctx, component, "retrain"),
            "description": f"Starts pipeline {pipeline} when {component.name} finds a violation",
            "event_pattern": Json(pattern),
            "tags": ctx.tags(component),
        },
        source,
    )
    target_pipeline = f"pipeline.{pipeline}"
    role, role_arn = start_pipeline_role(
        ctx, component, f"{address}/retrain-role", target_pipeline, source
    )
    target = pipeline_target(
        ctx, f"{address}/retrain-target", rule.address, target_pipeline, role_arn, source
    )
    return [rule, *role, target]
