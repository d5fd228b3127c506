"""Instance types, regions and framework versions exist, per the catalogues AWS ships.

botocore's SageMaker service model lists the instance types each kind of job accepts and its
endpoint data lists the regions; sagemaker-core's image configs list framework versions and
the regions that host their images, and for which processors (cpu, gpu...) each version has
one. Nothing here needs the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.spec import catalog
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.model import JobStep, Model
from mlinfra.spec.resolve import environment_names


def _instance_type(value: str, kind: str, where: SourceRange) -> Iterator[Diagnostic]:
    known = catalog.instance_types(kind)
    if value not in known:
        close = suggest(value, sorted(known))
        yield error(
            "unknown-instance-type",
            f"{value!r} is not a SageMaker {kind} instance type",
            where,
            suggestion=f"did you mean {close!r}?" if close else "see the SageMaker pricing page",
        )


def check_instance_types(ctx: CheckContext) -> Iterator[Diagnostic]:
    for endpoint in ctx.spec.endpoints.values():
        where = endpoint.range_of("instance_type")
        yield from _instance_type(endpoint.instance_type, "endpoint", where)
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if isinstance(step, JobStep):
                where = step.range_of("instance_type")
                yield from _instance_type(step.instance_type, step.type, where)
    for monitor in ctx.spec.monitors.values():
        where = monitor.range_of("instance_type")
        yield from _instance_type(monitor.instance_type, "monitoring", where)


def check_regions(ctx: CheckContext) -> Iterator[Diagnostic]:
    """The regions written, in `defaults` and in every environment (a check of the document,
    so it reads what each environment wrote, not one environment's resolved settings)."""
    places = [(("defaults", "region"), None)]
    places += [(("environments", env, "region"), env) for env in environment_names(ctx.root)]
    for path, env in places:
        region = ctx.written(*path)
        target = ctx.written("environments", env, "target") if env else None
        if region is None:
            continue
        where = ctx.at(*path)
        if region not in catalog.all_regions():
            close = suggest(region, sorted(catalog.all_regions()))
            yield error(
                "unknown-region",
                f"{region!r} is not an AWS region",
                where,
                suggestion=f"did you mean {close!r}?" if close else None,
            )
        elif target == "sagemaker" and region not in catalog.sagemaker_regions():
            yield error("unknown-region", f"SageMaker is not available in {region!r}", where)


def check_framework_versions(ctx: CheckContext) -> Iterator[Diagnostic]:
    for model in ctx.spec.models.values():
        framework, version = model.framework, model.framework_version
        where = model.range_of("framework_version")
        known = catalog.framework_versions(framework)
        if version not in known:
            close = suggest(version, sorted(known))
            yield error(
                "unknown-framework-version",
                f"{framework} has no SageMaker serving image for version {version!r}",
                where,
                suggestion=f"did you mean {close!r}?" if close else None,
                detail="known versions: " + ", ".join(sorted(known)),
            )
        elif ctx.target == "sagemaker" and ctx.region not in catalog.framework_regions(
            framework, version
        ):
            yield error(
                "framework-not-in-region",
                f"{framework} {version} has no serving image in {ctx.region}",
                where,
            )


def check_images(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every job and endpoint of a sagemaker environment has a prebuilt image for its instance
    type (scikit-learn has CPU images only, for instance), found as lowering will find it."""
    if ctx.target != "sagemaker":
        return
    from mlinfra.ir.requests import models
    from mlinfra.ir.sagemaker.context import LoweringContext
    from mlinfra.ir.sagemaker.pipeline_definition.images import (
        processing_image,
        registered_model,
        training_image,
    )

    lowering = LoweringContext(ctx.spec, ctx.spec_dir)
    for model in ctx.spec.models.values():
        served_by = models.serving_endpoints(lowering, model)
        if not model.artifact or not served_by or not _listed(ctx, model):
            continue  # a registered version brings its own image; others are said above
        where = served_by[0].range_of("instance_type")
        what = (
            f"no {model.framework} {model.framework_version} serving image for "
            f"{served_by[0].instance_type}: "
        )
        yield from _image_problem(partial(models.image, lowering, model), where, what)
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            image = {"processing": processing_image, "training": training_image}.get(step.type)
            if image is None:
                continue
            model = registered_model(lowering, pipeline)
            if model is not None and not _listed(ctx, model):
                continue
            where = step.range_of("instance_type")
            yield from _image_problem(partial(image, lowering, pipeline, step.instance_type), where)


def _listed(ctx: CheckContext, model: Model) -> bool:
    """The model's framework version is known and hosted in the region (else
    check_framework_versions has said so already)."""
    framework, version = model.framework, model.framework_version
    return version in catalog.framework_versions(framework) and ctx.region in (
        catalog.framework_regions(framework, version)
    )


def _image_problem(find_image, where: SourceRange, what: str = "") -> Iterator[Diagnostic]:
    try:
        find_image()
    except catalog.CatalogError as exc:
        summary = f"{what}{exc}"
        cpu_only = " (scikit-learn images are CPU-only)" if "sklearn" in summary else ""
        yield error(
            "no-image-for-instance-type",
            summary,
            where,
            suggestion=f"choose another instance type{cpu_only}",
        )


CHECKS = (check_instance_types, check_regions, check_framework_versions, check_images)
