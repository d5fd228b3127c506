"""Gating: where each step sits in the definition.

A step after a condition runs only when it holds, so it sits in the condition step's IfSteps:
SageMaker marks the IfSteps ready only when all the step's Conditions hold, and starts a step
only once all it depends on has completed, so nothing after a branch not taken runs either.
A DependsOn on the condition step would not do: it waits for the step to finish, whatever its
outcome (and CreatePipeline is reported to refuse it, aws/sagemaker-python-sdk#3565). A step
sits in one list only, so a step after two conditions neither of which follows the other
sits in the IfSteps of a condition step mlinfra adds, a gate, whose Conditions are both of
theirs: all must hold. (Nesting one condition under the other would also gate whatever else
follows only the inner one.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from mlinfra.ir.sagemaker.pipeline_definition.document import STEP_NAME
from mlinfra.ir.sagemaker.pipeline_definition.inputs import ancestors, upstream
from mlinfra.spec.model import Step


def conditions_before(steps: Mapping[str, Step]) -> dict[str, set[str]]:
    """The condition steps each step runs after, directly or through other steps."""
    edges = upstream(steps)
    return {
        name: {s for s in ancestors(edges, name) if steps[s].type == "condition"} for name in steps
    }


@dataclass(frozen=True)
class Gating:
    """Where each step sits in the definition, and the gates it needs."""

    # step or gate -> the condition step or gate whose IfSteps hold it (None: the top level)
    owners: dict[str, str | None]
    # gate -> the spec's condition steps it combines, in spec order
    gates: dict[str, tuple[str, ...]]


def gating(steps: Mapping[str, Step]) -> Gating:
    """Each step sits under the latest conditions before it: in the IfSteps of that condition
    step when there is one, or of the gate of them when there are several; a gate in turn
    sits under the latest conditions before those, so every condition before a step holds
    when it runs."""
    before = conditions_before(steps)
    keys: dict[tuple[str, ...], str] = {}
    owners: dict[str, str | None] = {}

    def owner(held: set[str]) -> str | None:
        latest = tuple(c for c in steps if c in held and not any(c in before[o] for o in held))
        if len(latest) <= 1:
            return latest[0] if latest else None
        if latest not in keys:
            gate = keys[latest] = _gate_name(latest, {*steps, *keys.values()})
            owners[gate] = owner(set().union(*(before[c] for c in latest)))
        return keys[latest]

    owners.update({name: owner(before[name]) for name in steps})
    return Gating(owners, {gate: combined for combined, gate in keys.items()})


def _gate_name(combined: tuple[str, ...], taken: set[str]) -> str:
    """`<a>-and-<b>`; a digest of it when that is taken or longer than a step name may be."""
    name = "-and-".join(combined)
    if STEP_NAME.fullmatch(name) and name not in taken:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    name, count = f"all-of-{digest[:8]}", 1
    while name in taken:
        count += 1
        name = f"all-of-{digest[:8]}-{count}"
    return name
