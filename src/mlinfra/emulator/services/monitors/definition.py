"""A monitoring schedule's configuration as the emulator runs it: checked, and its baseline made.

Only what the local lowering sends runs locally: DataQuality or ModelQuality monitoring of one
endpoint with an inline MonitoringJobDefinition whose baseline, ground truth, reports and
dataset are local (`file:` URIs relative to the spec's folder, or paths) and inside the
project or state folder
(`paths.confine`). mlinfra's own settings travel in the definition's Environment, under the
keys below. Every refusal is a ValidationException naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.services.monitors.alerts import check_targets
from mlinfra.emulator.services.monitors.jobs import JobFailed, baseline
from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.quality_metrics import METRICS, Line
from mlinfra.spec.values import parse_duration, parse_schedule

# The Environment keys the local lowering passes: mlinfra's, not Model Monitor's.
DATASET = "mlinfra_baseline_dataset"
DRIFT_PSI = "mlinfra_drift_psi"
MISSING_PERCENT = "mlinfra_missing_percent"
ALERT_TARGETS = "mlinfra_alert_targets"
RETRAIN_PIPELINE = "mlinfra_retrain_pipeline"
# A ModelQuality schedule's: no baseline, labels instead.
PROBLEM_TYPE = "mlinfra_problem_type"
METRIC = "mlinfra_metric"
GROUND_TRUTH = "mlinfra_ground_truth"
WINDOW = "mlinfra_window"
LABEL_DELAY = "mlinfra_label_delay"
ALERT_LINE = "mlinfra_alert_line"
ROLLBACK_LINE = "mlinfra_rollback_line"
MODEL_PACKAGE_GROUP = "mlinfra_model_package_group"
KINDS = ("DataQuality", "ModelQuality")

CONFIG = "MonitoringScheduleConfig"
DEFINITION = f"{CONFIG}.MonitoringJobDefinition"


def check(config: dict, roots: Roots) -> tuple[dict, str]:
    """The configuration to store and the endpoint it monitors, or ValidationException.

    Makes the baseline when its files are missing, so a bad dataset is refused now rather
    than failing every execution later.
    """
    kind = config.get("MonitoringType", "DataQuality")
    if kind not in KINDS:
        raise invalid(
            f"{CONFIG}.MonitoringType {kind}: the local emulator runs DataQuality and "
            "ModelQuality monitoring only."
        )
    if "MonitoringJobDefinitionName" in config:
        raise invalid(
            f"{CONFIG}.MonitoringJobDefinitionName: the local emulator takes inline "
            "definitions; give the job as MonitoringJobDefinition instead of naming a "
            "data quality job definition."
        )
    definition = config.get("MonitoringJobDefinition")
    if definition is None:
        raise invalid(f"{DEFINITION} is required by the local emulator.")
    expression = (config.get("ScheduleConfig") or {}).get("ScheduleExpression")
    if not expression:
        raise invalid(f"{CONFIG}.ScheduleConfig.ScheduleExpression is required.")
    try:
        parse_schedule(expression)
    except ValueError as exc:
        raise invalid(f"{CONFIG}.ScheduleConfig.ScheduleExpression: {exc}") from None
    endpoint = endpoint_of(definition)
    environment = definition.get("Environment") or {}
    for key in (DRIFT_PSI, MISSING_PERCENT):
        if key in environment:
            try:
                float(environment[key])
            except ValueError:
                raise invalid(
                    f"{DEFINITION}.Environment.{key}: {environment[key]!r} is not a number."
                ) from None
    if ALERT_TARGETS in environment:
        try:
            check_targets(json.loads(environment[ALERT_TARGETS]))
        except ValueError as exc:
            raise invalid(f"{DEFINITION}.Environment.{ALERT_TARGETS}: {exc}") from None
    local(roots, reports_uri(definition), f"{DEFINITION}.MonitoringOutputConfig")
    if kind == "ModelQuality":
        check_quality(environment, roots)
    else:
        make_baseline(definition, roots)
    return dict(config, MonitoringType=kind), endpoint


def check_quality(environment: dict, roots: Roots) -> None:
    """A ModelQuality job's settings: each one its job needs, readable."""
    where = f"{DEFINITION}.Environment"
    for key in (PROBLEM_TYPE, METRIC, GROUND_TRUTH, WINDOW):
        if not environment.get(key):
            raise invalid(f"{where}.{key} is required by a ModelQuality schedule.")
    problem, metric = environment[PROBLEM_TYPE], environment[METRIC]
    if metric not in METRICS.get(problem, ()):
        raise invalid(f"{where}.{METRIC}: {metric} is not a metric of {problem} models.")
    ground_truth(environment, roots)
    quality_seconds(environment)
    for key in (ALERT_LINE, ROLLBACK_LINE):
        try:
            Line.parse(environment.get(key))
        except MonitoringError as exc:
            raise invalid(f"{where}.{key}: {exc}") from None


def ground_truth(environment: dict, roots: Roots) -> Path:
    return local(roots, environment[GROUND_TRUTH], f"{DEFINITION}.Environment.{GROUND_TRUTH}")


def quality_seconds(environment: dict) -> tuple[float, float]:
    """The window and the label delay, in seconds."""
    found = []
    for key in (WINDOW, LABEL_DELAY):
        text = environment.get(key)
        try:
            found.append(parse_duration(text).total_seconds() if text else 0.0)
        except ValueError as exc:
            raise invalid(f"{DEFINITION}.Environment.{key}: {exc}") from None
    return found[0], found[1]


def make_baseline(definition: dict, roots: Roots) -> None:
    """Run the baselining job unless the baseline's files exist (their folder is named by a
    hash of what made them, so existing files are this baseline)."""
    where = f"{DEFINITION}.BaselineConfig"
    constraints, statistics = baseline_files(definition, roots)
    if constraints.parent != statistics.parent:
        raise invalid(
            f"{where}: the constraints and statistics must be in one folder; the "
            "baselining job writes both."
        )
    if constraints.is_file() and statistics.is_file():
        return
    environment = definition.get("Environment") or {}
    dataset = environment.get(DATASET)
    if not dataset:
        raise invalid(
            f"{where}: {constraints} does not exist and Environment.{DATASET} names no "
            "dataset to suggest a baseline from."
        )
    path = local(roots, dataset, f"{DEFINITION}.Environment.{DATASET}")
    try:
        baseline(
            path,
            constraints.parent,
            roots.project,
            environment.get(DRIFT_PSI),
            environment.get(MISSING_PERCENT),
        )
    except JobFailed as exc:
        raise invalid(f"The baselining job over {dataset} failed: {exc}") from None
    if not (constraints.is_file() and statistics.is_file()):
        raise invalid(
            f"The baselining job over {dataset} wrote no {constraints.name} and "
            f"{statistics.name} in {constraints.parent}."
        )


def endpoint_of(definition: dict) -> str:
    inputs = definition.get("MonitoringInputs") or []
    endpoints = [i["EndpointInput"]["EndpointName"] for i in inputs if i.get("EndpointInput")]
    if len(endpoints) != 1 or len(inputs) != 1:
        raise invalid(
            f"{DEFINITION}.MonitoringInputs: the local emulator monitors exactly one EndpointInput."
        )
    return endpoints[0]


def report_output(definition: dict) -> dict:
    """The S3Output the reports go to."""
    outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
    if not outputs or not (outputs[0].get("S3Output") or {}).get("S3Uri"):
        raise invalid(f"{DEFINITION}.MonitoringOutputConfig needs one S3Output for reports.")
    return outputs[0]["S3Output"]


def reports_uri(definition: dict) -> str:
    return report_output(definition)["S3Uri"]


def baseline_files(definition: dict, roots: Roots) -> tuple[Path, Path]:
    """The baseline's constraints.json and statistics.json."""
    where = f"{DEFINITION}.BaselineConfig"
    config = definition.get("BaselineConfig") or {}
    constraints = (config.get("ConstraintsResource") or {}).get("S3Uri")
    statistics = (config.get("StatisticsResource") or {}).get("S3Uri")
    if not constraints or not statistics:
        raise invalid(
            f"{where} needs ConstraintsResource and StatisticsResource: the local emulator "
            "compares the captured data with a baseline."
        )
    return (
        local(roots, constraints, f"{where}.ConstraintsResource.S3Uri"),
        local(roots, statistics, f"{where}.StatisticsResource.S3Uri"),
    )


def local(roots: Roots, uri: str, where: str) -> Path:
    """A location of the definition, confined to the project and state folders."""
    try:
        return roots.confine(uri)
    except NotLocal:
        raise invalid(
            f"{where}: {uri} is not reachable from the local emulator, which reads and "
            "writes local paths and file: URIs only."
        ) from None
    except PathRefused as exc:
        raise invalid(f"{where}: {exc.message}") from None
