"""What waits: the resources that need a value which may not exist yet, and how they say why.

Some values exist only once something outside the spec happens: the latest approved model
version exists only once a version is approved. A resource holding such a value (a `Call`)
waits for it, and so does every resource that depends on one that waits (by Ref or
`depends_on`). A component that waits because of *another* component waits whole: an
endpoint whose model waits is not created without its model and yet with its alarms and
autoscaling; a monitor of an endpoint that waits is not created at all, alerts and
retraining rule included. The model's own component is the exception: its registry group
and role need no version and are created, so the pipeline can register the first one.

One rule for both targets: `plan.diff` marks the changes of these resources as waiting (the
embedded engine skips them and a later apply makes them), and the renderer declares them in
a SageMaker program only inside a guard that holds once the value exists. Every waiting
resource says why in the same words: the resource that needs the value first (the model)
gives the reason itself; every other says `waits for model.churn-model: <the reason>`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlinfra.ir.graph import Call, ResourceGraph, calls_in

CallKey = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Gate:
    """A value a resource waits for: the Call, and the resource that needs it first."""

    key: CallKey
    holder: str  # the address waiting resources name: `waits for model.churn-model: ...`


def call_keys(value: Any) -> list[CallKey]:
    """Every (function, args) of the Calls inside a property value, nested ones too, in the
    order met."""
    return [_key(call) for call in calls_in(value)]


def _key(call: Call) -> CallKey:
    return (call.function, tuple(call.args))


def gates(graph: ResourceGraph, may_wait: Callable[[CallKey], bool]) -> dict[str, tuple[Gate, ...]]:
    """Address -> the values it waits for, for every resource that waits for one of the
    Calls `may_wait` accepts (in graph order); resources that wait for nothing are left out.
    """
    own: dict[str, list[CallKey]] = {}
    holder: dict[CallKey, str] = {}
    for resource in graph.resources:
        keys = [k for k in dict.fromkeys(_key(c) for c in resource.calls()) if may_wait(k)]
        if keys:
            own[resource.address] = keys
            for key in keys:
                holder.setdefault(key, resource.address)
    if not own:
        return {}
    component_of = {r.address: r.component for r in graph.resources}
    dependents: dict[str, list[str]] = {}
    members: dict[str, list[str]] = {}
    for resource in graph.resources:
        members.setdefault(resource.component, []).append(resource.address)
        for dependency in resource.dependencies():
            dependents.setdefault(dependency, []).append(resource.address)
    # Spread each value from what holds it to what depends on that, and to the rest of a
    # component reached from another: each (resource, value) once, each (component, value)
    # widened once.
    found: dict[str, dict[CallKey, None]] = {}
    widened: set[tuple[str, CallKey]] = set()
    queue = deque((address, key) for address, keys in own.items() for key in keys)
    while queue:
        address, key = queue.popleft()
        keys = found.setdefault(address, {})
        if key in keys:
            continue
        keys[key] = None
        queue.extend((user, key) for user in dependents.get(address, ()))
        component = component_of[address]
        if component != component_of[holder[key]] and (component, key) not in widened:
            widened.add((component, key))
            queue.extend((member, key) for member in members[component])
    return {
        resource.address: tuple(Gate(key, holder[key]) for key in found[resource.address])
        for resource in graph.resources
        if resource.address in found
    }


WAITS_FOR = "waits for "


def reason(address: str, gate: Gate, why: str) -> str:
    """Why `address` waits, when `gate`'s value does not exist because of `why`."""
    return why if address == gate.holder else f"{WAITS_FOR}{gate.holder}: {why}"


def grouped(waiting: dict[str, str]) -> list[tuple[list[str], str]]:
    """`waiting` (address -> why, as `reason` words it) in fewer lines: each resource that
    needs a value, then in one entry what waits only for it, `([a, b], "waits for X")`."""
    followers: dict[str, list[str]] = {}
    for address, why in waiting.items():
        holder = why[len(WAITS_FOR) :].split(": ", 1)[0] if why.startswith(WAITS_FOR) else ""
        if holder in waiting and why == reason(address, Gate((), holder), waiting[holder]):
            followers.setdefault(holder, []).append(address)
    following = {a for found in followers.values() for a in found}
    lines: list[tuple[list[str], str]] = []
    for address, why in waiting.items():
        if address in following:
            continue
        lines.append(([address], why))
        if address in followers:
            lines.append((followers[address], f"{WAITS_FOR}{address}"))
    return lines
