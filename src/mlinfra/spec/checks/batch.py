"""Batch scoring makes sense: batch jobs and transform steps name a model and data that exist,
ask for options that go together, and ask nothing of their target that it cannot do.

A batch job and a transform step are the same work (a batch transform job of a model's served
version), so each check reads both through `transforms`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.checks.references import unknown
from mlinfra.spec.model import BatchJob, SpecNode, TransformSettings, TransformStep


@dataclass(frozen=True)
class Transform:
    """One batch transform the spec declares: a batch job, or a transform step."""

    what: str  # how messages name it: "batch job 'scores'", "step 'score'"
    node: SpecNode
    model: str
    input: str | None  # None: a transform step without exactly one input (reported)
    input_at: Callable[[], SourceRange]
    settings: TransformSettings  # the batch job or step itself
    output: str | None
    is_step: bool


def transforms(ctx: CheckContext) -> Iterator[Transform]:
    for job in ctx.spec.batch_jobs.values():
        yield _of_batch_job(job)
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if isinstance(step, TransformStep):
                given = step.inputs[0] if len(step.inputs) == 1 else None
                yield Transform(
                    f"step {step.name!r} of pipeline {pipeline.name!r}",
                    step,
                    step.model,
                    given,
                    partial(step.range_of, "inputs", 0),
                    step,
                    None,
                    True,
                )


def _of_batch_job(job: BatchJob) -> Transform:
    return Transform(
        f"batch job {job.name!r}",
        job,
        job.model,
        job.input,
        partial(job.range_of, "input"),
        job,
        job.output,
        False,
    )


CSV = "text/csv"


def feature_store_of(text: str | None) -> str | None:
    """The store an input names (`feature_store.<name>`), if it names one."""
    head, dot, rest = (text or "").partition(".")
    return rest if head == "feature_store" and dot else None


def check_transform_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    models, stores = list(ctx.spec.models), ctx.spec.feature_stores
    for t in transforms(ctx):
        if t.model not in models:
            yield unknown("model", t.model, models, t.node.range_of("model"))
        store = feature_store_of(t.input)
        if t.is_step or store is None:
            continue  # a step's inputs are checked with every step's
        if store not in stores:
            yield unknown("feature store", store, list(stores), t.input_at())
        elif not stores[store].offline.enabled:
            yield error(
                "invalid-input",
                f"{t.what} scores feature store {store!r}, which has no offline store to read",
                t.input_at(),
                suggestion=f"enable offline storage on {store!r}",
            )


def check_transform_inputs(ctx: CheckContext) -> Iterator[Diagnostic]:
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if not isinstance(step, TransformStep):
                continue
            if len(step.inputs) != 1:
                yield error(
                    "invalid-input",
                    f"transform step {step.name!r} reads {len(step.inputs)} inputs; it scores "
                    "exactly one",
                    step.key_range_of("inputs"),
                    suggestion="give one input: feature_store.<name>, <step>.<output> of a "
                    "processing step, a path or an S3 URI",
                )
                continue
            head = step.inputs[0].partition(".")[0]
            source = pipeline.steps.get(head)
            if source is not None and source.type == "training":
                yield error(
                    "invalid-input",
                    f"transform step {step.name!r} reads training step {head!r}, whose output "
                    "is a model, not data to score",
                    step.range_of("inputs", 0),
                    suggestion="score the output of a processing step, a feature store or a file",
                )


def check_transform_options(ctx: CheckContext) -> Iterator[Diagnostic]:
    stores = ctx.spec.feature_stores
    for t in transforms(ctx):
        settings = t.settings
        store = stores.get(feature_store_of(t.input) or "")
        if settings.features and feature_store_of(t.input) is None:
            yield error(
                "unused-setting",
                f"{t.what}: features choose the columns of a feature store, and its input "
                "is not one",
                t.node.range_of("features"),
                suggestion="remove `features`, or score feature_store.<name>",
            )
        elif settings.features and store is not None:
            known = list(store.features)
            for i, name in enumerate(settings.features):
                if name not in store.features:
                    what = f"feature in store {store.name!r}"
                    yield unknown(what, name, known, t.node.range_of("features", i))
        if store is not None:
            # The rows go out as CSV, and each answer is joined to its record as CSV.
            for field in ("content_type", "accept"):
                if getattr(settings, field) != CSV:
                    yield error(
                        "invalid-value",
                        f"{t.what}: a feature store's rows are sent, and their scores joined "
                        f"to them, as CSV: its {field} must be {CSV}",
                        t.node.range_of(field),
                        suggestion=f"remove `{field}` ({CSV} is the default)",
                    )
        if settings.max_payload_mb == 0 and settings.split != "none":
            yield error(
                "invalid-value",
                f"{t.what}: max_payload_mb 0 (no limit) sends whole files, so it needs split none",
                t.node.range_of("max_payload_mb"),
                suggestion="set split: none, or give a limit in MB",
            )


def check_transform_targets(ctx: CheckContext) -> Iterator[Diagnostic]:
    """What the environment's target cannot do with a batch transform."""
    for t in transforms(ctx):
        store = feature_store_of(t.input)
        if ctx.target == "local":
            for field, value, at in (
                ("input", t.input, t.input_at),
                ("output", t.output, partial(t.node.range_of, "output")),
            ):
                if value is not None and value.startswith("s3://"):
                    yield error(
                        "not-on-local",
                        f"{t.what}: the local emulator of environment {ctx.env!r} cannot reach "
                        f"{value}",
                        at(),
                        suggestion=f"give this environment a local {field} (a path relative "
                        "to the spec) in its overrides",
                    )
        elif ctx.target == "sagemaker":
            if store is not None and t.is_step:
                yield error(
                    "not-on-sagemaker",
                    f"{t.what} scores feature store {store!r} directly, which a transform job "
                    "cannot on SageMaker: it reads files, and the offline store holds every "
                    "version of every record as Parquet",
                    t.input_at(),
                    suggestion="export the rows to score as CSV in a processing step before "
                    "it and score that step's output, or score the store from a batch job "
                    "(which exports the latest rows itself)",
                )
            if t.output is not None and not t.output.startswith("s3://"):
                yield error(
                    "not-on-sagemaker",
                    f"{t.what}: a transform job on SageMaker writes to S3, not to {t.output!r}",
                    t.node.range_of("output"),
                    suggestion="give an s3:// output in this environment's overrides, or "
                    "leave it out (the artifacts bucket, by run)",
                )


def check_batch_job_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    # A batch job is a pipeline of its own on both targets, named as pipelines are.
    for job in ctx.spec.batch_jobs.values():
        if job.name in ctx.spec.pipelines:
            yield error(
                "duplicate-name",
                f"batch job {job.name!r} has the name of a pipeline: each runs as a SageMaker "
                "pipeline of that name",
                job.key_range,
                suggestion="rename the batch job or the pipeline",
            )


CHECKS = (
    check_transform_references,
    check_transform_inputs,
    check_transform_options,
    check_transform_targets,
    check_batch_job_names,
)
