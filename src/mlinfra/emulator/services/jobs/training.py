"""SageMaker training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs,
StopTrainingJob.

A script-mode job (the SDK's estimators: `sagemaker_program` and
`sagemaker_submit_directory` hyperparameters) runs as a pipeline's training step does
(`containers.Container`), in `<state>/jobs/training-job/<name>/`; its model is packed into
`<OutputDataConfig.S3OutputPath>/<name>/output/model.tar.gz`. The record moves through
SageMaker's secondary statuses (Starting, Downloading, Training, Uploading, then Completed,
Failed or Stopped), each a SecondaryStatusTransition.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import Container, Locations
from mlinfra.emulator.kit.paths import Roots
from mlinfra.emulator.kit.records import Listing
from mlinfra.emulator.services.jobs.lifecycle import (
    JobKind,
    Jobs,
    checked_location,
    fresh,
    no_lineage,
)
from mlinfra.emulator.store import Store

TRAINING = JobKind("TrainingJob", "training-job", "Training")
SECONDARY_END = {"Completed": "Completed", "Failed": "Failed", "Stopped": "Stopped"}


class TrainingJobs:
    """The training job operations."""

    OPERATIONS = (
        "CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob",
    )  # fmt: skip
    KINDS = (TRAINING.store_kind(),)

    def __init__(self, store: Store, listing: Listing, roots: Roots, locations: Locations) -> None:
        self.roots = roots
        self.locations = locations
        self.jobs = Jobs(store, listing, TRAINING, roots.state / "jobs" / TRAINING.arn_kind)

    def create_training_job(self, p: dict, region: str) -> dict:
        checked_location(self.roots.confine, p["OutputDataConfig"]["S3OutputPath"],
                         "OutputDataConfig.S3OutputPath")  # fmt: skip
        for channel in p.get("InputDataConfig", ()):
            uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
            if uri:
                checked_location(self.roots.confine, uri, f"channel {channel['ChannelName']}")
        folder = self.jobs.job_folder(p["TrainingJobName"])
        # Where the model will be, as the request names it, until the job has written it
        # (DescribeTrainingJob always carries ModelArtifacts).
        planned = f"{p['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{p['TrainingJobName']}"
        record = self.jobs.create(
            p,
            region,
            {
                "SecondaryStatus": "Starting",
                "ModelArtifacts": {"S3ModelArtifacts": f"{planned}/output/model.tar.gz"},
            },
        )
        self.transition(record["TrainingJobName"], "Starting", "Preparing the job's folder")
        work = _Training(self, record, folder)
        self.jobs.start(record, work)
        return {"TrainingJobArn": record["TrainingJobArn"]}

    def describe_training_job(self, p: dict, region: str) -> dict:
        return self.jobs.describe(p["TrainingJobName"], "DescribeTrainingJob")

    def list_training_jobs(self, p: dict, region: str) -> dict:
        return self.jobs.list("ListTrainingJobs", p)

    def stop_training_job(self, p: dict, region: str) -> None:
        self.jobs.stop(p["TrainingJobName"])
        self.transition(p["TrainingJobName"], "Stopping", "Stopping the training job")

    def close(self) -> None:
        self.jobs.close()

    def transition(self, name: str, status: str, message: str) -> None:
        """Record secondary status `status`, ending the one before it."""
        with self.jobs.store.lock:
            record = self.jobs.record(name)
            now = time.time()
            transitions = list(record.get("SecondaryStatusTransitions") or [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1] = dict(transitions[-1], EndTime=now)
            transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
            self.jobs.update(
                name, {"SecondaryStatus": status, "SecondaryStatusTransitions": transitions}
            )


class _Training:
    """One training job's work, on its thread."""

    def __init__(self, service: TrainingJobs, record: dict, folder: Path) -> None:
        self.service = service
        self.record = record
        self.folder = folder
        self.container = Container(service.locations)

    def run(self) -> dict[str, Any]:
        name = self.record["TrainingJobName"]
        transition = self.service.transition
        outcome = "Failed"
        try:
            fresh(self.folder)
            transition(name, "Downloading", "Downloading input data")
            staged = self.container.stage_training(self.record, self.folder, no_lineage)
            transition(name, "Training", "Training image download completed. Training in progress.")
            started = time.time()
            properties = self.container.run_training(
                self.record, self.folder, staged, name, self.record["TrainingJobArn"], no_lineage
            )
            transition(name, "Uploading", "Uploading generated training model")
            outcome = "Completed"
        except BaseException:
            outcome = "Stopped" if self.container.stop_requested.is_set() else "Failed"
            raise
        finally:
            transition(name, SECONDARY_END[outcome], f"Training job {outcome.lower()}")
        seconds = max(1, round(time.time() - started))
        return {
            "ModelArtifacts": properties["ModelArtifacts"],
            "FinalMetricDataList": list(properties["FinalMetricDataList"].values()),
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
        }

    def stop(self) -> None:
        self.container.stop()
