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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, Json, ResourceGraph

CallKey = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Gate:
    """A value a resource waits for: the Call, and the resource that needs it first."""

    key: CallKey
    holder: str  # the address waiting resources name: `waits for model.churn-model: ...`


def call_keys(value: Any) -> Iterator[CallKey]:
    """Every (function, args) of the Calls inside a property value, nested ones too."""
    if isinstance(value, Call):
        yield (value.function, tuple(value.args))
        yield from call_keys(value.args)
    elif isinstance(value, MappingProxyType | dict):
        for item in value.values():
            yield from call_keys(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from call_keys(item)
    elif isinstance(value, Args):
        yield from call_keys(value.fields)
    elif isinstance(value, Concat):
        yield from call_keys(value.parts)
    elif isinstance(value, Json):
        yield from call_keys(value.value)


def gates(graph: ResourceGraph, may_wait: Callable[[CallKey], bool]) -> dict[str, tuple[Gate, ...]]:
    """Address -> the values it waits for (in the order met), for every resource that waits
    for one of the Calls `may_wait` accepts; resources that wait for nothing are left out."""
    own: dict[str, list[CallKey]] = {}
    holder: dict[CallKey, str] = {}
    for resource in graph.resources:
        keys = list(dict.fromkeys(k for k in call_keys(resource.properties) if may_wait(k)))
        own[resource.address] = keys
        for key in keys:
            holder.setdefault(key, resource.address)
    if not holder:
        return {}
    component_of = {r.address: r.component for r in graph.resources}
    found: dict[str, dict[CallKey, None]] = {r.address: {} for r in graph.resources}
    # Sets only grow, so this settles; in practice in two passes (the second one adds the
    # rest of each component a first pass reached).
    changed = True
    while changed:
        changed = False
        whole: dict[str, dict[CallKey, None]] = {}
        for resource in graph.resources:
            for key in found[resource.address]:
                if component_of[holder[key]] != resource.component:
                    whole.setdefault(resource.component, {})[key] = None
        for resource in graph.resources:  # dependencies first
            wanted = dict.fromkeys(own[resource.address])
            for dependency in resource.dependencies():
                wanted.update(found.get(dependency, {}))
            wanted.update(whole.get(resource.component, {}))
            if wanted.keys() - found[resource.address].keys():
                found[resource.address].update(wanted)
                changed = True
    return {
        address: tuple(Gate(key, holder[key]) for key in keys)
        for address, keys in found.items()
        if keys
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
