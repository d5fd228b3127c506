"""Monitors: the `CreateMonitoringSchedule` request of a data-quality or model-quality monitor,
and the parts of its job that both targets describe alike.

The emulator takes the job inline (`MonitoringJobDefinition`); SageMaker Model Monitor takes
it as a job definition of its own (`CreateDataQualityJobDefinition`) that the schedule names.
Either way the job reads its endpoint's captured requests, compares them with the baseline
results where the target keeps them, and writes its reports where the target says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlinfra.ir.graph import Ref
from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Monitor, QualityThreshold

# Where the job's container finds the captured requests and writes its reports.
INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
VOLUME_SIZE_GB = 20
MONITORING_TYPE = "DataQuality"
# SageMaker's MonitoringType of each monitor type of the spec.
MONITORING_TYPES = {"data_quality": MONITORING_TYPE, "model_quality": "ModelQuality"}


def baseline_config(results: Callable[[str], Any]) -> dict[str, Any]:
    """The baselining job's results, each file where `results(file name)` says."""
    return {
        "ConstraintsResource": {"S3Uri": results("constraints.json")},
        "StatisticsResource": {"S3Uri": results("statistics.json")},
    }


def endpoint_input(ctx: LoweringContext, component: Monitor) -> dict[str, Any]:
    endpoint = ctx.spec.endpoints[component.endpoint]
    return {"EndpointName": Ref(endpoint.address, "name"), "LocalPath": INPUT_PATH}


def monitoring_output(reports: Any) -> dict[str, Any]:
    """The reports, written under `reports`."""
    return {"S3Output": {"S3Uri": reports, "LocalPath": OUTPUT_PATH}}


def cluster_config(component: Monitor) -> dict[str, Any]:
    return {
        "InstanceCount": 1,
        "InstanceType": component.instance_type,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }


def create_monitoring_schedule(
    ctx: LoweringContext, component: Monitor, expression: str, job: Mapping[str, Any]
) -> dict[str, Any]:
    """`CreateMonitoringSchedule`'s request, on `expression`, running `job`: the job inline
    (`MonitoringJobDefinition`) or a job definition by name (`MonitoringJobDefinitionName`)."""
    return {
        "MonitoringScheduleName": ctx.name(component, "monitoring_schedule"),
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringType": MONITORING_TYPES[component.type],
            **job,
        },
        "Tags": tags(ctx, component),
    }


def line_text(line: QualityThreshold) -> str:
    """A line as the spec writes it: `0.8`, or `97%` for one relative to the registered metric."""
    return f"{line.value * 100:g}%" if line.relative else f"{line.value:g}"
