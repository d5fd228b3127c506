"""Batch jobs: the one-step pipeline a spec batch job becomes, on both targets.

A batch job is a batch transform job started on its schedule or on demand. SageMaker starts
a job on a schedule through a pipeline (an EventBridge rule starts the pipeline; the
emulator's scheduler does the same locally), so the batch job becomes a pipeline whose step
`score` is that transform job: lowered, checked and started exactly as the spec's own
pipelines are, and its runs listed as theirs are.

A batch job scoring a feature store scores the latest row of each record. The emulator
exports those rows itself before the job; on SageMaker the pipeline has a first step,
`export`, a Processing job running mlinfra's `sagemaker/offline_rows.py` over the offline
store, whose CSV the `score` step reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib import resources
from types import MappingProxyType

from mlinfra.ir.sagemaker.pipeline_definition.transform import (
    BatchPipeline,
    ExportRowsStep,
)
from mlinfra.sagemaker.instances import instance_types
from mlinfra.sagemaker.offline_rows import ROWS_FOLDER
from mlinfra.spec.model import (
    TRANSFORM_SETTINGS,
    BatchJob,
    FeatureStore,
    Step,
    TransformStep,
)

STEP = "score"
EXPORT_STEP = "export"
EXPORT_SCRIPT = "offline_rows.py"
EXPORT_INSTANCE_TYPE = "ml.m5.large"


@functools.cache
def export_script() -> bytes:
    return resources.files("mlinfra").joinpath("sagemaker", EXPORT_SCRIPT).read_bytes()


def scored_store(job: BatchJob, stores: Mapping[str, FeatureStore]) -> FeatureStore | None:
    head, dot, rest = job.input.partition(".")
    return stores.get(rest) if head == "feature_store" and dot else None


def export_step(job: BatchJob, store: FeatureStore, group: str) -> ExportRowsStep:
    """The Processing step writing the latest rows of `store` (feature group `group`)."""
    features = list(store.features)
    return ExportRowsStep(
        name=EXPORT_STEP,
        description=f"The latest row of each record of feature store {store.name}, as CSV",
        after=(),
        inputs=(job.input,),
        instance_type=export_instance_type(job),
        instance_count=1,
        environment=MappingProxyType(
            {
                "MLINFRA_EXPORT_GROUP": group,
                "MLINFRA_EXPORT_FEATURES": ",".join(features),
                "MLINFRA_EXPORT_RECORD_ID": store.record_identifier,
                "MLINFRA_EXPORT_EVENT_TIME": store.event_time,
            }
        ),
        script=EXPORT_SCRIPT,
        content=export_script(),
        ranges=job.ranges,
    )


def export_instance_type(job: BatchJob) -> str:
    """The job's instance type where a Processing job may run on it, else the processing
    steps' default (a transform instance type, ml.g4dn say, may not be a processing one)."""
    if job.instance_type in instance_types("processing"):
        return job.instance_type
    return EXPORT_INSTANCE_TYPE


def as_pipeline(
    job: BatchJob,
    stores: Mapping[str, FeatureStore] | None = None,
    group_of: Callable[[FeatureStore], str] | None = None,
) -> BatchPipeline:
    """The batch job's pipeline. With `stores` (the environment's feature stores) and
    `group_of` (a store -> its feature group's name), a feature store input is exported by
    an `export` step first (SageMaker); without, it is read as it is (the emulator exports
    it itself)."""
    store = scored_store(job, stores) if stores is not None else None
    steps: dict[str, Step] = {}
    scored = job.input
    if store is not None and group_of is not None:
        steps[EXPORT_STEP] = export_step(job, store, group_of(store))
        scored = f"{EXPORT_STEP}.{ROWS_FOLDER}"
    steps[STEP] = TransformStep(
        name=STEP,
        description=None,
        after=(),
        inputs=(scored,),
        instance_type=job.instance_type,
        instance_count=job.instance_count,
        environment=job.environment,
        model=job.model,
        **{name: getattr(job, name) for name in TRANSFORM_SETTINGS},
        ranges=job.ranges,
    )
    return BatchPipeline(
        name=job.name,
        description=job.description or f"Batch job {job.name}: {job.model} scores {job.input}",
        schedule=job.schedule,
        parameters=MappingProxyType({}),
        steps=MappingProxyType(steps),
        output=job.output,
        scored_store=store.name if store is not None else None,
        ranges=job.ranges,
    )
