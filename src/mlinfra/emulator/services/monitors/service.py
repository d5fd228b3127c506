"""Model Monitor in the emulator: monitoring schedules and the executions they run.

Schedules and executions are records like every other (`monitoring-schedule`,
`monitoring-execution`). An execution is also the processing job SageMaker would run for it,
so one record, keyed by the job's name (`model-monitoring-<yyyymmddhhmm>-<hash>`), answers
both ListMonitoringExecutions and (through `services/jobs/processing.py`) DescribeProcessingJob.

DataQuality and ModelQuality monitoring with an inline MonitoringJobDefinition run locally
(`definition.py`); a ModelQuality execution judges the predictions captured in its window
against their ground-truth labels and, on its rollback line, rejects the serving version.
Creating or updating a DataQuality schedule makes its baseline first if the baseline files
are missing (Model Monitor's suggest_baseline, run synchronously: it takes well under a
second), so a bad dataset is a ValidationException at apply time, not a failed execution at
midnight.

Each execution analyses what the endpoint captured since the previous successful execution
(`executions.py`), writes Model Monitor's report files to `<reports>/<job name>/`, and on
violations sends the monitor's alerts and starts its retraining pipeline. An execution the
emulator's stop interrupts says Failed when the emulator comes back, as pipeline executions do.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import ApiError, invalid, not_found
from mlinfra.emulator.kit.paging import descending
from mlinfra.emulator.kit.paths import Roots
from mlinfra.emulator.kit.records import Kind, Listing, output, shaped
from mlinfra.emulator.kit.times import epoch
from mlinfra.emulator.services.endpoints import Endpoints
from mlinfra.emulator.services.monitors import definition
from mlinfra.emulator.services.monitors.alerts import AlertLog
from mlinfra.emulator.services.monitors.executions import (
    DEFAULT_MAX_RUNTIME,
    EXECUTION,
    Runner,
    abandon_interrupted,
    iso,
)
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

SCHEDULE = resources.MONITORING_SCHEDULE.arn_kind
ANALYSED = ("Completed", "CompletedWithViolations")  # the data up to their time was seen
CONFIG = definition.CONFIG


class Monitors:
    """Monitoring schedules and their executions: the control plane's Model Monitor operations.

    A schedule monitors an endpoint of `endpoints`; `call`, the control plane's dispatch,
    starts the retraining pipeline of an execution that found violations."""

    OPERATIONS = (
        "CreateMonitoringSchedule", "DescribeMonitoringSchedule", "ListMonitoringSchedules",
        "UpdateMonitoringSchedule", "DeleteMonitoringSchedule", "StartMonitoringSchedule",
        "StopMonitoringSchedule", "ListMonitoringExecutions",
    )  # fmt: skip
    KINDS = (Kind.of(resources.MONITORING_SCHEDULE),)

    def __init__(
        self,
        store: Store,
        listing: Listing,
        roots: Roots,
        endpoints: Endpoints,
        call: Callable[[str, dict, str], dict],
    ) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots
        self.endpoints = endpoints
        self.folder: Path = roots.state / "monitors"
        self.runner = Runner(store, roots, endpoints.capture_destination, call, self.folder)
        abandon_interrupted(self.store)

    # --- schedules -------------------------------------------------------------------------

    def create_monitoring_schedule(self, p: dict, region: str) -> dict:
        name = p["MonitoringScheduleName"]
        if self.store.get(SCHEDULE, name):
            raise ApiError(
                "ResourceInUse",
                f"Monitoring schedule {arn(region, SCHEDULE, name)} already exists.",
            )
        config, endpoint = self._checked(p[CONFIG], region)
        now = time.time()
        record = {
            "MonitoringScheduleName": name,
            "MonitoringScheduleArn": arn(region, SCHEDULE, name),
            "MonitoringScheduleStatus": "Scheduled",
            "MonitoringType": config["MonitoringType"],
            CONFIG: config,
            "EndpointName": endpoint,
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tags": p.get("Tags", []),
            "_Region": region,
        }
        self.store.put(SCHEDULE, name, record, now)
        return {"MonitoringScheduleArn": record["MonitoringScheduleArn"]}

    def describe_monitoring_schedule(self, p: dict, region: str) -> dict:
        record = dict(self.schedule(p["MonitoringScheduleName"]))
        latest = self._executions(record["MonitoringScheduleName"])
        if latest:
            record["LastMonitoringExecutionSummary"] = max(
                latest, key=lambda r: (r["ScheduledTime"], r["CreationTime"])
            )
        return output("DescribeMonitoringSchedule", record)

    def list_monitoring_schedules(self, p: dict, region: str) -> dict:
        endpoint, status = p.get("EndpointName"), p.get("StatusEquals")
        kind = p.get("MonitoringTypeEquals")

        def keep(r: dict) -> bool:
            return (
                (endpoint is None or r.get("EndpointName") == endpoint)
                and (status is None or r["MonitoringScheduleStatus"] == status)
                and (kind is None or r["MonitoringType"] == kind)
            )

        if p.get("SortBy") == "Status":
            p = dict(p, SortBy="MonitoringScheduleStatus")
        return self.listing.list(
            "ListMonitoringSchedules", SCHEDULE, p, "MonitoringScheduleName", keep=keep
        )

    def update_monitoring_schedule(self, p: dict, region: str) -> dict:
        record = self.schedule(p["MonitoringScheduleName"])
        config, endpoint = self._checked(p[CONFIG], region)
        record.update(
            {
                CONFIG: config,
                "MonitoringType": config["MonitoringType"],
                "EndpointName": endpoint,
                "LastModifiedTime": time.time(),
            }
        )
        self._put_schedule(record)
        return {"MonitoringScheduleArn": record["MonitoringScheduleArn"]}

    def delete_monitoring_schedule(self, p: dict, region: str) -> None:
        # Its executions stay, as processing jobs do on AWS: their reports remain readable.
        record = self.schedule(p["MonitoringScheduleName"])
        self.store.delete(SCHEDULE, record["MonitoringScheduleName"])

    def start_monitoring_schedule(self, p: dict, region: str) -> None:
        self._set_status(p["MonitoringScheduleName"], "Scheduled")

    def stop_monitoring_schedule(self, p: dict, region: str) -> None:
        self._set_status(p["MonitoringScheduleName"], "Stopped")

    def schedule(self, name: str) -> dict:
        record = self.store.get(SCHEDULE, name)
        if record is None:
            raise not_found(f"Monitoring schedule {name} does not exist.")
        return record

    def _set_status(self, name: str, status: str) -> None:
        record = self.schedule(name)
        if record["MonitoringScheduleStatus"] != status:
            # LastModifiedTime is where the scheduler counts from: a restarted schedule does
            # not catch up on the runs it missed while stopped.
            record.update(MonitoringScheduleStatus=status, LastModifiedTime=time.time())
            self._put_schedule(record)

    def _put_schedule(self, record: dict) -> None:
        self.store.put(SCHEDULE, record["MonitoringScheduleName"], record, record["CreationTime"])

    def _checked(self, config: dict, region: str) -> tuple[dict, str]:
        checked, endpoint = definition.check(config, self.roots)
        self.endpoints.endpoint(endpoint, region)  # must exist, as on AWS
        return checked, endpoint

    # --- executions ------------------------------------------------------------------------

    def start_execution(self, name: str, scheduled: datetime | float, since: str | None = None):
        """Start one execution of a schedule, analysing the capture up to `scheduled`.

        `since` is where the analysed window opens (ISO time); by default where the previous
        completed execution's window closed, so no captured request is analysed twice.
        Starting the same schedule for the same time twice gives the one execution.
        """
        when = scheduled.timestamp() if isinstance(scheduled, datetime) else float(scheduled)
        with self.store.lock:
            schedule = self.schedule(name)
            job = _job_name(schedule["MonitoringScheduleArn"], when)
            existing = self.store.get(EXECUTION, job)
            if existing is not None:
                return existing
            record = self._new_execution(schedule, job, when, since)
            self.store.put(EXECUTION, job, record, record["CreationTime"])
            self.runner.start(job)
        return record

    def _new_execution(self, schedule: dict, job: str, when: float, since: str | None) -> dict:
        spec = schedule[CONFIG]["MonitoringJobDefinition"]
        kind = schedule[CONFIG]["MonitoringType"]
        region = schedule["_Region"]
        roots = self.roots
        if kind == "ModelQuality":
            labels = definition.ground_truth(spec.get("Environment") or {}, roots)
            read_from = {"GroundTruthFolder": str(labels)}
        else:
            constraints, _ = definition.baseline_files(spec, roots)
            read_from = {"BaselineFolder": str(constraints.parent)}
        output = definition.report_output(spec)
        report_uri = f"{output['S3Uri'].rstrip('/')}/{job}"
        if since is None:
            since = self._since(schedule["MonitoringScheduleName"], when)
        now = time.time()
        return {
            "MonitoringScheduleName": schedule["MonitoringScheduleName"],
            "MonitoringScheduleArn": schedule["MonitoringScheduleArn"],
            "MonitoringType": kind,
            "MonitoringExecutionStatus": "Pending",
            "ScheduledTime": when,
            "CreationTime": now,
            "LastModifiedTime": now,
            "EndpointName": schedule["EndpointName"],
            "ProcessingJobName": job,
            "ProcessingJobArn": arn(region, "processing-job", job),
            "ProcessingJobStatus": "InProgress",
            "ProcessingInputs": _inputs(spec) if kind == "DataQuality" else [],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "result",
                        "S3Output": {
                            "S3Uri": report_uri,
                            "LocalPath": output.get("LocalPath", "/opt/ml/processing/output"),
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": (spec.get("MonitoringResources") or {}).get("ClusterConfig", {})
            },
            "StoppingCondition": spec.get("StoppingCondition")
            or {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME},
            "AppSpecification": spec.get("MonitoringAppSpecification", {}),
            "Environment": spec.get("Environment", {}),
            "RoleArn": spec.get("RoleArn"),
            # mlinfra's own fields, surfaced by the emulator's private execution route.
            "ReportUri": report_uri,
            "ReportFolder": str(definition.local(roots, report_uri, "report")),
            **read_from,
            "Since": since,
            "Until": iso(when),
            "_Region": region,
        }

    def _since(self, name: str, before: float) -> str | None:
        done = [
            r["ScheduledTime"]
            for r in self._executions(name)
            if r["MonitoringExecutionStatus"] in ANALYSED and r["ScheduledTime"] < before
        ]
        return iso(max(done)) if done else None

    def list_monitoring_executions(self, p: dict, region: str) -> dict:
        filters = (
            ("MonitoringScheduleName", lambda r, v: r["MonitoringScheduleName"] == v),
            ("EndpointName", lambda r, v: r.get("EndpointName") == v),
            ("StatusEquals", lambda r, v: r["MonitoringExecutionStatus"] == v),
            ("MonitoringTypeEquals", lambda r, v: r["MonitoringType"] == v),
            ("ScheduledTimeBefore", lambda r, v: r["ScheduledTime"] < epoch(v)),
            ("ScheduledTimeAfter", lambda r, v: r["ScheduledTime"] > epoch(v)),
            ("CreationTimeBefore", lambda r, v: r["CreationTime"] < epoch(v)),
            ("CreationTimeAfter", lambda r, v: r["CreationTime"] > epoch(v)),
            ("LastModifiedTimeBefore", lambda r, v: r["LastModifiedTime"] < epoch(v)),
            ("LastModifiedTimeAfter", lambda r, v: r["LastModifiedTime"] > epoch(v)),
        )
        records = self.store.all(EXECUTION)
        for key, test in filters:
            if key in p:
                records = [r for r in records if test(r, p[key])]
        # AWS sorts by CreationTime unless asked otherwise.
        sort_by = p.get("SortBy", "CreationTime")
        field = {"Status": "MonitoringExecutionStatus"}.get(sort_by, sort_by)
        records.sort(key=lambda r: (r.get(field), r["CreationTime"]))
        if descending("ListMonitoringExecutions", p):
            records.reverse()
        return self.listing.page("ListMonitoringExecutions", records, p)

    def execution(self, job: str) -> dict:
        record = self.store.get(EXECUTION, job)
        if record is None:
            raise not_found(f"Processing job {job} does not exist.")
        return record

    # --- mlinfra's private routes ----------------------------------------------------------

    def run_now(self, name: str, since: str | None = None) -> dict:
        """Start an execution now (`mlinfra monitor run`); its summary."""
        if since is not None:
            try:
                moment = datetime.fromisoformat(since)
                since = iso((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
            except (TypeError, ValueError, OverflowError):
                # Not a time, or one whose UTC moment falls outside the years 1-9999.
                raise invalid(f"since: {since!r} is not an ISO 8601 time.") from None
        return self.summary(self.start_execution(name, time.time(), since))

    def detail(self, name: str, job: str) -> dict:
        """One execution's whole record: report folder, window, alerts, retraining."""
        record = self.execution(job)
        if record["MonitoringScheduleName"] != name:
            raise not_found(f"Monitoring schedule {name} has no execution {job}.")
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def alerts(self, name: str) -> list[dict]:
        log_ = AlertLog(self.folder / name)
        if self.store.get(SCHEDULE, name) is None and not log_.path.exists():
            raise not_found(f"Monitoring schedule {name} does not exist.")
        return log_.read()

    @staticmethod
    def summary(record: dict) -> dict:
        return {
            **shaped("MonitoringExecutionSummary", record),
            "ProcessingJobName": record["ProcessingJobName"],
            "ReportUri": record["ReportUri"],
            "ReportFolder": record["ReportFolder"],
        }

    def close(self) -> None:
        self.runner.close()

    def _executions(self, name: str) -> list[dict]:
        return [r for r in self.store.all(EXECUTION) if r["MonitoringScheduleName"] == name]


def _inputs(spec: dict) -> list[dict]:
    """The processing job's baseline inputs, as SageMaker lists them."""
    baseline_config = spec.get("BaselineConfig") or {}
    found = []
    for name, key in (("baseline", "ConstraintsResource"), ("statistics", "StatisticsResource")):
        found.append(
            {
                "InputName": name,
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": baseline_config[key]["S3Uri"],
                    "LocalPath": f"/opt/ml/processing/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        )
    return found


def _job_name(schedule_arn: str, when: float) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y%m%d%H%M")
    digest = hashlib.sha256(f"{schedule_arn}@{when:.6f}".encode()).hexdigest()[:24]
    return f"model-monitoring-{stamp}-{digest}"
