"""Lowering: a resolved environment spec -> its `ResourceGraph`, per target.

A pure function of the `EnvSpec` (and of the local files it names, whose content hashes make
a changed script a changed resource).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from mlinfra.allocation import without_collector
from mlinfra.ir.graph import Resource, ResourceGraph, build_graph
from mlinfra.ir.local import lower as local
from mlinfra.ir.sagemaker import (
    batch_jobs,
    endpoints,
    environment,
    feature_stores,
    models,
    monitors,
    pipelines,
)
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker.resources import RESOURCE_TYPES, local_type, pulumi_type
from mlinfra.spec.model import EnvSpec

# What holds data that a deletion would lose, and what it loses: in a `protect: true`
# environment the engine refuses to delete or replace these (Pulumi's `protect` resource
# option), and elsewhere a plan that deletes or replaces one says what is lost. SageMaker's
# types say it in the catalogue; where a feature group's offline files stay is the target's.
STATEFUL_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "aws.kms.Key": "the key, after its deletion window: what it encrypted cannot be read",
        "aws.s3.Bucket": (
            "the bucket and everything stored in it (Pulumi fails while it holds objects)"
        ),
        **{
            pulumi_type(kind): kind.loses.format(offline_store="in S3")
            for kind in RESOURCE_TYPES.values()
            if kind.loses
        },
        **{
            local_type(kind): kind.loses.format(
                offline_store="under .mlinfra/emulator/featurestore/offline-deleted/"
            )
            for kind in RESOURCE_TYPES.values()
            if kind.loses
        },
    }
)


def protected(spec: EnvSpec, resources: list[Resource]) -> list[Resource]:
    if not spec.protect:
        return resources
    return [
        dataclasses.replace(r, protect=True) if r.type in STATEFUL_TYPES else r for r in resources
    ]


class UnsupportedTarget(ValueError):
    pass


@without_collector
def lower(spec: EnvSpec, spec_dir: Path | None = None) -> ResourceGraph:
    if spec.target == "sagemaker":
        return lower_sagemaker(spec, spec_dir)
    if spec.target == "local":
        return lower_local(spec, spec_dir)
    raise UnsupportedTarget(f"environment {spec.env!r} has an unknown target {spec.target!r}")


def lower_local(spec: EnvSpec, spec_dir: Path | None) -> ResourceGraph:
    resources = local.lower_local(spec, spec_dir)
    found = local.outputs(resources)
    resources = protected(spec, resources)
    return build_graph(spec.project, spec.env, spec.target, spec.region, resources, found)


def lower_sagemaker(spec: EnvSpec, spec_dir: Path | None) -> ResourceGraph:
    ctx = LoweringContext(spec, spec_dir)
    resources = list(environment.lower_environment(ctx))
    lowerers = {
        "feature_store": feature_stores.lower_feature_store,
        "model": models.lower_model,
        "pipeline": pipelines.lower_pipeline,
        "endpoint": endpoints.lower_endpoint,
        "monitor": monitors.lower_monitor,
        "batch_job": batch_jobs.lower_batch_job,
    }
    outputs: dict = {}
    for component in spec.components:
        lowered = lowerers[component.kind](ctx, component)
        resources.extend(lowered)
    for resource in resources:
        if resource.address == resource.component and "name" in resource.properties:
            outputs[resource.address] = resource.properties["name"]
    resources = protected(spec, resources)
    return build_graph(spec.project, spec.env, spec.target, spec.region, resources, outputs)
