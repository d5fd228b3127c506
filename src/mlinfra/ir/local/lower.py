"""`lower_local`: the resolved spec of a `target: local` environment -> its ResourceGraph."""

from __future__ import annotations

from pathlib import Path

from mlinfra.ir.graph import Resource
from mlinfra.ir.local import endpoints, feature_stores, models, pipelines
from mlinfra.ir.local.api import NAME_FIELDS
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import EnvSpec

LOWERERS = {
    "feature_store": feature_stores.lower_feature_store,
    "model": models.lower_model,
    "endpoint": endpoints.lower_endpoint,
    "pipeline": pipelines.lower_pipeline,
}
# Monitors run on the emulator's monitor runtime, which comes with its own lowering; until
# then a local environment leaves them out and says so.
NOT_YET_LOCAL = ("monitor",)


def lower_local(spec: EnvSpec, spec_dir: Path | None) -> list[Resource]:
    """The resources of the environment's feature stores, models, endpoints and pipelines."""
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
        r.address: r.properties[NAME_FIELDS[r.type]] for r in resources if r.address == r.component
    }


def skipped(spec: EnvSpec) -> list[str]:
    """The components a local environment does not deploy yet (see NOT_YET_LOCAL)."""
    return [c.address for c in spec.components if c.kind in NOT_YET_LOCAL]
