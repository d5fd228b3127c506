"""Refresh: compare what the state records with what really exists (`mlinfra refresh`).

What was deleted outside mlinfra is dropped from the state, so the next apply creates it
again; what was changed is reported. A sagemaker environment's endpoints are then checked
for what they really serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlinfra.engines.endpoints import recorded_endpoints
from mlinfra.ir.graph import ResourceGraph
from mlinfra.operations.environment import (
    check_manageable,
    environment,
    refreshed_state,
    state_location,
)
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import Drift, Progress
from mlinfra.operations.serving import check_serving
from mlinfra.plan.diff import plan as diff
from mlinfra.plan.model import DELETE, ResourceChange
from mlinfra.state import LockError, StateError, backend_for
from mlinfra.state.model import State


@dataclass(frozen=True)
class RefreshRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    location: str | None = None  # --state
    lock_timeout: float = 0.0
    backend_url: str | None = None  # where Pulumi keeps a sagemaker environment's stack


@dataclass(frozen=True)
class RefreshResult:
    drift: tuple[ResourceChange, ...]  # what changed or was deleted outside mlinfra
    gone: tuple[str, ...]  # the deleted ones, dropped from the state
    state: State  # as written


def refresh(request: RefreshRequest, progress: Progress) -> RefreshResult:
    """Read what exists, drop what is gone from the state, report the drift (as a `Drift`
    event), then check a sagemaker environment's endpoints."""
    spec = environment(request.validation, request.env, request.spec_file)
    try:
        backend = backend_for(
            state_location(spec, request.location),
            Path(request.spec_file).resolve().parent,
            spec.region,
        )
        with backend.lock(request.env, "mlinfra refresh", request.lock_timeout):
            state = backend.read(spec.project, request.env)
            check_manageable(spec, backend, state)
            seen = refreshed_state(spec, request.spec_file, state, request.backend_url)
            empty = ResourceGraph(spec.project, spec.env, spec.target, spec.region, ())
            drift = tuple(diff(empty, state, refreshed=seen).resource_drift)
            gone = tuple(c.address for c in drift if c.action == DELETE)
            for address in gone:
                state = state.without(address)
            if gone:
                state = backend.write(state)
            progress(Drift(spec.env, spec.target, drift, gone, len(seen)))
            if spec.target != "local":
                state = check_serving(spec, state, backend, recorded_endpoints(state), progress)
    except (LockError, StateError) as exc:
        raise OperationError(str(exc)) from None
    return RefreshResult(drift, gone, state)
