"""Batch jobs in the emulator: the batch job's pipeline (`ir.requests.batch_jobs`), lowered
as the spec's pipelines are; the emulator's scheduler starts it on its schedule, and its
runner exports a feature store's latest rows before the transform job reads them."""

from __future__ import annotations

from mlinfra.ir.graph import Resource
from mlinfra.ir.local.pipelines import lower_pipeline
from mlinfra.ir.requests.batch_jobs import as_pipeline
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import BatchJob


def lower_batch_job(ctx: LoweringContext, component: BatchJob) -> list[Resource]:
    return lower_pipeline(ctx, as_pipeline(component))
