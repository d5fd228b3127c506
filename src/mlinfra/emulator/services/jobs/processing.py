"""SageMaker processing jobs: CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs,
StopProcessingJob.

A job runs as a pipeline's processing step does (`containers.Container`), in
`<state>/jobs/processing-job/<name>/`: its inputs staged under `/opt/ml/processing/...`, its
entrypoint run with the emulator's Python, its outputs published to their S3Uri.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import Container, Locations
from mlinfra.emulator.kit.paths import Roots
from mlinfra.emulator.kit.records import Listing, output
from mlinfra.emulator.services.jobs.lifecycle import (
    JobKind,
    Jobs,
    checked_location,
    fresh,
    no_lineage,
)
from mlinfra.emulator.store import Store

PROCESSING = JobKind("ProcessingJob", "processing-job", "Processing")


class ProcessingJobs:
    """The processing job operations."""

    OPERATIONS = (
        "CreateProcessingJob", "DescribeProcessingJob", "ListProcessingJobs",
        "StopProcessingJob",
    )  # fmt: skip
    KINDS = (PROCESSING.store_kind(),)

    def __init__(
        self,
        store: Store,
        listing: Listing,
        roots: Roots,
        locations: Locations,
        monitoring_job: Callable[[str], dict],
    ) -> None:
        """`monitoring_job` is the processing job of a monitoring execution, by name, or
        ResourceNotFound: the monitors service keeps those."""
        self.roots = roots
        self.monitoring_job = monitoring_job
        self.locations = locations
        self.jobs = Jobs(store, listing, PROCESSING, roots.state / "jobs" / PROCESSING.arn_kind)

    def create_processing_job(self, p: dict, region: str) -> dict:
        for index, item in enumerate(p.get("ProcessingInputs", ()), start=1):
            uri = (item.get("S3Input") or {}).get("S3Uri")
            if uri:
                checked_location(self.roots.confine, uri, f"ProcessingInputs[{index}].S3Uri")
        outputs = (p.get("ProcessingOutputConfig") or {}).get("Outputs", ())
        for index, item in enumerate(outputs, start=1):
            uri = (item.get("S3Output") or {}).get("S3Uri")
            if uri:
                where = f"ProcessingOutputConfig.Outputs[{index}].S3Uri"
                checked_location(self.roots.confine, uri, where)
        folder = self.jobs.job_folder(p["ProcessingJobName"])
        record = self.jobs.create(p, region)
        self.jobs.start(record, _Processing(self.locations, record, folder))
        return {"ProcessingJobArn": record["ProcessingJobArn"]}

    def describe_processing_job(self, p: dict, region: str) -> dict:
        name = p["ProcessingJobName"]
        if self.jobs.store.get(PROCESSING.arn_kind, name) is None:
            # A monitoring execution's job, or ResourceNotFound, as the model lists it.
            return output("DescribeProcessingJob", self.monitoring_job(name))
        return self.jobs.describe(name, "DescribeProcessingJob")

    def list_processing_jobs(self, p: dict, region: str) -> dict:
        return self.jobs.list("ListProcessingJobs", p)

    def stop_processing_job(self, p: dict, region: str) -> None:
        self.jobs.stop(p["ProcessingJobName"])

    def close(self) -> None:
        self.jobs.close()


class _Processing:
    """One processing job's work, on its thread."""

    def __init__(self, locations: Locations, record: dict, folder: Path) -> None:
        self.record = record
        self.folder = folder
        self.container = Container(locations)

    def run(self) -> dict[str, Any]:
        fresh(self.folder)
        name, arn = self.record["ProcessingJobName"], self.record["ProcessingJobArn"]
        self.container.stage_processing(self.record, self.folder, no_lineage)
        self.container.run_processing(self.record, self.folder, name, arn, no_lineage)
        return {}

    def stop(self) -> None:
        self.container.stop()
