"""The physical names the compiler will generate obey SageMaker's name rules.

Names that exceed a limit are shortened with a stable hash: legal, but not what a user
would guess when calling the endpoint, so that is a warning naming the deployed name.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, error, warning
from mlinfra.naming import physical_name
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.checks.context import CheckContext

# The physical resources each kind of component becomes, by the kind of name they carry.
PHYSICAL_KINDS = {
    "model": ("model",),
    "endpoint": ("endpoint", "endpoint_config"),
    "feature_store": ("feature_group",),
    "pipeline": ("pipeline",),
    "monitor": ("monitoring_schedule", "monitoring_job_definition"),
}


def check_physical_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    project = ctx.spec.project
    for component_kind, kinds in PHYSICAL_KINDS.items():
        for component in ctx.spec.of_kind(component_kind):
            where = component.key_range
            for kind in kinds:
                name = physical_name(project, ctx.env, component.name, kind)
                if not name.is_valid():
                    rule = name_rule(kind)
                    yield error(
                        "invalid-physical-name",
                        f"the {kind.replace('_', ' ')} name {name.name!r} breaks SageMaker's "
                        f"name rule",
                        where,
                        detail=f"names must match {rule.pattern.pattern} "
                        f"and have at most {rule.max_length} characters",
                        suggestion="use letters and digits separated by single hyphens",
                    )
                elif name.shortened:
                    yield warning(
                        "name-shortened",
                        f"the {kind.replace('_', ' ')} name {name.wanted!r} is too long for "
                        f"SageMaker; it will be deployed as {name.name!r}",
                        where,
                        suggestion="shorten the project, environment or component name",
                    )


CHECKS = (check_physical_names,)
