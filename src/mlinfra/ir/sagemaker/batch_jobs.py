"""Batch jobs on SageMaker: the batch job's pipeline (`ir.requests.batch_jobs`), lowered as
the spec's pipelines are, with its EventBridge schedule; a feature store it scores is first
exported by the pipeline's `export` step."""

from __future__ import annotations

from mlinfra.ir.graph import Resource
from mlinfra.ir.requests.batch_jobs import as_pipeline
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipelines import lower_pipeline
from mlinfra.spec.model import BatchJob


def lower_batch_job(ctx: LoweringContext, component: BatchJob) -> list[Resource]:
    pipeline = as_pipeline(
        component, ctx.spec.feature_stores, lambda store: ctx.name(store, "feature_group")
    )
    return lower_pipeline(ctx, pipeline)
