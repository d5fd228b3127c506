"""Running monitoring executions: the analysis job, then alerts and retraining on violations.

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
from mlinfra.emulator.kit.paths import PathRefused, Roots
from mlinfra.emulator.services.monitors.alerts import AlertLog, deliver
from mlinfra.emulator.services.monitors.definition import ALERT_TARGETS, RETRAIN_PIPELINE
from mlinfra.emulator.services.monitors.jobs import Job, JobFailed, read_violations
from mlinfra.emulator.store import Store
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
                self.roots.confine(record["BaselineFolder"])
            except (ExecutionFailure, PathRefused) as failure:
                self.store.put(EXECUTION, job, record, record["CreationTime"])
                self._finish(job, "Failed", str(failure))
                return
            self.store.put(EXECUTION, job, record, record["CreationTime"])
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
        responses = self._respond(record, status, violations) if violations else {}
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

    def _respond(self, record: dict, status: str, violations: list[dict]) -> dict:
        """Alert every target and start the retraining pipeline; what to record of it.

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
        entry = {"monitor": name, "execution": job, "violations": len(violations)}
        outcomes = []
        for target in json.loads(environment.get(ALERT_TARGETS) or "[]"):
            delivered, detail = deliver(target, payload)
            alert_log.append(
                {"time": iso(time.time()), **entry, "target": target, "delivered": delivered,
                 "detail": detail}
            )  # fmt: skip
            outcomes.append({"target": target, "delivered": delivered, "detail": detail})
        updates: dict[str, Any] = {"Alerts": outcomes}
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
