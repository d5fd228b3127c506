"""Transform steps: a batch transform job of a model's served version over one input.

The job scores with the SageMaker model the spec's model becomes (`model.<name>`): the
registry's latest approved version, or the version the model pins, never the candidate a
pipeline has just trained. Its `.out` files go under the execution's own folder
(`runs/<execution id>/<step>/`), or where a batch job's `output:` says.

A feature store's rows are sent as CSV in the store's feature order, one line per record:
the latest row of each record (`sagemaker.offline_rows`), which the emulator exports before
the job and says so in the step's log, and which on SageMaker a batch job's `export` step (a
Processing job running that same file) writes first. `DataProcessing` sends the model only
the features asked for and joins each answer to its record identifier, so every `.out` line
reads `<record id>,<answer>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlinfra.ir.graph import Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.jobs import Build, with_key, with_volume_key
from mlinfra.ir.sagemaker.pipeline_definition.processing import processing_output_uri
from mlinfra.spec.model import (
    FeatureStore,
    Pipeline,
    ProcessingStep,
    TransformSettings,
    TransformStep,
)

SPLIT = {"line": "Line", "none": "None"}
STRATEGY = {"multi_record": "MultiRecord", "single_record": "SingleRecord"}
ASSEMBLE = {"line": "Line", "none": "None"}


@dataclass(frozen=True)
class BatchPipeline(Pipeline):
    """The one-step pipeline a batch job becomes on both targets (its step: `transform`)."""

    kind: ClassVar[str] = "batch_job"
    section: ClassVar[str] = "batch_jobs"

    output: str | None = None  # the batch job's `output:`, as written
    scored_store: str | None = None  # the feature store whose exported rows it scores


@dataclass(frozen=True)
class ExportRowsStep(ProcessingStep):
    """A processing step running mlinfra's own script (`content`), not one of the project's:
    a batch job's export of the latest rows of a feature store, on SageMaker."""

    content: bytes = field(default=b"", repr=False)


def output_location(ctx: LoweringContext, component: Pipeline, step: str) -> Any:
    """Where the step's `.out` files go: a batch job's `output:`, else by execution."""
    written = component.output if isinstance(component, BatchPipeline) else None
    if written is None:
        return processing_output_uri(ctx, component.name, step)
    return written if written.startswith("s3://") else f"file:{written}"


def feature_columns(store: FeatureStore, settings: TransformSettings) -> tuple[str, ...]:
    """The features a model is sent from `store`: those asked for, else every feature but
    the record identifier and the event time, in the store's order."""
    if settings.features:
        return settings.features
    skipped = (store.record_identifier, store.event_time)
    return tuple(name for name in store.features if name not in skipped)


def data_processing(store: FeatureStore, settings: TransformSettings) -> dict[str, str]:
    """The filters that send `feature_columns` of the store's CSV rows and join each answer
    to the row's record identifier (SageMaker's JSONPath subset for CSV: column indexes)."""
    order = list(store.features)
    sent = ",".join(str(order.index(name)) for name in feature_columns(store, settings))
    return {
        "InputFilter": f"$[{sent}]",
        "JoinSource": "Input",
        "OutputFilter": f"$[{order.index(store.record_identifier)},-1]",
    }


def transform_step(build: Build, name: str) -> dict:
    body: TransformStep = build.steps[name]
    ctx = build.ctx
    (source,) = build.flow.inputs[name]
    resources = {"InstanceType": body.instance_type, "InstanceCount": body.instance_count}
    arguments: dict[str, Any] = {
        "ModelName": Ref(f"model.{body.model}", "name"),
        "BatchStrategy": STRATEGY[body.batch_strategy],
        "MaxPayloadInMB": body.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.uri}},
            "ContentType": body.content_type,
            "SplitType": SPLIT[body.split],
            "CompressionType": "None",
        },
        "TransformOutput": with_key(
            build,
            {
                "S3OutputPath": output_location(ctx, build.component, name),
                "Accept": body.accept,
                "AssembleWith": ASSEMBLE[body.assemble_with],
            },
            "KmsKeyId",
        ),
        "TransformResources": with_volume_key(build, resources),
    }
    if body.environment:
        arguments["Environment"] = dict(body.environment)
    store = _feature_store(ctx, body)
    if store is None and isinstance(build.component, BatchPipeline):
        store = ctx.spec.feature_stores.get(build.component.scored_store or "")
    if store is not None:
        arguments["DataProcessing"] = data_processing(store, body)
    return {"Name": name, "Type": "Transform", "Arguments": arguments}


def _feature_store(ctx: LoweringContext, body: TransformStep) -> FeatureStore | None:
    head, dot, rest = body.inputs[0].partition(".")
    return ctx.spec.feature_stores.get(rest) if head == "feature_store" and dot else None
