"""Plan: what applying the spec to an environment would change (`mlinfra plan`)."""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.operations.environment import (
    check_manageable,
    environment,
    lookups,
    lower_environment,
    read_state,
    refreshed_state,
)
from mlinfra.operations.errors import OperationError
from mlinfra.plan.diff import plan as diff
from mlinfra.plan.model import Plan
from mlinfra.plan.values import Lookups
from mlinfra.state.model import State


@dataclass(frozen=True)
class PlanRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    location: str | None = None  # --state
    refresh: bool = False  # read what really exists first, and report drift
    allow_removal: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    lookups: Lookups  # what was looked up, kept serving or not read: the plan's notes
    target: str
    state: State
    where: str  # where the state is, in words

    @property
    def refused(self) -> bool:
        """Whether the plan would lose data it was not allowed to."""
        return not self.plan.ok


def plan(request: PlanRequest) -> PlanResult:
    """Compare what the spec compiles to with the environment's state (and, with `refresh`,
    with what really exists)."""
    spec = environment(request.validation, request.env, request.spec_file)
    graph = lower_environment(spec, request.spec_file)
    backend, state = read_state(spec, request.spec_file, request.location)
    if state.project != spec.project:
        raise OperationError(
            f"the state of {request.env!r} belongs to project {state.project!r}, "
            f"not {spec.project!r}"
        )
    check_manageable(spec, backend, state)
    found = lookups(graph, request.spec_file, state, spec)
    planned = diff(
        graph,
        state,
        found.known,
        allow_removal=request.allow_removal,
        protect=spec.protect,
        refreshed=refreshed_state(spec, request.spec_file, state) if request.refresh else None,
        unavailable=found.unavailable,
    )
    return PlanResult(planned, found, spec.target, state, backend.describe(request.env))
