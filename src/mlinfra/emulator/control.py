"""The emulator's skeleton: its services built at start-up, and one dispatch table over them.

Requests arrive already validated against botocore's input shapes (`protocol.py`). Each
operation is handled by the one service that names it (`services/`: models, endpoints, the
model registry, feature groups, tags, pipelines, monitors, lineage, experiments and search,
CloudWatch and Application Auto Scaling, each service of another API naming it in `API`; the
runtime operations of the data plane); a handler applies AWS's rules to records in the SQLite
`Store` and answers with the operation's output shape. `ControlPlane` makes the store, the
runtimes (the serving pool; the feature store, on first use since it loads pyarrow) and the
services, handing each what it needs, and joins their tables; after each operation, `tracking`
records what SageMaker would track of it (a registration, a deployment); the `scheduler`
starts monitors and scheduled pipelines while the emulator serves.

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
from mlinfra.emulator.protocol import CONTROL_SERVICE
from mlinfra.emulator.scheduler import Scheduler
from mlinfra.emulator.services.autoscaling import AutoScaling
from mlinfra.emulator.services.cloudwatch.metrics import Metrics, clock_for
from mlinfra.emulator.services.cloudwatch.service import CloudWatch
from mlinfra.emulator.services.endpoints import Endpoints
from mlinfra.emulator.services.experiments import Experiments
from mlinfra.emulator.services.feature_groups import FeatureGroups
from mlinfra.emulator.services.jobs.processing import ProcessingJobs
from mlinfra.emulator.services.jobs.training import TrainingJobs
from mlinfra.emulator.services.jobs.transform import TransformJobs
from mlinfra.emulator.services.lineage import Lineage
from mlinfra.emulator.services.models import Models
from mlinfra.emulator.services.monitors.service import Monitors
from mlinfra.emulator.services.pipelines.service import Pipelines
from mlinfra.emulator.services.registry import Registry
from mlinfra.emulator.services.runtime import Runtime
from mlinfra.emulator.services.search import Search
from mlinfra.emulator.services.tags import Tags
from mlinfra.emulator.services.tracking import Tracking
from mlinfra.emulator.serving import EndpointPool
from mlinfra.emulator.store import Store

log = logging.getLogger("mlinfra.emulator")

Handler = Callable[..., dict[str, Any] | None]

# The control plane's services, in the order their operations are listed. Each answers for
# SageMaker's API unless it names another (`API`: CloudWatch, Application Auto Scaling).
SERVICES = (
    Models, Endpoints, Registry, FeatureGroups, Tags, Pipelines, Monitors, Lineage, Experiments,
    Search, TrainingJobs, ProcessingJobs, TransformJobs, CloudWatch, AutoScaling,
)  # fmt: skip
API_OF = {
    name: getattr(service, "API", CONTROL_SERVICE)
    for service in SERVICES
    for name in service.OPERATIONS
}
OPERATIONS = tuple(API_OF)  # of every API
# SageMaker's operations; `supported(api)` those of another API.
SUPPORTED = tuple(name for name in OPERATIONS if API_OF[name] == CONTROL_SERVICE)


def supported(api: str) -> tuple[str, ...]:
    """The operations of `api` (a botocore service name) the emulator serves."""
    return tuple(name for name in OPERATIONS if API_OF[name] == api)


# How often (emulator-clock seconds) alarms and autoscaling are evaluated.
EVALUATION_SECONDS = 10.0
# What may change when something runs: the scheduler looks again after these.
RESCHEDULES = frozenset({
    "CreateMonitoringSchedule", "UpdateMonitoringSchedule", "DeleteMonitoringSchedule",
    "StartMonitoringSchedule", "StopMonitoringSchedule",
    "CreatePipeline", "UpdatePipeline", "DeletePipeline", "AddTags", "DeleteTags",
})  # fmt: skip


class ControlPlane:
    """Every supported SageMaker operation, over one project folder and one state folder."""

    def __init__(
        self, root: Path, state_dir: Path, clock_scale: float = 1.0, metrics: bool = True
    ) -> None:
        """`clock_scale` speeds up the clock of metrics, alarms and autoscaling (`kit.clock`);
        `metrics=False` records no invocation metrics (the benchmark's baseline)."""
        self.root = root
        self.state_dir = state_dir
        self.roots = Roots(root, state_dir)  # all a request may name on disk
        self.store = Store(state_dir / "control.sqlite3")
        self.serving = EndpointPool(state_dir / "serving", confine=self.roots.confine)
        self._features: Any = None
        self._features_lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        listing = Listing(self.store)
        self.clock = clock_for(self.store, clock_scale)
        self.metrics = Metrics(self.store, self.clock, enabled=metrics)

        # Each service gets what it needs, and only that: the store, the kit, the runtimes,
        # the services it reads (never their private names) and `call` to run an operation.
        self.models = Models(self.store, listing, self.roots)
        self.registry = Registry(self.store, listing, self.roots)
        self.cloudwatch = CloudWatch(self.store, listing, self.roots, self.metrics, self.clock)
        # Deployments watch CloudWatch's alarms and wait on the emulator's clock.
        self.endpoints = Endpoints(
            self.store, listing, self.roots, self.serving, self.models, self.registry,
            self.clock, self.cloudwatch.state_of,
        )  # fmt: skip
        self.feature_groups = FeatureGroups(self.store, listing, self.feature_store)
        self.tags = Tags(self.store, listing, (kind for s in SERVICES for kind in s.KINDS))
        self.experiments = Experiments(self.store, listing, lambda arn: self.lineage.forget(arn))
        self.lineage = Lineage(
            self.store,
            listing,
            self.experiments.find_trial_component,
            self.experiments.find_experiment,
        )
        self.search = Search(self.store, listing, self.experiments.trial_components)
        # What SageMaker records by itself when a version is registered, an endpoint
        # deployed or a pipeline run ends.
        self.tracking = Tracking(self.experiments, self.lineage, self.call)
        self.pipelines = Pipelines(
            self.store,
            listing,
            self.roots,
            self.call,
            self.feature_groups.read_offline,
            self.tracking.execution,
        )
        self.monitors = Monitors(self.store, listing, self.roots, self.endpoints, self.call)
        self.autoscaling = AutoScaling(self.store, self.endpoints, self.metrics, self.clock)
        jobs = Locations(
            root=root,
            state_dir=state_dir,
            manifests=state_dir / "jobs" / "outputs",
            offline_root=state_dir / "featurestore" / "offline",
            export_offline=parquet_exporter(
                self.feature_groups.read_offline, self.feature_groups.event_time_of
            ),
        )
        self.training_jobs = TrainingJobs(self.store, listing, self.roots, jobs)
        self.processing_jobs = ProcessingJobs(
            self.store, listing, self.roots, jobs, self.monitors.execution
        )
        self.transform_jobs = TransformJobs(self.store, listing, self.roots, self.endpoints)
        self.operations = dispatch_table((
            self.models, self.endpoints, self.registry, self.feature_groups, self.tags,
            self.pipelines, self.monitors, self.lineage, self.experiments, self.search,
            self.training_jobs, self.processing_jobs, self.transform_jobs,
            self.cloudwatch, self.autoscaling,
        ))  # fmt: skip
        self.runtime = Runtime(
            self.serving, self.feature_store, self.endpoints.restored, self.metrics
        )
        self.runtime_operations = dispatch_table((self.runtime,))
        if (state_dir / "featurestore").is_dir():
            # Opening the feature store finishes a write a crash interrupted, so the offline
            # files agree with the online store before anyone reads them.
            self.feature_store()

    def call(
        self, operation: str, params: dict[str, Any], region: str, api: str = CONTROL_SERVICE
    ) -> dict[str, Any]:
        """Run one operation of `api` (SageMaker's, CloudWatch's, Application Auto Scaling's);
        its output, or the ApiError AWS would answer."""
        handler = self.operations.get(operation)
        if handler is None or API_OF[operation] != api:
            raise ApiError(
                "UnknownOperationException",
                f"The operation {operation} of {api} is not supported by the mlinfra local "
                f"emulator. Supported: {', '.join(sorted(supported(api)))}.",
            )
        # One writer at a time: read-check-write sequences (unique names, version numbers)
        # must not interleave. Control-plane traffic is light; invocations never take this lock.
        with self.store.lock:
            result = handler(params, region)
            self.tracking.after(operation, params, result or {}, region)
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
            scheduler = Scheduler(
                self.store,
                self.monitors,
                self.call,
                now,
                periodic=(self.cloudwatch.evaluate, self.autoscaling.evaluate),
                every=self.clock.wall_seconds(EVALUATION_SECONDS),
            )
            scheduler.start()
            self._scheduler = scheduler

    def close(self) -> None:
        if self._scheduler is not None:  # first: it must start nothing while runtimes close
            self._scheduler.stop()
        try:
            self.metrics.flush()  # the minutes recorded since the last evaluation
        except Exception:
            log.exception("writing metrics failed")
        runtimes = (self.endpoints, self.monitors, self.pipelines, self.training_jobs,
                    self.processing_jobs, self.transform_jobs, self.serving,
                    self._features)  # fmt: skip
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
