"""The instance types SageMaker accepts for each kind of workload, from its API model's enums."""

from __future__ import annotations

import functools
from typing import Literal

from mlinfra.sagemaker.api import CatalogError, sagemaker_shape

InstanceKind = Literal["endpoint", "processing", "training", "transform", "monitoring"]

# The service-model shapes whose enums list the instance types each API accepts.
# Monitoring schedules run as processing jobs, so they take processing instance types.
INSTANCE_TYPE_SHAPES: dict[str, str] = {
    "endpoint": "ProductionVariantInstanceType",
    "processing": "ProcessingInstanceType",
    "training": "TrainingInstanceType",
    "transform": "TransformInstanceType",
    "monitoring": "ProcessingInstanceType",
}
INSTANCE_KINDS: tuple[str, ...] = tuple(INSTANCE_TYPE_SHAPES)


@functools.cache
def instance_types(kind: InstanceKind) -> frozenset[str]:
    """The instance types SageMaker accepts for `kind` of workload."""
    try:
        shape = INSTANCE_TYPE_SHAPES[kind]
    except KeyError:
        raise CatalogError(
            f"unknown instance kind {kind!r}; known: {', '.join(INSTANCE_KINDS)}"
        ) from None
    return frozenset(sagemaker_shape(shape)["enum"])
