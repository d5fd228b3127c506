"""The images jobs run in: the framework of the model a pipeline registers, else
scikit-learn (SKLearnProcessor's image for processing steps)."""

from __future__ import annotations

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker.api import CatalogError
from mlinfra.sagemaker.images import image_uri
from mlinfra.spec.model import Model, Pipeline, RegisterModelStep

DEFAULT_SKLEARN_VERSION = "1.2-1"


def registered_model(ctx: LoweringContext, component: Pipeline) -> Model | None:
    """The model the pipeline's first register_model step registers, if it has one."""
    for body in component.steps.values():
        if isinstance(body, RegisterModelStep):
            return ctx.spec.models.get(body.model)
    return None


def training_framework(ctx: LoweringContext, component: Pipeline) -> tuple[str, str]:
    model = registered_model(ctx, component)
    if model is None:
        return "sklearn", DEFAULT_SKLEARN_VERSION
    return model.framework, model.framework_version


def processing_version(ctx: LoweringContext, component: Pipeline) -> str:
    framework, version = training_framework(ctx, component)
    return version if framework == "sklearn" else DEFAULT_SKLEARN_VERSION


def _image(framework: str, version: str, region: str, instance_type: str) -> str:
    try:
        return image_uri(framework, version, region, "training", instance_type)
    except CatalogError as exc:
        # The user's choice of instance type, not a bug: reported as such by the commands.
        raise CatalogError(f"no {framework} {version} image for {instance_type}: {exc}") from None


def processing_image(ctx: LoweringContext, component: Pipeline, instance_type: str) -> str:
    # SKLearnProcessor runs the scikit-learn framework image (the same repository for
    # training and serving).
    version = processing_version(ctx, component)
    return _image("sklearn", version, ctx.spec.region, instance_type)


def training_image(ctx: LoweringContext, component: Pipeline, instance_type: str) -> str:
    framework, version = training_framework(ctx, component)
    return _image(framework, version, ctx.spec.region, instance_type)
