"""The plan diff: a `ResourceGraph` against a `State` -> `Plan`. Pure: no I/O, no clock.

Each resource's `canonical()` properties are compared with those the state recorded at its
address. New addresses are created, addresses only the state has are deleted (dependents
first), and a changed resource is updated in place or replaced:

- local types (`local.*`): as SageMaker's API says (`mlinfra.sagemaker.resources`: what
  `Update<noun>` can change, and tags; anything else replaces), which is what their
  provider does;
- pulumi_aws types whose in-place updates `mlinfra.ir.sagemaker.updates` lists (feature
  groups): as pulumi_aws does, a change to anything else replaces;
- other types (the Pulumi engine makes the real diff): a change to the resource's own name,
  or any change of a resource lowered with `replace_on_change`, replaces; others update.

A resource that refers (`Ref`) to one being replaced gets the reference as a change known
only after apply, and is updated or replaced by the same rules. A local resource whose
recorded inputs hold another value than a reference now resolves to (in the state's outputs
of what it refers to) is changed too: an earlier apply replaced what it refers to but could
not update it (an endpoint whose canary was rolled back still serves the old configuration).

A `Call` (the latest approved model version) is known only when the caller looked it up and
passed it in `known`; an unknown one matches whatever the state recorded, so a plan made
without the registry at hand shows no change there. The engine records properties with the
values it used (`recorded_properties`), so a newly approved version is a change.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from mlinfra.ir.graph import Resource, ResourceGraph, canonical
from mlinfra.ir.local.api import TYPES as LOCAL_TYPES
from mlinfra.ir.lower import STATEFUL_TYPES
from mlinfra.ir.sagemaker import updates
from mlinfra.ir.waiting import call_keys, gates, reason
from mlinfra.plan.model import (
    CREATE,
    DELETE,
    NO_OP,
    REPLACE,
    UPDATE,
    Plan,
    PropertyChange,
    Refusal,
    ResourceChange,
)
from mlinfra.render.outputs import name_property
from mlinfra.sagemaker.resources import LOCAL_PREFIX, of_type
from mlinfra.state.model import PENDING, ResourceState, State

Known = Mapping[tuple[str, tuple[Any, ...]], Any]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_:\-]*$")


def plan(
    graph: ResourceGraph,
    state: State,
    known: Known | None = None,
    *,
    allow_removal: Collection[str] = (),
    protect: bool | None = None,
    refreshed: Mapping[str, Any] | None = None,
    unavailable: Mapping[tuple[str, tuple[Any, ...]], str] | None = None,
) -> Plan:
    """What applying `graph` over `state` changes.

    `known`: values of `Call`s looked up by the caller, keyed by (function, args).
    `allow_removal`: addresses the stateful guard lets be deleted or replaced.
    `protect`: whether the environment is `protect: true` (default: whether any resource of
    the graph is protected). `refreshed`: address -> the inputs read from the real resource
    (None when it is gone), for drift; without it, `resource_drift` is empty.
    `unavailable`: Calls the caller could not look up, with why (no approved model version
    yet): a change to a resource that needs one *waits* (`mlinfra.ir.waiting` says which
    resources need it: what holds the Call, what depends on those, and the components that
    wait because of another).
    """
    known = known or {}
    if protect is None:
        protect = any(r.protect for r in graph.resources)
    drift = _drift(state, refreshed) if refreshed is not None else ()
    gone = {c.address for c in drift if c.action == DELETE}

    changes: list[ResourceChange] = []
    replaced: set[str] = set()
    waits = gates(graph, unavailable.__contains__) if unavailable else {}
    for resource in graph.resources:
        change = _change(resource, state, known, replaced, gone)
        if change.action == REPLACE:
            replaced.add(resource.address)
        if change.action != NO_OP and resource.address in waits:
            gate = waits[resource.address][0]
            why = reason(resource.address, gate, unavailable[gate.key])
            change = dataclasses.replace(change, waiting=why)
        changes.append(change)
    wanted = {r.address for r in graph.resources}
    changes.extend(_deletes(state, [a for a in state.resources if a not in wanted]))

    refused = tuple(_guard(graph, state, changes, set(allow_removal), protect))
    return Plan(
        project=graph.project,
        environment=graph.env,
        target=graph.target,
        state_serial=state.serial,
        state_lineage=state.lineage,
        changes=tuple(changes),
        resource_drift=drift,
        refused=refused,
    )


def recorded_properties(resource: Resource, known: Known | None = None) -> Any:
    """The properties a state records for `resource` once applied with the `known` values."""
    return substitute(canonical(resource.properties), known or {})


def resource_state(
    resource: Resource,
    known: Known | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> ResourceState:
    """What a state records for `resource` once applied: its properties as applied (with the
    `known` values), the `inputs` sent and `outputs` returned, dependencies and source."""
    return ResourceState(
        resource.type,
        recorded_properties(resource, known),
        inputs=dict(inputs or {}),
        outputs=dict(outputs or {}),
        dependencies=resource.dependencies(),
        source=str(resource.source) if resource.source else None,
        protect=resource.protect,
    )


def calls_in(graph: ResourceGraph) -> list[tuple[str, tuple[Any, ...]]]:
    """Every distinct (function, args) of the graph's Calls: what a caller may look up."""
    found: dict[tuple[str, tuple[Any, ...]], None] = {}
    for resource in graph.resources:
        found.update(dict.fromkeys(call_keys(resource.properties)))
    return list(found)


def substitute(value: Any, known: Known) -> Any:
    """`value` (canonical) with each known Call replaced by its value."""
    if not known:
        return value
    if isinstance(value, dict):
        if _is_call(value):
            key = (value["call"], _hashable(value["args"]))
            if key in known:
                return known[key]
        return {k: substitute(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, known) for v in value]
    return value


# --- one resource -----------------------------------------------------------------------------


def _change(
    resource: Resource,
    state: State,
    known: Known,
    replaced: set[str],
    gone: set[str],
) -> ResourceChange:
    prior = state.get(resource.address)
    after = recorded_properties(resource, known)
    source = str(resource.source) if resource.source else None
    base = {"address": resource.address, "type": resource.type, "source": source}
    if prior is None:
        return ResourceChange(**base, action=CREATE, after=after)
    before = prior.properties
    if resource.address in gone:
        reason = "it no longer exists (deleted outside mlinfra)"
        return ResourceChange(**base, action=CREATE, reason=reason, after=after)
    if prior.type != resource.type:
        reason = f"its type changes from {prior.type} to {resource.type}"
        return _replace(base, before, after, (), reason, create_first=True)
    if prior.status == PENDING:
        reason = "an earlier apply started changing it and stopped before it was confirmed"
        return _replace(base, before, after, (), reason, create_first=False)

    changed = [] if before == after else list(_changes(before, after, ""))
    if replaced and any(d in replaced for d in resource.dependencies()):
        changed.extend(_moved_refs(after, replaced, prior.inputs or {}))
    if _is_local(resource.type):
        known_paths = {c.path for c in changed}
        changed.extend(
            c
            for c in _stale_refs(after, state, replaced, prior.inputs or {})
            if c.path not in known_paths
        )
    if not changed:
        return ResourceChange(**base, action=NO_OP, before=before, after=after)
    reason = _replacement_reason(resource, changed, before, after)
    if reason is None:
        return ResourceChange(
            **base, action=UPDATE, changed=tuple(changed), before=before, after=after
        )
    name_key = _name_property(resource.type)
    renamed = any(_top(c.path) == name_key for c in changed)
    # A new name lets the new resource exist beside the old one; Pulumi replaces
    # create-first unless told otherwise, and `replace_on_change` asks for exactly that.
    create_first = renamed or (resource.replace_on_change and not _is_local(resource.type))
    return _replace(base, before, after, tuple(changed), reason, create_first)


def _replace(base, before, after, changed, reason, create_first) -> ResourceChange:
    return ResourceChange(
        **base,
        action=REPLACE,
        changed=changed,
        reason=reason,
        before=before,
        after=after,
        create_first=create_first,
        loses_data=_lost(base["type"]),
    )


def _lost(type_: str) -> str | None:
    """What deleting a resource of `type_` loses, when it holds data."""
    return STATEFUL_TYPES.get(type_)


def _replacement_reason(
    resource: Resource, changed: list[PropertyChange], before: Any, after: Any
) -> str | None:
    paths = [c.path for c in changed]
    keys = list(dict.fromkeys(_top(p) for p in paths))
    name_key = _name_property(resource.type)
    if name_key in keys:
        return f"its name ({name_key}) changes: a new name is a new resource"
    if _is_local(resource.type):
        kind = of_type(resource.type) if resource.type in LOCAL_TYPES else None
        if kind is None:
            return f"{resource.type} has no local provider that can update it"
        fixed = kind.fixed_fields(keys, before or {}, after or {})
        if fixed:
            return (
                f"{', '.join(fixed)} cannot change in place (only {kind.describe_in_place()} can)"
            )
    elif updates.is_known(resource.type):
        fixed = list(dict.fromkeys(_top(p) for p in updates.fixed_paths(resource.type, paths)))
        if fixed:
            return (
                f"pulumi_aws cannot change {', '.join(fixed)} in place (only "
                f"{', '.join(updates.in_place(resource.type) or ())} can)"
            )
    if resource.replace_on_change:
        return f"{', '.join(keys)} changed, and {resource.type} is replaced on any change"
    return None


def _name_property(type_: str) -> str:
    return name_property(type_)


def _is_local(type_: str) -> bool:
    return type_.startswith(LOCAL_PREFIX)


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


# --- property paths ---------------------------------------------------------------------------


def _is_call(value: dict) -> bool:
    return len(value) == 2 and "call" in value and "args" in value


def _is_args(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 2 and "args" in value and "fields" in value


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


def _unknown(value: Any) -> bool:
    """A Call nobody looked up: it matches anything."""
    return isinstance(value, dict) and _is_call(value)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _changes(before: Any, after: Any, path: str) -> Iterator[PropertyChange]:
    """The leaf paths where `after` differs from `before` (both canonical)."""
    if _unknown(after) or _unknown(before):
        return
    if isinstance(before, dict) and isinstance(after, dict):
        if _is_args(before) and _is_args(after) and before["args"] == after["args"]:
            # A typed nested input: its fields are the user's properties, shown without it.
            yield from _changes(before["fields"], after["fields"], path)
            return
        if "concat" in after or "file" in after:
            # Text or a file made when applying: one value, not a structure to walk.
            if not _same(before, after):
                yield PropertyChange(path, before, after)
            return
        if before.keys() == after.keys() == {"json"}:
            # A JSON document (a policy): its paths are the document's own.
            yield from _changes(before["json"], after["json"], path)
            return
        for key in dict.fromkeys([*before, *after]):
            sub = _join(path, key)
            if key not in before:
                yield PropertyChange(sub, None, after[key])
            elif key not in after:
                yield PropertyChange(sub, before[key], None)
            else:
                yield from _changes(before[key], after[key], sub)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _changes(b, a, _join(path, index))
        return
    if not _same(before, after):
        yield PropertyChange(path, before, after)


def _same(before: Any, after: Any) -> bool:
    """Equal, with unknown Calls matching anything and `True` unequal to `1`."""
    if _unknown(after) or _unknown(before):
        return True
    if isinstance(before, dict) and isinstance(after, dict):
        return before.keys() == after.keys() and all(_same(before[k], after[k]) for k in before)
    if isinstance(before, list) and isinstance(after, list):
        return len(before) == len(after) and all(map(_same, before, after))
    return type(before) is type(after) and before == after


def _moved_refs(after: Any, replaced: set[str], inputs: Mapping[str, Any]) -> list[PropertyChange]:
    """References to resources being replaced: their new values are known after apply. Each
    before-value is the one at the reference's own path (`ProductionVariants[0].ModelName`'s,
    not the whole list's)."""
    found: list[PropertyChange] = []
    for path, ref, before in _refs(after, "", dict(inputs)):
        address = ref[len("ref:") :].rsplit(".", 1)[0]
        if address in replaced:
            found.append(PropertyChange(path, before, ref, known_after_apply=True))
    return found


def _stale_refs(
    after: Any, state: State, replaced: set[str], inputs: Mapping[str, Any]
) -> list[PropertyChange]:
    """References whose recorded value is not what they resolve to in the state now."""
    found: list[PropertyChange] = []
    for path, ref, before in _refs(after, "", dict(inputs), whole=False):
        address, attribute = ref[len("ref:") :].rsplit(".", 1)
        target = state.get(address)
        if address in replaced or target is None or before is None:
            continue
        outputs = target.outputs if isinstance(target.outputs, dict) else {}
        if attribute in outputs and outputs[attribute] != before:
            found.append(PropertyChange(path, before, outputs[attribute]))
    return found


def _refs(value: Any, path: str, before: Any, whole: bool = True) -> Iterator[tuple[str, str, Any]]:
    """(path, reference, the value `before` holds at that path, or None) for each reference
    in `value`, walking `before` alongside; with `whole` False, only references that are a
    value themselves (not a part of text joined when applying)."""
    if _is_args(before):
        before = before["fields"]
    if isinstance(value, str):
        if value.startswith("ref:"):
            yield path, value, before
    elif isinstance(value, dict):
        if _is_args(value):
            yield from _refs(value["fields"], path, before, whole)
            return
        if len(value) == 1 and "concat" in value:
            # Text made when applying: one value, its refs at its path, before as a whole.
            if whole:
                for _, ref, _ in _refs(value["concat"], path, None):
                    yield path, ref, before
            return
        if len(value) == 1 and "json" in value and not whole:
            return  # a document made when applying: its refs are not values of their own
        for key, item in value.items():
            inner = before.get(key) if isinstance(before, dict) else None
            if key == "json" and len(value) == 1:  # a marker, not a property: the same path
                yield from _refs(item, path, inner if inner is not None else before, whole)
            else:
                yield from _refs(item, _join(path, key), inner, whole)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            inner = before[index] if isinstance(before, list) and index < len(before) else None
            yield from _refs(item, _join(path, index), inner, whole)


# --- deletes and the guard --------------------------------------------------------------------


def _deletes(state: State, addresses: list[str]) -> list[ResourceChange]:
    """Deletions, dependents before what they depend on (by the dependencies recorded)."""
    leaving = set(addresses)
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(address: str) -> None:  # dependencies first; reversed below
        stack = [(address, iter(state.resources[address].dependencies))]
        seen.add(address)
        while stack:
            current, deps = stack[-1]
            for dep in deps:
                if dep in leaving and dep not in seen:
                    seen.add(dep)
                    stack.append((dep, iter(state.resources[dep].dependencies)))
                    break
            else:
                stack.pop()
                ordered.append(current)

    for address in addresses:
        if address not in seen:
            visit(address)
    return [
        ResourceChange(
            address=address,
            type=state.resources[address].type,
            action=DELETE,
            source=state.resources[address].source,
            before=state.resources[address].properties,
            loses_data=_lost(state.resources[address].type),
        )
        for address in reversed(ordered)
    ]


def _guard(
    graph: ResourceGraph,
    state: State,
    changes: list[ResourceChange],
    allowed: set[str],
    protect: bool,
) -> Iterator[Refusal]:
    for change in changes:
        # A replaced resource awaiting deletion (`address#deposed`) goes with its address.
        if change.action not in (DELETE, REPLACE) or change.address.split("#")[0] in allowed:
            continue
        prior = state.get(change.address)
        resource = graph.get(change.address) if change.action == REPLACE else None
        kept = (
            (prior is not None and prior.protect)
            or (resource is not None and resource.protect)
            or (protect and change.type in STATEFUL_TYPES)
        )
        if kept:
            verb = "delete" if change.action == DELETE else "replace"
            yield Refusal(
                change.address,
                change.action,
                f"would {verb} {change.address} ({change.type}), which holds data in a "
                f"protected environment; pass --allow-removal {change.address} if you mean it",
            )


# --- drift ------------------------------------------------------------------------------------


def _drift(state: State, refreshed: Mapping[str, Any]) -> tuple[ResourceChange, ...]:
    found: list[ResourceChange] = []
    for address, prior in state.resources.items():
        if address not in refreshed:
            continue
        current = refreshed[address]
        base = {"address": address, "type": prior.type, "source": prior.source}
        recorded = prior.inputs or {}
        if current is None:
            found.append(ResourceChange(**base, action=DELETE, before=recorded))
            continue
        # Only what mlinfra set: a describe call returns many fields nobody asked for.
        seen = {k: current.get(k) for k in recorded}
        changed = tuple(_changes(recorded, seen, ""))
        if changed:
            found.append(
                ResourceChange(**base, action=UPDATE, changed=changed, before=recorded, after=seen)
            )
    return tuple(found)
