"""What lowering a SageMaker environment would refuse, as diagnostics at the spec text that
chose it, so that validation says it instead of `plan` failing on it.

Every job and endpoint needs a prebuilt image for its instance type (scikit-learn has CPU
images only, for instance), found here exactly as lowering finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.ir.requests import models
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitor_shared import job_image
from mlinfra.ir.sagemaker.pipeline_definition.images import (
    processing_image,
    registered_model,
    training_image,
)
from mlinfra.sagemaker import images
from mlinfra.sagemaker.api import CatalogError
from mlinfra.spec.model import EnvSpec, Model


def lowering_diagnostics(spec: EnvSpec, spec_dir: Path | None = None) -> list[Diagnostic]:
    """What `lower` would refuse in this environment, as diagnostics at the spec text that
    chose it (an instance type with no image): validation reports them as the spec's errors.
    """
    if spec.target != "sagemaker":
        return []
    ctx = LoweringContext(spec, spec_dir)
    return list(image_problems(ctx))


def image_problems(ctx: LoweringContext) -> Iterator[Diagnostic]:
    """An error for each endpoint, job and monitor job of the environment that has no image."""
    for model in ctx.spec.models.values():
        served_by = models.serving_endpoints(ctx, model)
        if not model.artifact or not served_by or not _listed(ctx, model):
            continue  # a registered version brings its own image; others are said by checks
        where = served_by[0].range_of("instance_type")
        what = (
            f"no {model.framework} {model.framework_version} serving image for "
            f"{served_by[0].instance_type}: "
        )
        yield from _image_problem(partial(models.image, ctx, model), where, what)
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            image = {"processing": processing_image, "training": training_image}.get(step.type)
            if image is None:
                continue
            model = registered_model(ctx, pipeline)
            if model is not None and not _listed(ctx, model):
                continue
            where = step.range_of("instance_type")
            yield from _image_problem(partial(image, ctx, pipeline, step.instance_type), where)
    for monitor in ctx.spec.monitors.values():
        if monitor.engine != "mlinfra":
            continue  # Model Monitor's analyzer image has no instance types to match
        # The monitor job, the code the emulator runs, runs on the scikit-learn image here.
        what = f"monitor {monitor.name!r} runs mlinfra's monitor job on the scikit-learn image: "
        where = monitor.range_of("instance_type")
        yield from _image_problem(partial(job_image, ctx, monitor), where, what)


def _listed(ctx: LoweringContext, model: Model) -> bool:
    """The model's framework version is known and hosted in the region (else the spec's
    checks have said so already)."""
    framework, version = model.framework, model.framework_version
    return version in images.framework_versions(framework) and ctx.spec.region in (
        images.framework_regions(framework, version)
    )


def _image_problem(
    find_image: Callable[[], str], where: SourceRange, what: str = ""
) -> Iterator[Diagnostic]:
    try:
        find_image()
    except CatalogError as exc:
        summary = f"{what}{exc}"
        cpu_only = " (scikit-learn images are CPU-only)" if "sklearn" in summary else ""
        yield error(
            "no-image-for-instance-type",
            summary,
            where,
            suggestion=f"choose another instance type{cpu_only}",
        )
