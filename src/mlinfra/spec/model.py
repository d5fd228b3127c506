"""The typed, frozen result of validation: one `EnvSpec` per environment, of nodes in the
user's words.

As dbt turns what the user wrote into parsed nodes and pulumi-yaml its syntax tree into typed
declarations, each section of the spec becomes a frozen dataclass (`Endpoint`, `DataCapture`,
`Monitor`, ...), built once per environment from the resolved spec with the JSON Schema's
defaults filled in (`spec.build`). So a field the schema defaults is always set here, and no
later stage (lowering, audit, previews, the CLI) reads a raw map or writes a default again:
`spec.endpoints["churn-api"].data_capture.sampling_percent` is the value that applies.

A field the spec leaves out that has no default is None; a list or map it leaves out is
empty. Lists are tuples and maps read-only.

Positions live beside the data, not in it: each node's `ranges` (not compared, not shown)
says where each of its fields was written, `node.range_of("field", ...)`, pointing at an
environment's override when one set it, and at the nearest key written above a value that
comes from a default.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

from mlinfra.diagnostics import SourceRange
from mlinfra.syntax.nodes import Mapping, Node, PathPart, locate

# --- where things were written --------------------------------------------------------------


class Where(Protocol):
    """What a node's `ranges` answers (`Ranges`, or `MergedRanges` for settings)."""

    key: SourceRange

    def written(self, *path: PathPart) -> Node | None: ...

    def range_of(self, *path: PathPart) -> SourceRange: ...

    def key_range_of(self, *path: PathPart) -> SourceRange: ...

    def child(self, name: str) -> Where: ...


@dataclass(frozen=True)
class Ranges:
    """Where one node was written: its value in the ranged tree (None when the node comes
    from a default) and the key to point at for what it leaves out (its own key; for a list
    item, the item; for a default, the nearest key written above it)."""

    node: Node | None
    key: SourceRange

    def written(self, *path: PathPart) -> Node | None:
        """The syntax node of `path` below this one, if the spec wrote it."""
        if self.node is None:
            return None
        found = locate(self.node, path)
        return found.node if found.complete else None

    def range_of(self, *path: PathPart) -> SourceRange:
        """Where the value at `path` was written, else the nearest key above it."""
        if self.node is None:
            return self.key
        found = locate(self.node, path)
        return found.value_range if found.complete else self._nearest_key(found)

    def key_range_of(self, *path: PathPart) -> SourceRange:
        """The key of the entry at `path` (a list item's own range), else the nearest one."""
        if self.node is None:
            return self.key
        return self._nearest_key(locate(self.node, path))

    def _nearest_key(self, found) -> SourceRange:
        if found.key is not None:
            return found.key.range
        # No key passed: this node's own key, or the list item the path stopped in.
        return self.key if found.node is self.node else found.node.range

    def child(self, name: str) -> Ranges:
        entry = self.node.entry(name) if isinstance(self.node, Mapping) else None
        if entry is None:
            return Ranges(None, self.key)
        return Ranges(entry.value, entry.key.range)

    def item(self, index: int) -> Ranges:
        node = self.written(index)
        return Ranges(node, node.range) if node is not None else Ranges(None, self.key)


@dataclass(frozen=True)
class MergedRanges:
    """Where settings merged field by field come from (an environment's over `defaults`):
    the first layer that writes a field, else the environment's key."""

    layers: tuple[Ranges, ...]
    key: SourceRange

    def _layer(self, path: tuple[PathPart, ...]) -> Ranges | None:
        if not path:
            return None
        return next((layer for layer in self.layers if layer.written(*path) is not None), None)

    def written(self, *path: PathPart) -> Node | None:
        layer = self._layer(path)
        return layer.written(*path) if layer is not None else None

    def range_of(self, *path: PathPart) -> SourceRange:
        layer = self._layer(path)
        return layer.range_of(*path) if layer is not None else self.key

    def key_range_of(self, *path: PathPart) -> SourceRange:
        layer = self._layer(path)
        return layer.key_range_of(*path) if layer is not None else self.key

    def child(self, name: str) -> MergedRanges:
        return MergedRanges(tuple(layer.child(name) for layer in self.layers), self.key)


@dataclass(frozen=True)
class SpecNode:
    """What every typed node has: where it and its fields were written."""

    ranges: Where = field(compare=False, repr=False, kw_only=True)

    @property
    def key_range(self) -> SourceRange:
        """The node's key in the spec (a list item's own range; for a node that comes from a
        default, the nearest key written above it)."""
        return self.ranges.key

    def range_of(self, *path: PathPart) -> SourceRange:
        """Where `path` below this node was written (an override's line when an override set
        it), or the nearest key above it when it comes from a default."""
        return self.ranges.range_of(*path)

    def key_range_of(self, *path: PathPart) -> SourceRange:
        return self.ranges.key_range_of(*path)

    def written(self, *path: PathPart) -> bool:
        """Whether the spec wrote `path` below this node (rather than a default filling it)."""
        return self.ranges.written(*path) is not None


def declared(value: Any) -> Any:
    """A node's values as plain data (dicts, lists, scalars), its step types included: what
    changed-only previews compare between two revisions of a spec."""
    if isinstance(value, SpecNode):
        found = {"type": value.type} if isinstance(value, Step) else {}
        found.update({f.name: declared(getattr(value, f.name)) for f in fields(value) if f.compare})
        return found
    if isinstance(value, MappingOf):
        return {key: declared(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [declared(item) for item in value]
    return value


# --- the environment ------------------------------------------------------------------------


@dataclass(frozen=True)
class Vpc(SpecNode):
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


@dataclass(frozen=True)
class Security(SpecNode):
    """`security`: the environment's over `defaults.security`, field by field."""

    kms_key: str  # create | none | a KMS key ARN
    network_isolation: bool
    encrypt_inter_container_traffic: bool
    vpc: Vpc | None


@dataclass(frozen=True)
class Environment(SpecNode):
    """An environment's settings, over `defaults` (a preview's are its base's)."""

    target: str  # local | sagemaker
    description: str | None
    account: str | None
    region: str  # the environment's, else `defaults.region`
    protect: bool
    tags: MappingOf[str, str]  # `defaults.tags`, then the environment's
    security: Security


# --- components -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Component(SpecNode):
    """A feature store, model, pipeline, endpoint or monitor: what every one has."""

    kind: ClassVar[str]  # feature_store | model | pipeline | endpoint | monitor
    section: ClassVar[str]  # where the spec declares it: feature_stores | models | ...

    name: str
    description: str | None

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Throughput(SpecNode):
    mode: str  # on-demand | provisioned
    read_units: int | None
    write_units: int | None


@dataclass(frozen=True)
class OnlineStore(SpecNode):
    enabled: bool
    ttl: str | None  # a duration; None: records never expire
    throughput: Throughput | None  # None: SageMaker's own default, on demand


@dataclass(frozen=True)
class OfflineStore(SpecNode):
    enabled: bool
    format: str  # parquet | iceberg


@dataclass(frozen=True)
class FeatureStore(Component):
    kind: ClassVar[str] = "feature_store"
    section: ClassVar[str] = "feature_stores"

    record_identifier: str
    event_time: str
    features: MappingOf[str, str]  # name -> string | integral | fractional, in record order
    online: OnlineStore
    offline: OfflineStore
    source: str | None  # a CSV loaded into the store locally


@dataclass(frozen=True)
class Model(Component):
    kind: ClassVar[str] = "model"
    section: ClassVar[str] = "models"

    registry_group: str | None
    version: str | int  # latest-approved, or a version number
    artifact: str | None  # a path relative to the spec, or an S3 URI
    framework: str
    framework_version: str
    approval: str  # manual | auto
    environment: MappingOf[str, str]  # the serving container's environment variables


@dataclass(frozen=True)
class Step(SpecNode):
    """A pipeline step; its class is its `type`."""

    type: ClassVar[str]

    name: str
    description: str | None
    after: tuple[str, ...]

    def reads(self) -> tuple[str, ...]:
        """The data the step reads (its `inputs:`): only job steps read any."""
        return ()


@dataclass(frozen=True)
class JobStep(Step):
    """A step that runs a job: processing or training."""

    inputs: tuple[str, ...]
    instance_type: str
    instance_count: int
    environment: MappingOf[str, str]

    def reads(self) -> tuple[str, ...]:
        return self.inputs


@dataclass(frozen=True)
class ProcessingStep(JobStep):
    type: ClassVar[str] = "processing"

    script: str


@dataclass(frozen=True)
class TrainingStep(JobStep):
    type: ClassVar[str] = "training"

    entry_point: str
    hyperparameters: MappingOf[str, Any]
    max_runtime: str  # a duration


@dataclass(frozen=True)
class ConditionStep(Step):
    type: ClassVar[str] = "condition"

    when: str


@dataclass(frozen=True)
class RegisterModelStep(Step):
    type: ClassVar[str] = "register_model"

    model: str


@dataclass(frozen=True)
class TransformSettings(SpecNode):
    """How a batch transform reads its input and sends it to the model: the fields a
    transform step and a batch job share."""

    features: tuple[str, ...]  # a feature-store input's columns sent; empty: all but id and time
    split: str  # line | none
    batch_strategy: str  # multi_record | single_record
    assemble_with: str  # line | none
    max_payload_mb: int  # 0: no limit
    content_type: str
    accept: str


TRANSFORM_SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(TransformSettings) if f.compare)


@dataclass(frozen=True)
class TransformStep(JobStep, TransformSettings):
    """Scores its one input with the served version of `model` (never the pipeline's own
    candidate): the registry's latest approved version, or the version the model pins."""

    type: ClassVar[str] = "transform"

    model: str


STEP_TYPES: MappingOf[str, type[Step]] = {
    cls.type: cls
    for cls in (ProcessingStep, TrainingStep, ConditionStep, RegisterModelStep, TransformStep)
}


@dataclass(frozen=True)
class Pipeline(Component):
    kind: ClassVar[str] = "pipeline"
    section: ClassVar[str] = "pipelines"

    schedule: str | None
    parameters: MappingOf[str, Any]  # name -> default value
    steps: MappingOf[str, Step]  # in the order written

    def registered_models(self) -> tuple[str, ...]:
        """The models its register_model steps register, once each, in the order written: a
        `when:` reading `serving.metrics.NAME` compares with the version of the one there is
        that serves now."""
        found = (s.model for s in self.steps.values() if isinstance(s, RegisterModelStep))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Autoscaling(SpecNode):
    min: int
    max: int
    target_invocations_per_instance: int
    scale_in_cooldown: str  # a duration
    scale_out_cooldown: str


@dataclass(frozen=True)
class DataCapture(SpecNode):
    enabled: bool
    sampling_percent: int
    capture: tuple[str, ...]  # input | output


@dataclass(frozen=True)
class Deployment(SpecNode):
    strategy: str  # all_at_once | canary | linear
    canary_percent: int
    linear_step_percent: int
    wait_minutes: int
    rollback_on: tuple[str, ...]  # latency | errors


@dataclass(frozen=True)
class Slo(SpecNode):
    latency_p99_ms: float | None
    error_rate_percent: float | None
    alert: tuple[str, ...]  # email:..., webhook:..., sns:...


@dataclass(frozen=True)
class Endpoint(Component):
    kind: ClassVar[str] = "endpoint"
    section: ClassVar[str] = "endpoints"

    model: str
    instance_type: str
    instance_count: int
    autoscaling: Autoscaling | None
    data_capture: DataCapture | None  # None: nothing captured
    deployment: Deployment
    slo: Slo


@dataclass(frozen=True)
class Thresholds(SpecNode):
    drift_psi: float
    missing_percent: float


@dataclass(frozen=True)
class OnViolation(SpecNode):
    alert: tuple[str, ...]
    retrain: str | None  # a pipeline


@dataclass(frozen=True)
class QualityThreshold(SpecNode):
    """A line the quality metric is held to: a number on the metric's own scale, or (relative)
    a fraction of the metric the serving model version was evaluated with at registration."""

    value: float  # relative: 0.97 for `97%`
    relative: bool


@dataclass(frozen=True)
class Quality(SpecNode):
    """What a model_quality monitor watches and where it draws its lines."""

    problem_type: str  # binary_classification | multiclass_classification | regression
    ground_truth: str  # a folder relative to the spec, or an S3 URI
    metric: str
    label_delay: str | None  # a duration; None: every labelled prediction counts at once
    window: str  # a duration
    lower_is_better: bool  # an error metric (mae, mse, rmse): its lines are `_above`
    alert: QualityThreshold | None
    rollback: QualityThreshold | None


@dataclass(frozen=True)
class Monitor(Component):
    kind: ClassVar[str] = "monitor"
    section: ClassVar[str] = "monitors"

    endpoint: str
    type: str  # data_quality | model_quality
    engine: str  # mlinfra | model-monitor
    baseline: str | None  # data_quality: a path relative to the spec, or an S3 URI
    schedule: str
    instance_type: str
    thresholds: Thresholds
    on_violation: OnViolation
    quality: Quality | None  # model_quality only


@dataclass(frozen=True)
class BatchJob(Component, TransformSettings):
    """A model's served version scoring a data set, on a schedule or when started: a batch
    transform job (on both targets, a one-step pipeline whose step is that job)."""

    kind: ClassVar[str] = "batch_job"
    section: ClassVar[str] = "batch_jobs"

    model: str
    input: str  # feature_store.<name>, a path relative to the spec, or an S3 URI
    output: str | None  # a folder relative to the spec or an S3 URI; None: by run
    schedule: str | None
    instance_type: str
    instance_count: int
    environment: MappingOf[str, str]  # over the model's own


COMPONENT_TYPES: tuple[type[Component], ...] = (
    FeatureStore,
    Model,
    Pipeline,
    Endpoint,
    Monitor,
    BatchJob,
)


# --- policies and previews ------------------------------------------------------------------


@dataclass(frozen=True)
class Waiver(SpecNode):
    rule: str
    resource: str  # an address
    environments: tuple[str, ...]  # empty: all of them
    reason: str
    owner: str
    expires: str | None  # YYYY-MM-DD


@dataclass(frozen=True)
class Policies(SpecNode):
    packs: tuple[str, ...]
    required_tags: tuple[str, ...]
    allowed_instance_types: tuple[str, ...]  # glob patterns; empty: any
    waivers: tuple[Waiver, ...]


@dataclass(frozen=True)
class Previews(SpecNode):
    base: str
    ttl: str  # a duration
    mode: str  # full | changed-only


# --- one environment's spec -----------------------------------------------------------------


@dataclass(frozen=True)
class EnvSpec:
    """The spec resolved for one environment: defaults, its settings and overrides applied."""

    project: str
    description: str | None
    state: str  # where state is kept: a folder relative to the spec, or an S3 URI
    env: str
    environment: Environment
    feature_stores: MappingOf[str, FeatureStore]
    models: MappingOf[str, Model]
    pipelines: MappingOf[str, Pipeline]
    endpoints: MappingOf[str, Endpoint]
    monitors: MappingOf[str, Monitor]
    policies: Policies
    previews: Previews | None
    tree: Mapping  # the merged, ranged tree this was built from
    base: str | None = None  # for a preview: the environment it is based on
    batch_jobs: MappingOf[str, BatchJob] = field(default_factory=dict)

    # The environment's settings, which most stages ask for by name.
    @property
    def target(self) -> str:
        return self.environment.target

    @property
    def region(self) -> str:
        return self.environment.region

    @property
    def account(self) -> str | None:
        return self.environment.account

    @property
    def protect(self) -> bool:
        return self.environment.protect

    @property
    def security(self) -> Security:
        return self.environment.security

    @property
    def tags(self) -> MappingOf[str, str]:
        return self.environment.tags

    # Generic access, for what handles every component alike (lowering, changed-only
    # previews, the CLI). Indexes keep lookups per component linear in spec size.

    @functools.cached_property
    def components(self) -> tuple[Component, ...]:
        """Every component, in spec order: feature stores, models, pipelines, endpoints,
        monitors, batch jobs, each section in the order written."""
        sections = (self.feature_stores, self.models, self.pipelines, self.endpoints)
        return tuple(
            c for section in (*sections, self.monitors, self.batch_jobs) for c in section.values()
        )

    def of_kind(self, kind: str) -> tuple[Component, ...]:
        return self._by_kind.get(kind, ())

    def component(self, address: str) -> Component | None:
        return self._by_address.get(address)

    @functools.cached_property
    def _by_address(self) -> dict[str, Component]:
        return {c.address: c for c in self.components}

    @functools.cached_property
    def _by_kind(self) -> dict[str, tuple[Component, ...]]:
        found: dict[str, list[Component]] = {}
        for c in self.components:
            found.setdefault(c.kind, []).append(c)
        return {kind: tuple(items) for kind, items in found.items()}

    def range_of(self, *path: str | int) -> SourceRange:
        """Where a resolved value was written (override or default), or its nearest key."""
        found = locate(self.tree, path)
        return found.value_range if found.complete else found.key_range
