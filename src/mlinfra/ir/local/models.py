"""Models: a model in the emulator, served from a local artifact or a registry version,
and the registry group pipelines register versions into.

As on SageMaker, a model is immutable and its name carries a hash of its content (for an
artifact, of the file itself), and a latest-approved model's name carries the version it
serves: a new artifact or a newly approved version is a new model, and through its name a
new endpoint configuration, so the endpoint moves to it.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Call, Concat, Resource, content_hash
from mlinfra.ir.local.api import MODEL, MODEL_PACKAGE_GROUP
from mlinfra.ir.requests.models import (
    LATEST_APPROVED,
    create_model,
    create_model_package_group,
    is_s3,
    primary_container,
    registry_address,
    registry_group_name,
)
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import (
    VERSION_SUFFIX_LENGTH,
    file_sha256,
    served_version,
    with_version,
)
from mlinfra.naming import HASH_LENGTH, fit, physical_name
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.model import Model


class LocalTargetError(ValueError):
    """The spec asks for something the local emulator cannot do (e.g. serve from S3)."""


def lower_model(ctx: LoweringContext, component: Model) -> list[Resource]:
    resources = []
    group = create_model_package_group(ctx, component)
    if group is not None:
        resources.append(
            ctx.resource(
                registry_address(ctx, component.registry_group),
                MODEL_PACKAGE_GROUP,
                group,
                component.range_of("registry_group"),
            )
        )
    depends_on: tuple[str, ...] = ()
    if component.registry_group and not component.artifact:
        # The registry is read by name when the model is created, not through a Ref.
        depends_on = (registry_address(ctx, component.registry_group),)
    request = create_model(ctx, component, model_data_url, model_package)
    resources.append(
        ctx.resource(
            component.address,
            MODEL,
            {"ModelName": model_name(ctx, component), **request},
            component.key_range,
            depends_on=depends_on,
        )
    )
    return resources


def model_data_url(ctx: LoweringContext, component: Model) -> str:
    """The artifact as the spec gives it. The emulator serves it itself (the image is what
    SageMaker would run), and reads a relative path from the spec's folder."""
    artifact = component.artifact
    if is_s3(artifact):
        raise LocalTargetError(
            f"{component.address}: artifact {artifact} is in S3, which the local emulator "
            "cannot read; give a local path (a model.tar.gz or a folder with model.joblib) "
            "in this environment's overrides"
        )
    return artifact


def registry_lookup(ctx: LoweringContext, component: Model) -> tuple[str, ...]:
    """A local lookup's arguments: the group alone. An endpoint already serving keeps its
    version here by its change waiting (the engine leaves it as it is), not by a lookup."""
    return (registry_group_name(ctx, component.registry_group),)


def model_package(ctx: LoweringContext, component: Model) -> Call:
    """The registry version served: looked up in the emulator's registry when applying."""
    group = registry_group_name(ctx, component.registry_group)
    version = component.version
    if version == LATEST_APPROVED:
        return Call("latest_approved_model_package", registry_lookup(ctx, component))
    return Call("model_package_arn", (group, version))


def model_name(ctx: LoweringContext, component: Model) -> str | Concat:
    """`{project}-{env}-{model}-{hash}[-v{version}]`: the hash of the container (and of the
    artifact's content), the version a latest-approved model serves."""
    container = primary_container(ctx, component, model_data_url, model_package)
    content: dict[str, Any] = {"container": container}
    if component.artifact:
        content["sha256"] = file_sha256(ctx, component.artifact)
    wanted = physical_name(ctx.spec.project, ctx.spec.env, component.name, "model").wanted
    version = served_version(ctx, component, registry_lookup)
    reserve = HASH_LENGTH + 1 + (VERSION_SUFFIX_LENGTH if version is not None else 0)
    name = f"{fit(wanted, name_rule('model').max_length - reserve)}-{content_hash(content)}"
    return with_version(ctx, component, name, registry_lookup)
