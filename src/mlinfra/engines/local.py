"""Apply a plan to a local environment: the embedded engine, with the state written as it goes.

`apply_plan` turns the plan's changes into engine steps, runs them against the emulator, and
writes the state after every resource (so an apply stopped at any point leaves a state that
says exactly what exists). Changes the plan already marked as waiting are skipped, with
their reason, and so are those the engine finds waiting while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlinfra.engines.embedded import DELETE, DEPOSED, EmbeddedEngine, Event, Outcome, Step
from mlinfra.engines.providers.local import KINDS, LocalProvider
from mlinfra.ir.graph import ResourceGraph
from mlinfra.plan.diff import Known, resource_state
from mlinfra.plan.model import NO_OP, Plan
from mlinfra.state.backend import Backend
from mlinfra.state.model import State


@dataclass
class Applied:
    outcome: Outcome
    state: State


def steps_of(plan: Plan, graph: ResourceGraph, state: State) -> tuple[list[Step], dict[str, str]]:
    """The engine's steps for the plan's changes, and the changes left waiting (with why)."""
    steps: list[Step] = []
    waiting: dict[str, str] = {}
    for change in plan.changes:
        if change.action == NO_OP:
            continue
        if change.waiting:
            waiting[change.address] = change.waiting
            continue
        recorded = state.get(change.address)
        prior = None
        if recorded is not None:
            prior = {
                "type": recorded.type,
                "inputs": dict(recorded.inputs or {}),
                "outputs": dict(recorded.outputs or {}),
                "dependencies": list(recorded.dependencies),
            }
        resource = None if change.action == DELETE else graph.get(change.address)
        steps.append(Step(change.address, change.action, resource, prior))
    return steps, waiting


def apply_plan(
    plan: Plan,
    graph: ResourceGraph,
    state: State,
    backend: Backend,
    provider: LocalProvider,
    known: Known | None = None,
    on_event: Event | None = None,
) -> Applied:
    """Carry out `plan` (made from `graph` against `state`); the state as finally written."""
    steps, waiting = steps_of(plan, graph, state)
    original = state
    current = [state]
    engine: EmbeddedEngine

    def saved(address: str, entry: dict[str, Any] | None) -> None:
        found = current[0]
        if entry is None:
            found = found.without(address)
        elif address.endswith(DEPOSED):
            # A replaced resource kept until it is deleted: as the state had it.
            found = found.with_resource(address, original.get(address[: -len(DEPOSED)]))
        else:
            resource = graph.get(address)
            record = resource_state(
                resource, engine.known_values(), entry["inputs"], entry["outputs"]
            )
            found = found.with_resource(address, record)
        current[0] = backend.write(found)

    engine = EmbeddedEngine(provider, saved, on_event)
    outputs = {a: dict(r.outputs or {}) for a, r in state.resources.items()}
    outcome = engine.apply(steps, outputs, known)
    outcome.waiting.update(waiting)
    return Applied(outcome, current[0])


def unmanaged(state: State) -> dict[str, str]:
    """Address -> type of the recorded resources the embedded engine has no provider for: a
    state edited by hand, or written for another target or by another mlinfra."""
    return {a: e.type for a, e in state.resources.items() if e.type not in KINDS}


def observed(state: State, provider: LocalProvider) -> dict[str, dict[str, Any] | None]:
    """Each recorded resource's inputs as the emulator has them now (None: it is gone)."""
    return {
        address: provider.refresh(entry.type, entry.inputs or {})
        for address, entry in state.resources.items()
    }
