"""Semantic checks: what the schema cannot say, run on each environment's resolved spec.

Each check is a function `CheckContext -> Iterator[Diagnostic]`; this list is the registry.
"""

from __future__ import annotations

from mlinfra.spec.checks import (
    batch,
    catalogs,
    monitors,
    names,
    paths,
    pipelines,
    references,
    values,
)
from mlinfra.spec.checks.context import CheckContext

CHECKS = (
    *references.CHECKS,
    *pipelines.CHECKS,
    *values.CHECKS,
    *monitors.CHECKS,
    *catalogs.CHECKS,
    *names.CHECKS,
    *paths.CHECKS,
    *batch.CHECKS,
)


def run_checks(ctx: CheckContext) -> list:
    found = []
    for check in CHECKS:
        found.extend(check(ctx))
    return found


__all__ = ["CHECKS", "CheckContext", "run_checks"]
