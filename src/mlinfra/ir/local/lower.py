"""`lower_local`: the resolved spec of a `target: local` environment -> its ResourceGraph."""

from __future__ import annotations

from pathlib import Path

from mlinfra.ir.graph import Resource
from mlinfra.ir.local import batch_jobs, endpoints, feature_stores, models, monitors, pipelines
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker.resources import kind_of
from mlinfra.spec.model import EnvSpec

LOWERERS = {
    "feature_store": feature_stores.lower_feature_store,
    "model": models.lower_model,
    "endpoint": endpoints.lower_endpoint,
    "pipeline": pipelines.lower_pipeline,
    "monitor": monitors.lower_monitor,
    "batch_job": batch_jobs.lower_batch_job,
}


def lower_local(spec: EnvSpec, spec_dir: Path | None) -> list[Resource]:
    """The resources of the environment's components, in spec order."""
    ctx = LoweringContext(spec, spec_dir)
    resources = []
    for component in spec.components:
        lowerer = LOWERERS.get(component.kind)
        if lowerer is not None:
            resources.extend(lowerer(ctx, component))
    return resources


def outputs(resources: list[Resource]) -> dict:
    """The physical name of each component, as the SageMaker target's outputs give it."""
    return {
        r.address: r.properties[kind_of(r.type).name_field]
        for r in resources
        if r.address == r.component
    }
