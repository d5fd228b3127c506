"""Models: the `CreateModel` request a spec model becomes, and the `CreateModelPackageGroup`
request of the registry group it owns.

A model is served either from an artifact or from a version in its registry group (the
latest approved one, or a pinned version number); where that artifact is and how that
version is found depend on the target, which gives them. A model's name is a hash of what
its target creates (models are immutable), so the target names it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker import images
from mlinfra.spec.model import Endpoint, Model

LATEST_APPROVED = "latest-approved"


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def serving_endpoints(ctx: LoweringContext, component: Model) -> tuple[Endpoint, ...]:
    return ctx.endpoints_by_model.get(component.name, ())


def image(ctx: LoweringContext, component: Model) -> str:
    """The framework's serving image, for the instance type of the first endpoint serving it.

    The instance type picks the cpu, gpu or Graviton build where a framework has several.
    """
    endpoints = serving_endpoints(ctx, component)
    instance_type = endpoints[0].instance_type if endpoints else None
    return images.image_uri(
        component.framework,
        component.framework_version,
        ctx.spec.region,
        "inference",
        instance_type,
    )


# --- the registry group -----------------------------------------------------------------------


def registry_group_name(ctx: LoweringContext, group: str) -> str:
    """The physical name of registry group `group`: `{project}-{env}-{group}`.

    Pipelines register into this name, and models read versions from it.
    """
    return ctx.name(group, "model_package_group")


def registry_owner(ctx: LoweringContext, group: str) -> Model:
    """The model that creates group `group`: the first one naming it (models may share one)."""
    return next(m for m in ctx.spec.models.values() if m.registry_group == group)


def registry_address(ctx: LoweringContext, group: str) -> str:
    return f"{registry_owner(ctx, group).address}/registry"


def create_model_package_group(ctx: LoweringContext, component: Model) -> dict[str, Any] | None:
    """The request creating the model's registry group, if this model is the one creating it."""
    group = component.registry_group
    if not group or registry_owner(ctx, group) is not component:
        return None
    return {
        "ModelPackageGroupName": registry_group_name(ctx, group),
        "ModelPackageGroupDescription": component.description or f"Versions of {component.address}",
        "Tags": tags(ctx, component),
    }


# --- the model --------------------------------------------------------------------------------


# Where the target keeps a model's artifact, or how it finds the registered version it serves.
Locate = Callable[[LoweringContext, Model], Any]


def primary_container(
    ctx: LoweringContext, component: Model, model_data_url: Locate, model_package: Locate
) -> dict[str, Any]:
    """The container: the framework's image and the artifact where `model_data_url` says, or
    the registered version `model_package` finds (which carries its own image and data)."""
    if component.artifact:
        container: dict[str, Any] = {
            "Image": image(ctx, component),
            "ModelDataUrl": model_data_url(ctx, component),
        }
    else:
        container = {"ModelPackageName": model_package(ctx, component)}
    if component.environment:
        container["Environment"] = dict(component.environment)
    return container


def create_model(
    ctx: LoweringContext, component: Model, model_data_url: Locate, model_package: Locate
) -> dict[str, Any]:
    """`CreateModel`'s request, but for its name (which the target hashes from its content)."""
    return {
        "PrimaryContainer": primary_container(ctx, component, model_data_url, model_package),
        "Tags": tags(ctx, component),
    }
