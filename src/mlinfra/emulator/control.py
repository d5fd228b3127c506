"""The emulator's skeleton: its services built at start-up, and one dispatch table over them.

Requests arrive already validated against botocore's input shapes (`protocol.py`). Each
operation is handled by the one service that names it (`services/`: models, endpoints, the
model registry, feature groups, tags, pipelines, monitors; the runtime operations of the data
plane); a handler applies AWS's rules to records in the SQLite `Store` and answers with the
operation's output shape. `ControlPlane` makes the store, the runtimes (the serving pool; the
feature store, on first use since it loads pyarrow) and the services, handing each what it
needs, and joins their tables; the `scheduler` starts monitors and scheduled pipelines while
the emulator serves.

A new service is a module in `services/` whose class names its `OPERATIONS` (and its `KINDS`,
if its records can be tagged); here it is listed in `SERVICES` and built, with what it needs,
in `ControlPlane.__init__`. No other service changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import Locations, parquet_exporter
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.kit.paths import Roots
from mlinfra.emulator.kit.records import Listing
from mlinfra.emulator.scheduler import Scheduler
from mlinfra.emulator.services.endpoints import Endpoints
from mlinfra.emulator.services.feature_groups import FeatureGroups
from mlinfra.emulator.services.jobs.processing import ProcessingJobs
from mlinfra.emulator.services.jobs.training import TrainingJobs
from mlinfra.emulator.services.jobs.transform import TransformJobs
from mlinfra.emulator.services.models import Models
from mlinfra.emulator.services.monitors.service import Monitors
from mlinfra.emulator.services.pipelines.service import Pipelines
from mlinfra.emulator.services.registry import Registry
from mlinfra.emulator.services.runtime import Runtime
from mlinfra.emulator.services.tags import Tags
from mlinfra.emulator.serving import EndpointPool
from mlinfra.emulator.store import Store

log = logging.getLogger("mlinfra.emulator")

Handler = Callable[..., dict[str, Any] | None]

# The control plane's services, in the order their operations are listed.
SERVICES = (
    Models, Endpoints, Registry, FeatureGroups, Tags, Pipelines, Monitors,
    TrainingJobs, ProcessingJobs, TransformJobs,
)  # fmt: skip
SUPPORTED = tuple(name for service in SERVICES for name in service.OPERATIONS)
# What may change when something runs: the scheduler looks again after these.
RESCHEDULES = frozenset({
    "CreateMonitoringSchedule", "UpdateMonitoringSchedule", "DeleteMonitoringSchedule",
    "StartMonitoringSchedule", "StopMonitoringSchedule",
    "CreatePipeline", "UpdatePipeline", "DeletePipeline", "AddTags", "DeleteTags",
})  # fmt: skip


class ControlPlane:
    """Every supported SageMaker operation, over one project folder and one state folder."""

    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root = root
        self.state_dir = state_dir
        self.roots = Roots(root, state_dir)  # all a request may name on disk
        self.store = Store(state_dir / "control.sqlite3")
        self.serving = EndpointPool(state_dir / "serving", confine=self.roots.confine)
        self._features: Any = None
        self._features_lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        listing = Listing(self.store)

        # Each service gets what it needs, and only that: the store, the kit, the runtimes,
        # the services it reads (never their private names) and `call` to run an operation.
        self.models = Models(self.store, listing, self.roots)
        self.registry = Registry(self.store, listing, self.roots)
        self.endpoints = Endpoints(
            self.store, listing, self.roots, self.serving, self.models, self.registry
        )
        self.feature_groups = FeatureGroups(self.store, listing, self.feature_store)
        self.tags = Tags(self.store, listing, (kind for s in SERVICES for kind in s.KINDS))
        self.pipelines = Pipelines(
            self.store, listing, self.roots, self.call, self.feature_groups.read_offline
        )
        self.monitors = Monitors(self.store, listing, self.roots, self.endpoints, self.call)
        jobs = Locations(
            root=root,
            state_dir=state_dir,
            manifests=state_dir / "jobs" / "outputs",
            offline_root=state_dir / "featurestore" / "offline",
            export_offline=parquet_exporter(self.feature_groups.read_offline),
        )
        self.training_jobs = TrainingJobs(self.store, listing, self.roots, jobs)
        self.processing_jobs = ProcessingJobs(
            self.store, listing, self.roots, jobs, self.monitors.execution
        )
        self.transform_jobs = TransformJobs(self.store, listing, self.roots, self.endpoints)
        self.operations = dispatch_table((
            self.models, self.endpoints, self.registry, self.feature_groups, self.tags,
            self.pipelines, self.monitors,
            self.training_jobs, self.processing_jobs, self.transform_jobs,
        ))  # fmt: skip
        self.runtime = Runtime(self.serving, self.feature_store, self.endpoints.restored)
        self.runtime_operations = dispatch_table((self.runtime,))
        if (state_dir / "featurestore").is_dir():
            # Opening the feature store finishes a write a crash interrupted, so the offline
            # files agree with the online store before anyone reads them.
            self.feature_store()

    def call(self, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        """Run one control-plane operation; its output, or the ApiError AWS would answer."""
        handler = self.operations.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The operation {operation} is not supported by the mlinfra local emulator. "
                f"Supported: {', '.join(sorted(SUPPORTED))}.",
            )
        # One writer at a time: read-check-write sequences (unique names, version numbers)
        # must not interleave. Control-plane traffic is light; invocations never take this lock.
        with self.store.lock:
            result = handler(params, region)
        if operation in RESCHEDULES and self._scheduler is not None:
            self._scheduler.notify()
        return result or {}

    def feature_store(self) -> Any:
        """The feature store runtime, opened on first use."""
        if self._features is None:
            with self._features_lock:
                if self._features is None:
                    # Deferred: the feature store loads pyarrow, half a second at every start
                    # of an emulator that may never hold a feature group.
                    from mlinfra.emulator.featurestore.store import FeatureStore

                    self._features = FeatureStore(self.state_dir / "featurestore")
        return self._features

    def start_scheduler(self, now: Callable[[], datetime] | None = None) -> None:
        """Start monitors and scheduled pipelines on their schedules until `close()`."""
        if self._scheduler is None:
            scheduler = Scheduler(self.store, self.monitors, self.call, now)
            scheduler.start()
            self._scheduler = scheduler

    def close(self) -> None:
        if self._scheduler is not None:  # first: it must start nothing while runtimes close
            self._scheduler.stop()
        runtimes = (self.monitors, self.pipelines, self.training_jobs, self.processing_jobs,
                    self.transform_jobs, self.serving, self._features)  # fmt: skip
        for runtime in runtimes:
            closer = getattr(runtime, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # shutting down: log, never block the exit
                    log.exception("closing a runtime failed")
        self.store.close()


def dispatch_table(services: Iterable[Any]) -> dict[str, Handler]:
    """Operation name -> the handler of the service that names it (`CreateModel` ->
    `create_model`). An operation two services name is a bug, refused at start-up."""
    table: dict[str, Handler] = {}
    for service in services:
        for operation in service.OPERATIONS:
            if operation in table:
                raise ValueError(f"{operation} is handled by two services")
            table[operation] = getattr(service, _snake(operation))
    return table


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
