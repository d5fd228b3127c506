"""Running monitoring executions: the analysis job, then alerts and retraining on violations.

A ModelQuality execution runs the quality job instead (captured predictions against their
labels); its violations are the lines the metric crossed. Below (or, for an error metric,
above) the rollback line, the version the endpoint serves is marked `Rejected` in the
registry with the reason (`ApprovalDescription`), so that the newest approved version before
it is the registry's latest approved again: what the local endpoint serves after the next
`mlinfra apply`, which `mlinfra plan` shows as that change. The alert says both.

Each execution runs on its own background thread: it finds what the endpoint captured, runs
the analysis (`jobs.Job`) over the window its record names, reads the violations, and only
then writes its final status, so whoever waits for the end (`mlinfra monitor run`) finds the
alerts already sent and the retraining already started. The store's lock is held only around
record updates, never around a job or a webhook.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.services.monitors import definition
from mlinfra.emulator.services.monitors.alerts import AlertLog, deliver
from mlinfra.emulator.services.monitors.definition import ALERT_TARGETS, RETRAIN_PIPELINE
from mlinfra.emulator.services.monitors.jobs import Job, JobFailed, read_violations
from mlinfra.emulator.store import Store
from mlinfra.monitoring.quality_metrics import QUALITY_FILE
from mlinfra.monitoring.rollback import ApiFailure, registered_metric, roll_back, serving_package
from mlinfra.sagemaker import resources

EXECUTION = "monitoring-execution"
RUNNING = ("Pending", "InProgress")
DEFAULT_MAX_RUNTIME = 3600
STOPPED = "The emulator stopped while this execution ran."
# What each execution status is as a processing job.
JOB_STATUS = {
    "Pending": "InProgress",
    "InProgress": "InProgress",
    "Completed": "Completed",
    "CompletedWithViolations": "Completed",
    "Failed": "Failed",
}

log = logging.getLogger("mlinfra.emulator.monitoring")


class ExecutionFailure(Exception):
    """Why an execution cannot run: becomes its FailureReason."""


class Runner:
    """Runs executions, each on a thread, writing their outcome to their records."""

    def __init__(
        self,
        store: Store,
        roots: Roots,
        capture_destination: Callable[[dict, str], Path],
        call: Callable[[str, dict, str], dict],
        alerts_folder: Path,
    ) -> None:
        """`capture_destination` is where an endpoint's capture config writes
        (`Endpoints.capture_destination`); `call`, the control plane's dispatch, starts
        retraining pipelines."""
        self.store = store
        self.roots = roots
        self.capture_destination = capture_destination
        self.call = call
        self.alerts_folder = alerts_folder
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._closing = threading.Event()

    def start(self, job: str) -> None:
        thread = threading.Thread(target=self._run, args=(job,), name=f"monitor-{job}", daemon=True)
        self._threads[job] = thread
        thread.start()

    def close(self) -> None:
        self._closing.set()
        for job in list(self._jobs.values()):
            job.stop()
        for thread in list(self._threads.values()):
            thread.join(10)

    def _run(self, job: str) -> None:
        try:
            self._execute(job)
        except Exception as exc:  # never leave a record InProgress because of a bug
            log.exception("monitoring execution %s", job)
            self._finish(job, "Failed", f"Internal error in the emulator: {type(exc).__name__}")
        finally:
            self._jobs.pop(job, None)
            self._threads.pop(job, None)

    def _execute(self, job: str) -> None:
        with self.store.lock:
            record = self.store.get(EXECUTION, job)
            if record is None:
                return
            now = time.time()
            record.update(
                MonitoringExecutionStatus="InProgress",
                ProcessingStartTime=now,
                LastModifiedTime=now,
            )
            try:
                record["CaptureFolder"] = str(self._capture_folder(record["EndpointName"]))
                # Checked again now: a folder may have become a link out since it was named.
                report = self.roots.confine(record["ReportFolder"])
                for folder in ("BaselineFolder", "GroundTruthFolder"):
                    if folder in record:
                        self.roots.confine(record[folder])
            except (ExecutionFailure, PathRefused) as failure:
                self.store.put(EXECUTION, job, record, record["CreationTime"])
                self._finish(job, "Failed", str(failure))
                return
            self.store.put(EXECUTION, job, record, record["CreationTime"])
        package = None
        if record["MonitoringType"] == "ModelQuality":
            package = self._serving_package(record)
            args = self._quality_args(record, report, package)
        else:
            args = ["analyse", "--baseline", record["BaselineFolder"]]
            args += ["--capture", record["CaptureFolder"], "--features-from-baseline"]
            args += ["--output", str(report)]
            if record.get("Since"):
                args += ["--since", record["Since"]]
            args += ["--until", record["Until"]]
        runner = Job(args, self.roots.project)
        self._jobs[job] = runner
        if self._closing.is_set():
            runner.stop()
        limit = float(record["StoppingCondition"].get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME))
        try:
            report.mkdir(parents=True, exist_ok=True)
            runner.run(limit)
            violations = read_violations(report)
        except (JobFailed, OSError) as exc:
            self._finish(job, "Failed", str(exc))
            return
        status = "CompletedWithViolations" if violations else "Completed"
        responses = self._respond(record, status, violations, package) if violations else {}
        self._finish(job, status, violations=violations, updates=responses)

    def _capture_folder(self, endpoint_name: str) -> Path:
        """Where the endpoint's captured requests are: its DestinationS3Uri + /<endpoint>."""
        endpoint = self.store.get(resources.ENDPOINT.arn_kind, endpoint_name)
        if endpoint is None:
            raise ExecutionFailure(f"Endpoint {endpoint_name} does not exist.")
        config_name = endpoint["EndpointConfigName"]
        config = self.store.get(resources.ENDPOINT_CONFIG.arn_kind, config_name) or {}
        capture = config.get("DataCaptureConfig")
        if not capture or not capture.get("EnableCapture", True):
            raise ExecutionFailure(
                f"Endpoint {endpoint_name} does not capture data (its endpoint configuration "
                f"{config_name} has no enabled DataCaptureConfig), so there is nothing to "
                "monitor; enable data_capture on the endpoint."
            )
        destination = self.capture_destination(capture, endpoint_name)
        return self.roots.confine(destination / endpoint_name)

    def _finish(
        self,
        job: str,
        status: str,
        reason: str | None = None,
        violations: list | None = None,
        updates: dict | None = None,
    ) -> None:
        with self.store.lock:
            record = self.store.get(EXECUTION, job)
            if record is None:
                return
            now = time.time()
            record.update(
                MonitoringExecutionStatus=status,
                ProcessingJobStatus=JOB_STATUS[status],
                ProcessingEndTime=now,
                LastModifiedTime=now,
            )
            if reason:
                record.update(FailureReason=reason, ExitMessage=reason)
            elif violations:
                record["ExitMessage"] = (
                    f"CompletedWithViolations: Job completed successfully with "
                    f"{len(violations)} violations."
                )
            else:
                record["ExitMessage"] = "Completed: Job completed successfully with no violations."
            if violations is not None:
                record["Violations"] = len(violations)
            record.update(updates or {})
            self.store.put(EXECUTION, job, record, record["CreationTime"])

    def _respond(
        self, record: dict, status: str, violations: list[dict], package: dict | None = None
    ) -> dict:
        """Roll back (a quality monitor below its rollback line), alert every target and
        start the retraining pipeline; what to record of it.

        Runs without the store's lock: a webhook may take seconds, and starting the pipeline
        goes through the control plane's dispatch, which takes the lock itself.
        """
        name, job = record["MonitoringScheduleName"], record["ProcessingJobName"]
        environment = record.get("Environment") or {}
        alert_log = AlertLog(self.alerts_folder / name)
        payload = {
            "monitor": name,
            "endpoint": record["EndpointName"],
            "execution": job,
            "status": status,
            "violations": violations,
            "report": record["ReportFolder"],
            "time": iso(time.time()),
        }
        updates: dict[str, Any] = {}
        if record["MonitoringType"] == "ModelQuality":
            quality = read_quality(Path(record["ReportFolder"]))
            payload["quality"] = quality
            if (quality.get("rollback") or {}).get("crossed"):
                payload["rollback"] = updates["Rollback"] = self._roll_back(
                    record, quality, package
                )
        entry = {"monitor": name, "execution": job, "violations": len(violations)}
        if "rollback" in payload:
            entry["rollback"] = payload["rollback"]["message"]
        outcomes = []
        for target in json.loads(environment.get(ALERT_TARGETS) or "[]"):
            delivered, detail = deliver(target, payload)
            alert_log.append(
                {"time": iso(time.time()), **entry, "target": target, "delivered": delivered,
                 "detail": detail}
            )  # fmt: skip
            outcomes.append({"target": target, "delivered": delivered, "detail": detail})
        updates["Alerts"] = outcomes
        pipeline = environment.get(RETRAIN_PIPELINE)
        if pipeline:
            updates["RetrainPipelineName"] = pipeline
            arn, detail = self._retrain(pipeline, name, job, len(violations), record["_Region"])
            if arn:
                updates["RetrainPipelineExecutionArn"] = arn
            else:
                updates["RetrainFailure"] = detail
            alert_log.append(
                {"time": iso(time.time()), **entry, "target": f"retrain:{pipeline}",
                 "delivered": arn is not None, "detail": detail,
                 "pipeline_execution_arn": arn}
            )  # fmt: skip
        return updates

    # --- model quality -------------------------------------------------------------------

    def _quality_args(self, record: dict, report: Path, package: dict | None) -> list[str]:
        environment = record.get("Environment") or {}
        window, delay = definition.quality_seconds(environment)
        args = ["quality", "--capture", record["CaptureFolder"]]
        args += ["--ground-truth", record["GroundTruthFolder"], "--output", str(report)]
        args += ["--now", record["Until"], "--problem-type", environment[definition.PROBLEM_TYPE]]
        args += ["--metric", environment[definition.METRIC], "--window-seconds", f"{window:g}"]
        args += ["--label-delay-seconds", f"{delay:g}"]
        for flag, key in (
            ("--alert", definition.ALERT_LINE),
            ("--rollback", definition.ROLLBACK_LINE),
        ):
            if environment.get(key):
                args += [flag, environment[key]]
        reference = registered_metric(package, environment[definition.METRIC], self._read)
        if reference is not None:
            args += ["--reference", repr(reference)]
        return args

    def _sagemaker(self, region: str) -> Callable[[str, dict], dict]:
        """The control plane as the shared rollback code calls SageMaker (`rollback.Call`)."""

        def call(operation: str, request: dict) -> dict:
            try:
                return self.call(operation, request, region)
            except ApiError as exc:
                raise ApiFailure(exc.message) from None

        return call

    def _read(self, uri: str) -> bytes | None:
        """A file a registered version names (its evaluation report), if it is local."""
        try:
            return self.roots.confine(uri).read_bytes()
        except (NotLocal, PathRefused, OSError):
            return None

    def _serving_package(self, record: dict) -> dict | None:
        """The registry version the endpoint serves (DescribeModelPackage), if it serves one."""
        return serving_package(self._sagemaker(record["_Region"]), record["EndpointName"])

    def _roll_back(self, record: dict, quality: dict, package: dict | None) -> dict[str, Any]:
        """Reject the serving version: the same code the SageMaker monitor job runs."""
        return roll_back(
            self._sagemaker(record["_Region"]),
            quality,
            package,
            monitor=record["MonitoringScheduleName"],
            execution=record["ProcessingJobName"],
            endpoint=record["EndpointName"],
        )

    def _retrain(
        self, pipeline: str, monitor: str, job: str, count: int, region: str
    ) -> tuple[str | None, str]:
        """Start the retraining pipeline: (its execution ARN, detail), or (None, why not)."""
        request = {
            "PipelineName": pipeline,
            "PipelineExecutionDescription": (
                f"Retraining started by monitor {monitor}: execution {job} found "
                f"{count} violations."
            ),
        }
        try:
            started = self.call("StartPipelineExecution", request, region)
        except ApiError as exc:
            return None, f"retraining pipeline {pipeline} not started: {exc.message}"
        except Exception as exc:  # a bug in the pipelines runtime: recorded, not raised
            log.exception("starting retraining pipeline %s", pipeline)
            return None, f"retraining pipeline {pipeline} not started: {type(exc).__name__}"
        arn = started["PipelineExecutionArn"]
        return arn, f"started {arn}"


def read_quality(folder: Path) -> dict:
    """The quality.json a finished quality job wrote; an empty record when unreadable."""
    try:
        document = json.loads((folder / QUALITY_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def abandon_interrupted(store: Any) -> None:
    """Executions the emulator's stop cut short say so: their jobs died with it."""
    with store.lock:
        for record in store.all(EXECUTION):
            if record["MonitoringExecutionStatus"] in RUNNING:
                now = time.time()
                record.update(
                    MonitoringExecutionStatus="Failed",
                    ProcessingJobStatus="Failed",
                    FailureReason=STOPPED,
                    ExitMessage=STOPPED,
                    ProcessingEndTime=now,
                    LastModifiedTime=now,
                )
                store.put(EXECUTION, record["ProcessingJobName"], record, record["CreationTime"])


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
