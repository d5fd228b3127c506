"""Instance types, regions and framework versions exist, per the catalogues AWS ships.

botocore's SageMaker service model lists the instance types each kind of job accepts and its
endpoint data lists the regions; sagemaker-core's image configs list framework versions and
the regions that host their images. Nothing here needs the network. Whether an image exists
for each instance type is lowering's to say (`mlinfra.ir.sagemaker.problems.lowering_diagnostics`).
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.sagemaker import images, instances, regions
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.model import JobStep
from mlinfra.spec.resolve import environment_names


def _instance_type(value: str, kind: str, where: SourceRange) -> Iterator[Diagnostic]:
    known = instances.instance_types(kind)
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
    for job in ctx.spec.batch_jobs.values():
        where = job.range_of("instance_type")
        yield from _instance_type(job.instance_type, "transform", where)


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
        if region not in regions.all_regions():
            close = suggest(region, sorted(regions.all_regions()))
            yield error(
                "unknown-region",
                f"{region!r} is not an AWS region",
                where,
                suggestion=f"did you mean {close!r}?" if close else None,
            )
        elif target == "sagemaker" and region not in regions.sagemaker_regions():
            yield error("unknown-region", f"SageMaker is not available in {region!r}", where)


def check_framework_versions(ctx: CheckContext) -> Iterator[Diagnostic]:
    for model in ctx.spec.models.values():
        framework, version = model.framework, model.framework_version
        where = model.range_of("framework_version")
        known = images.framework_versions(framework)
        if version not in known:
            close = suggest(version, sorted(known))
            yield error(
                "unknown-framework-version",
                f"{framework} has no SageMaker serving image for version {version!r}",
                where,
                suggestion=f"did you mean {close!r}?" if close else None,
                detail="known versions: " + ", ".join(sorted(known)),
            )
        elif ctx.target == "sagemaker" and ctx.region not in images.framework_regions(
            framework, version
        ):
            yield error(
                "framework-not-in-region",
                f"{framework} {version} has no serving image in {ctx.region}",
                where,
            )


CHECKS = (check_instance_types, check_regions, check_framework_versions)
