"""What every kind of SageMaker job shares: its record, its thread, its statuses and Stop.

A job is a record like every other (`training-job`, `processing-job`, `transform-job`),
created InProgress and run on its own background thread (jobs, like SageMaker's, run side by
side on their own "instances"); the thread writes the status back as it goes, so Describe*
and List* always show the live state: InProgress, then Completed, Failed (with its
FailureReason) or, after Stop*, Stopping and Stopped.

If the emulator stops while a job runs, the job's process dies with it (`supervisor.py`),
and its record says Failed when the emulator comes back: a job is never resumed half-way.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlinfra.emulator.containers import JobFailure, Stopped
from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import ApiError, invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, child
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.store import Store

log = logging.getLogger("mlinfra.emulator.jobs")

RUNNING = ("InProgress", "Stopping")
INTERRUPTED = "The emulator stopped while this job ran."


@dataclass(frozen=True)
class JobKind:
    """A kind of job as SageMaker's API names it: `TrainingJob`, `training-job`, `Training`."""

    noun: str  # TrainingJob: Create<noun>, <noun>Name, <noun>Status...
    arn_kind: str  # training-job
    times: str  # Training: TrainingStartTime, TrainingEndTime

    @property
    def name_field(self) -> str:
        return f"{self.noun}Name"

    @property
    def arn_field(self) -> str:
        return f"{self.noun}Arn"

    @property
    def status_field(self) -> str:
        return f"{self.noun}Status"

    @property
    def words(self) -> str:
        """The kind as a message says it: `training job`."""
        return self.arn_kind.replace("-", " ")

    def store_kind(self) -> Kind:
        return Kind(self.arn_kind, self.arn_field, lambda r: r[self.name_field])


class Work(Protocol):
    """A job's work: run to the end, or raise JobFailure / Stopped; `stop()` from any thread."""

    def run(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


class Jobs:
    """The records and running threads of one kind of job, over the control plane's store."""

    def __init__(self, store: Store, listing: Listing, kind: JobKind, folder: Path) -> None:
        self.store = store
        self.listing = listing
        self.kind = kind
        self.folder = folder  # <state>/jobs/<kind>: each job's own folder is in it
        self._running: dict[str, tuple[Work, threading.Thread]] = {}
        self._abandon_interrupted()

    def create(self, p: dict, region: str, extra: dict[str, Any] | None = None) -> dict:
        """A new InProgress record for request `p` (not yet running): see `start`."""
        name = p[self.kind.name_field]
        job_arn = arn(region, self.kind.arn_kind, name)
        if self.store.get(self.kind.arn_kind, name) is not None:
            words = self.kind.words
            raise ApiError(
                "ResourceInUse",
                f"{words.capitalize()} names must be unique within an AWS account and region, "
                f"and a {words} with this name already exists ({job_arn})",
            )
        now = time.time()
        record = {
            **p,
            **(extra or {}),
            self.kind.arn_field: job_arn,
            self.kind.status_field: "InProgress",
            "CreationTime": now,
            "LastModifiedTime": now,
            f"{self.kind.times}StartTime": now,
            "_Region": region,
        }
        self.store.put(self.kind.arn_kind, name, record, now)
        return record

    def start(self, record: dict, work: Work) -> None:
        """Run `work` for the job on its own thread, writing its outcome to the record."""
        name = record[self.kind.name_field]
        thread = threading.Thread(
            target=self._run, args=(name, work), name=f"{self.kind.arn_kind}-{name}", daemon=True
        )
        self._running[name] = (work, thread)
        thread.start()

    def job_folder(self, name: str) -> Path:
        """The job's own folder (emptied by `fresh` when the job starts to run)."""
        try:
            return child(self.folder, name, self.kind.words)
        except PathRefused as exc:
            raise invalid(exc.message) from None

    def describe(self, name: str, operation: str) -> dict:
        return output(operation, self.record(name))

    def list(self, operation: str, p: dict) -> dict:
        status = p.get("StatusEquals")
        field = self.kind.status_field
        return self.listing.list(
            operation,
            self.kind.arn_kind,
            p,
            self.kind.name_field,
            keep=lambda r: status is None or r.get(field) == status,
            status_field=field,
        )

    def stop(self, name: str) -> None:
        record = self.record(name)
        status = record[self.kind.status_field]
        if status not in RUNNING:
            raise invalid(
                f"The request was rejected because the {self.kind.words} is in status {status}."
            )
        if status == "Stopping":
            return
        self.update(name, {self.kind.status_field: "Stopping"})
        running = self._running.get(name)
        if running is not None:
            running[0].stop()

    def record(self, name: str) -> dict:
        record = self.store.get(self.kind.arn_kind, name)
        if record is None:
            raise invalid(f"Could not find {self.kind.words} '{name}'.")
        return record

    def update(self, name: str, changes: dict[str, Any]) -> dict | None:
        """Write `changes` to the job's record (under the store's lock); the record."""
        with self.store.lock:
            record = self.store.get(self.kind.arn_kind, name)
            if record is None:  # never deleted; a bug elsewhere must not crash the thread
                return None
            record.update(changes, LastModifiedTime=time.time())
            self.store.put(self.kind.arn_kind, name, record, record["CreationTime"])
            return record

    def close(self) -> None:
        for work, _ in list(self._running.values()):
            work.stop()
        for _, thread in list(self._running.values()):
            thread.join(10)

    def _run(self, name: str, work: Work) -> None:
        field = self.kind.status_field
        try:
            changes = {**work.run(), field: "Completed"}
        except Stopped:
            changes = {field: "Stopped"}
        except JobFailure as exc:
            changes = {field: "Failed", "FailureReason": str(exc)}
        except Exception as exc:  # a bug here must fail the job, not leave it InProgress
            log.exception("%s %s", self.kind.words, name)
            changes = {
                field: "Failed",
                "FailureReason": f"Internal error in the emulator: {type(exc).__name__}: {exc}",
            }
        record = self.store.get(self.kind.arn_kind, name) or {}
        if record.get(field) == "Stopping" and changes[field] != "Failed":
            changes[field] = "Stopped"
        changes[f"{self.kind.times}EndTime"] = time.time()
        self.update(name, changes)
        self._running.pop(name, None)

    def _abandon_interrupted(self) -> None:
        """Jobs a stopped emulator cut short: Failed, saying why."""
        with self.store.lock:
            for record in self.store.all(self.kind.arn_kind):
                if record.get(self.kind.status_field) in RUNNING:
                    self.update(
                        record[self.kind.name_field],
                        {self.kind.status_field: "Failed", "FailureReason": INTERRUPTED},
                    )


def checked_location(confine: Callable[[str], Path], location: str, field: str) -> None:
    """A request's local location, refused now (ValidationException naming `field`) if it
    lies outside the project and state folders; `s3://` is refused when the job runs."""
    try:
        confine(location)
    except NotLocal:
        return
    except PathRefused as exc:
        raise invalid(f"{field}: {exc.message}") from None


def fresh(folder: Path) -> None:
    """An empty `folder`: a job never sees the files of an earlier job of the same name."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def no_lineage(kind: str, name: str, source: str, path: Path) -> None:
    """A job started through the API keeps no lineage file of its own (`containers.Note`)."""
