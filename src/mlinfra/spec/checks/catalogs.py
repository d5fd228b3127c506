"""Instance types, regions and framework versions exist, per the catalogues AWS ships.

botocore's SageMaker service model lists the instance types each kind of job accepts and its
endpoint data lists the regions; sagemaker-core's image configs list framework versions and
the regions that host their images. Nothing here needs the network.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.spec import catalog
from mlinfra.spec.checks.context import CheckContext


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
    for name, endpoint in ctx.components("endpoints"):
        where = ctx.at("endpoints", name, "instance_type")
        yield from _instance_type(endpoint["instance_type"], "endpoint", where)
    for pipeline, spec in ctx.components("pipelines"):
        for step, body in spec["steps"].items():
            if body["type"] in ("processing", "training") and "instance_type" in body:
                where = ctx.at("pipelines", pipeline, "steps", step, "instance_type")
                yield from _instance_type(body["instance_type"], body["type"], where)
    for name, monitor in ctx.components("monitors"):
        if "instance_type" in monitor:
            where = ctx.at("monitors", name, "instance_type")
            yield from _instance_type(monitor["instance_type"], "monitoring", where)


def check_regions(ctx: CheckContext) -> Iterator[Diagnostic]:
    places = [(("defaults", "region"), ctx.data.get("defaults", {}).get("region"), None)]
    for env, settings in ctx.data.get("environments", {}).items():
        places.append((("environments", env, "region"), settings.get("region"), settings["target"]))
    for path, region, target in places:
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
    for name, model in ctx.components("models"):
        framework, version = model["framework"], model["framework_version"]
        where = ctx.at("models", name, "framework_version")
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


CHECKS = (check_instance_types, check_regions, check_framework_versions)
