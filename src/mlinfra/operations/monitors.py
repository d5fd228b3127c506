"""Monitors in the local emulator: run one now, list its runs, read its latest result and its
alerts (`mlinfra monitor run|runs|report|alerts`).

The schedule itself is a SageMaker monitoring schedule in the emulator, read with boto3
(ListMonitoringExecutions, DescribeProcessingJob) as a user's own code would. Running one now
and reading its alert log have no SageMaker API, so they use the emulator's own routes
(`/_mlinfra/monitoring-schedules/...`).
"""

from __future__ import annotations

import json
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlinfra.emulator.access import Access
from mlinfra.operations.emulator import access, call, client, component, named
from mlinfra.operations.environment import local_environment
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import MonitorStarted, Progress

POLL_SECONDS = 0.3
ROUTE_TIMEOUT = 30
FINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
WITH_RESULTS = ("Completed", "CompletedWithViolations")
CREATED_BY = "create it with `mlinfra apply --env {env}`"
MODEL_QUALITY = "model_quality"
HISTORY = 100  # runs a quality report draws, the latest last


@dataclass(frozen=True)
class MonitorRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    name: str  # the monitor as the spec names it


@dataclass(frozen=True)
class Monitor:
    """What the operations need of a monitor: its names, spec fields and the emulator."""

    name: str
    env: str
    physical: str  # the monitoring schedule's name in the emulator
    schedule: str
    type: str  # data_quality | model_quality
    endpoint: str  # as the spec names it
    endpoint_name: str  # the endpoint's name in the emulator
    client: Any
    access: Access
    root: Path  # the spec's folder, where the emulator writes reports


@dataclass(frozen=True)
class MonitorRun:
    """One execution: its record, and what it found when it produced results (a
    `monitoring.report` result)."""

    monitor: Monitor
    record: dict[str, Any]
    result: Any = None
    # A model-quality monitor's runs with results (`monitoring.quality_report.QualityRun`),
    # oldest first: the one run, or for a report every run up to it.
    quality: tuple = ()

    @property
    def job(self) -> str:
        return job_name(self.record)


def run(request: MonitorRequest, wait: bool, progress: Progress) -> MonitorRun | None:
    """Start the monitor's analysis now; with `wait`, wait for it and read what it found."""
    monitor = _monitor(request)
    job = job_name(_route(monitor, "POST", "executions", {}))
    progress(MonitorStarted(request.name, job))
    if not wait:
        return None
    record = _wait(monitor, job)
    if record.get("MonitoringExecutionStatus", "") not in WITH_RESULTS:
        return MonitorRun(monitor, record)
    if monitor.type == MODEL_QUALITY:
        return MonitorRun(monitor, record, quality=(_load_quality(monitor, record),))
    return MonitorRun(monitor, record, _load(_report_folder(monitor, record)))


def runs(request: MonitorRequest, limit: int) -> tuple[dict[str, Any], ...]:
    """The monitor's executions, newest first, at most `limit`."""
    return tuple(_executions(_monitor(request), limit))


def report(request: MonitorRequest, job: str | None) -> MonitorRun:
    """The execution `job` (None: the latest that produced results) and what it found."""
    monitor = _monitor(request)
    record = _latest_result(monitor, job)
    if monitor.type == MODEL_QUALITY:
        return MonitorRun(monitor, record, quality=_quality_history(monitor, record))
    return MonitorRun(monitor, record, _load(_report_folder(monitor, record)))


def alerts(request: MonitorRequest, limit: int) -> tuple[dict[str, Any], ...]:
    """The alerts the monitor sent (webhooks posted to, emails recorded), the last `limit`."""
    monitor = _monitor(request)
    return tuple(_route(monitor, "GET", "alerts").get("alerts", [])[-limit:])


def job_name(record: dict[str, Any]) -> str:
    return str(record.get("ProcessingJobArn", "")).rsplit("/", 1)[-1]


# --- helpers -------------------------------------------------------------------------------


def _monitor(request: MonitorRequest) -> Monitor:
    spec_file, env, name = request.spec_file, request.env, request.name
    spec = local_environment(request.validation, env, spec_file)
    found = component(spec, "monitor", name, spec_file)
    physical = named(spec, name, "monitoring_schedule")
    sagemaker = client(spec_file, spec.region)
    try:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName=physical)
    except sagemaker.exceptions.ResourceNotFound:
        raise OperationError(
            f"monitor {physical} does not exist in the emulator yet", CREATED_BY.format(env=env)
        ) from None
    except sagemaker.exceptions.ClientError as exc:
        raise OperationError(f"monitor {physical}: {exc}") from None
    return Monitor(
        name=name,
        env=env,
        physical=physical,
        schedule=found.schedule,
        type=found.type,
        endpoint=found.endpoint,
        endpoint_name=named(spec, found.endpoint, "endpoint"),
        client=sagemaker,
        access=access(spec_file, spec.region),
        root=Path(spec_file).resolve().parent,
    )


def _route(monitor: Monitor, method: str, tail: str, body: Any = None) -> dict[str, Any]:
    """Call one of the emulator's monitoring routes (signed); an error with its reason."""
    reach = monitor.access
    path = f"/_mlinfra/monitoring-schedules/{quote(monitor.physical, safe='')}/{tail}"
    data = b"" if body is None else json.dumps(body).encode()
    request = reach.request(method, path, data, "application/json" if body is not None else None)
    try:
        with reach.open(request, timeout=ROUTE_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            error = {}
        raise OperationError(
            f"{error.get('__type', f'HTTP {exc.code}')}: {error.get('message', exc.reason)}"
        ) from None
    except (OSError, ValueError) as exc:
        raise OperationError(
            f"cannot reach the emulator at {reach.url}: {getattr(exc, 'reason', exc)}",
            "check it with `mlinfra emulator status`",
        ) from None


def _executions(monitor: Monitor, limit: int) -> list[dict[str, Any]]:
    return call(
        monitor.client.list_monitoring_executions,
        MonitoringScheduleName=monitor.physical,
        SortBy="ScheduledTime",
        SortOrder="Descending",
        MaxResults=limit,
    )["MonitoringExecutionSummaries"]


def _wait(monitor: Monitor, job: str) -> dict[str, Any]:
    while True:
        record = _route(monitor, "GET", f"executions/{quote(job, safe='')}")
        if record.get("MonitoringExecutionStatus") in FINAL:
            return record
        time.sleep(POLL_SECONDS)


def _latest_result(monitor: Monitor, job: str | None) -> dict[str, Any]:
    """The execution to report: the one named, or the latest that produced results."""
    if job is not None:
        return _route(monitor, "GET", f"executions/{quote(job, safe='')}")
    for summary in _executions(monitor, 100):
        if summary["MonitoringExecutionStatus"] in WITH_RESULTS:
            return summary
    raise OperationError(
        f"monitor {monitor.name} has no results yet",
        f"run it with `mlinfra monitor run {monitor.name} --env {monitor.env}` after sending "
        "traffic",
    )


def _report_folder(monitor: Monitor, record: dict[str, Any]) -> Path:
    """Where the execution wrote its reports, from its processing job's output."""
    described = call(monitor.client.describe_processing_job, ProcessingJobName=job_name(record))
    uri = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return monitor.root / uri.removeprefix("file:")


def _load(folder: Path):
    # Deferred: the report module loads jinja2, which only reading a result needs.
    from mlinfra.monitoring.report import ReportError, load_result

    try:
        return load_result(folder)
    except ReportError as exc:
        raise OperationError(str(exc)) from None


def _load_quality(monitor: Monitor, record: dict[str, Any]):
    """A quality run's result, with what its rollback did (the execution's record says)."""
    # Deferred: the report module loads jinja2, which only reading a result needs.
    from mlinfra.monitoring.quality_report import read_quality
    from mlinfra.monitoring.report import ReportError

    rollback = (record.get("Rollback") or {}).get("message")
    try:
        return read_quality(_report_folder(monitor, record), job_name(record), rollback)
    except ReportError as exc:
        raise OperationError(str(exc)) from None


def _quality_history(monitor: Monitor, record: dict[str, Any]) -> tuple:
    """Every run with results up to `record`'s, oldest first (at most HISTORY)."""
    wanted = job_name(record)
    summaries = [s for s in _executions(monitor, HISTORY) if s["MonitoringExecutionStatus"]
                 in WITH_RESULTS]  # fmt: skip
    jobs = [job_name(s) for s in summaries]
    if wanted in jobs:
        summaries = summaries[jobs.index(wanted) :]
    runs = []
    for summary in reversed(summaries):
        # The summary lacks the rollback: the execution's own record has it.
        full = _route(monitor, "GET", f"executions/{quote(job_name(summary), safe='')}")
        runs.append(_load_quality(monitor, full))
    if not runs or runs[-1].job != wanted:
        runs.append(_load_quality(monitor, record))
    return tuple(runs)
