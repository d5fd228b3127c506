"""Why a model version is missing, in the user's words: which model, what its registry holds,
and the command or spec change that ends the wait (`mlinfra pipeline run`, `mlinfra model
approve`, pinning `version:`).

The lookups (`plan.values`) say what the registry lacks in the registry's words (a group's
physical name); plan and apply show the reasons said here instead, read from the emulator's
registry as it is at the time they are shown, so an apply that just created a registry group
does not report it missing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mlinfra.operations.emulator import named, registry_groups
from mlinfra.plan.values import MODEL_PACKAGE, VERSION, Lookups

APPROVED = "Approved"
DEFAULT_SPEC = "mlinfra.yaml"  # what -f defaults to


def explained(found: Lookups, spec: Any, spec_file: str, registry: Any) -> Lookups:
    """`found` with the reason of each latest approved version missing from a local
    environment's registry (`registry`: a SageMaker client of its emulator) in the user's
    words; other reasons as they were."""
    models = registry_groups(spec)
    unavailable = dict(found.unavailable)
    listed: dict[str, dict[int, str] | None] = {}  # each group read once
    for key in unavailable:
        function, args = key
        model = models.get(args[0]) if function in (MODEL_PACKAGE, VERSION) and args else None
        if model is None:
            continue
        if args[0] not in listed:
            listed[args[0]] = _versions(registry, args[0])
        versions = listed[args[0]]
        if versions is not None and not any(v == APPROVED for v in versions.values()):
            unavailable[key] = no_approved_version(spec, spec_file, model, versions)
    return replace(found, unavailable=unavailable)


def no_approved_version(spec: Any, spec_file: str, model: Any, versions: dict[int, str]) -> str:
    """Why `model` has no version to serve in `spec`'s environment, whose registry holds
    `versions` (number -> approval status), and what ends the wait."""
    name, env = model.name, spec.env
    # The commands as the user types them: with the spec named unless it is the default one.
    where = "" if spec_file == DEFAULT_SPEC else f" -f {spec_file}"
    approve = f"mlinfra model approve {name} --env {env}{where}"
    pin = f"or pin `version:` under models.{name} in {spec_file}"
    pending = sorted(n for n, status in versions.items() if status == "PendingManualApproval")
    if pending:
        which = "version " + ", ".join(str(n) for n in pending)
        verb = "waits" if len(pending) == 1 else "wait"
        return f"model {name}'s {which} {verb} for approval: approve it with `{approve}`, {pin}"
    register = _registering(spec, model)
    if register is None:
        run = (
            f"register a version in registry group "
            f"{named(spec, model.registry_group, 'model_package_group')} (boto3's "
            "CreateModelPackage)"
        )
    else:
        pipeline, step = register
        run = (
            f"run `mlinfra pipeline run {pipeline} --env {env} --wait{where}` (its {step} step "
            "registers one"
        )
        run += (
            ", approved as registered: `approval: auto`)"
            if model.approval == "auto"
            else f"), then approve it with `{approve}`"
        )
    if versions:  # only rejected ones
        rejected = ", ".join(str(n) for n in sorted(versions))
        return (
            f"model {name} has no approved version (rejected: {rejected}): {run}; or approve "
            f"one with `{approve} --version N`; {pin}"
        )
    return f"model {name} has no version yet: {run}, {pin}"


def _registering(spec: Any, model: Any) -> tuple[str, str] | None:
    """The first pipeline (and its step) that registers versions of `model`."""
    for pipeline in spec.pipelines.values():
        for step_name, step in pipeline.steps.items():
            if step.type == "register_model" and getattr(step, "model", None) == model.name:
                return pipeline.name, step_name
    return None


def _versions(registry: Any, group: str) -> dict[int, str] | None:
    """Version -> approval status of registry group `group` ({} when it does not exist yet),
    or None when the registry cannot be read."""
    # Deferred: botocore loads only when a registry is read.
    from botocore.exceptions import BotoCoreError, ClientError

    from mlinfra.render.runtime import is_missing

    try:
        pages = registry.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelPackageType="Versioned"
        )
        return {
            p["ModelPackageVersion"]: p["ModelApprovalStatus"]
            for page in pages
            for p in page["ModelPackageSummaryList"]
        }
    except ClientError as exc:
        return {} if is_missing(exc) else None
    except BotoCoreError:
        return None
