"""The values a graph leaves to apply time (the model version an endpoint serves), as a plan
and an apply see them, and what waits for want of one.

One meaning on both targets: the version to serve is the registry's newest approved one;
without one, the version already serving is kept (a note says so); without that either,
what needs it *waits* (`mlinfra.ir.waiting`), with the reason. Where the values come from:

- a local environment: the emulator's registry, and for a version kept, the value the
  state recorded as applied (the emulator serves what the last apply deployed);
- a sagemaker environment, for `plan`: SageMaker itself, with the user's credentials, by
  the very functions the rendered program runs (`render.runtime`), so the plan shows what
  `pulumi up` will do;
- a sagemaker environment, after `pulumi up`: the program's own answer, its stack output
  `mlinfra:model-versions`, so what apply reports waiting is what the program left out.

A lookup that cannot be made (no emulator, no credentials, AWS unreachable) leaves its
values unknown: `plan.diff` then matches whatever the state recorded, and says nothing
waits; `unread` tells why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlinfra.ir.graph import ResourceGraph, canonical
from mlinfra.ir.waiting import CallKey, call_keys, gates, reason
from mlinfra.render import helpers
from mlinfra.render.runtime import serving_version

MODEL_PACKAGE = "latest_approved_model_package"
VERSION = "latest_approved_version"


@dataclass(frozen=True)
class Lookups:
    known: dict[CallKey, Any] = field(default_factory=dict)
    unavailable: dict[CallKey, str] = field(default_factory=dict)  # with why
    notes: tuple[str, ...] = ()  # versions kept for want of an approved one, and why
    unread: str | None = None  # why some values could not be looked up

    def waiting(self, graph: ResourceGraph) -> dict[str, str]:
        """Address -> why it waits, for every resource of `graph` that waits."""
        found = gates(graph, self.unavailable.__contains__)
        return {a: reason(a, g[0], self.unavailable[g[0].key]) for a, g in found.items()}


def lookups_in(graph: ResourceGraph) -> list[tuple[Any, ...]]:
    """The distinct registry lookups of a graph (a lookup Call's arguments: group, then
    endpoints), in the order met."""
    found: dict[tuple[Any, ...], None] = {}
    for resource in graph.resources:
        for function, args in call_keys(resource.properties):
            if function in helpers.MAY_BE_MISSING:
                found[args] = None
    return list(found)


def from_versions(graph: ResourceGraph, versions: Mapping[tuple, Mapping[str, Any]]) -> Lookups:
    """The Lookups of the lookups' outcomes (args -> {"arn", "version", "why"}, as
    `render.runtime.serving_version` gives them); lookups not in `versions` stay unknown."""
    known: dict[CallKey, Any] = {}
    unavailable: dict[CallKey, str] = {}
    notes: list[str] = []
    for args in lookups_in(graph):
        found = versions.get(args)
        if found is None:
            continue
        if found.get("arn") is None:
            unavailable[(MODEL_PACKAGE, args)] = unavailable[(VERSION, args)] = found["why"]
            continue
        known[(MODEL_PACKAGE, args)] = found["arn"]
        known[(VERSION, args)] = str(found["version"])
        if found.get("why"):
            notes.append(found["why"])
    return Lookups(known, unavailable, tuple(notes))


def from_program(graph: ResourceGraph, outputs: Mapping[str, Any]) -> Lookups:
    """What a rendered program's run found, from its stack outputs."""
    versions = {}
    for found in outputs.get(helpers.LOOKUPS_OUTPUT) or ():
        versions[(found["group"], *found["endpoints"])] = found
    return from_versions(graph, versions)


def from_sagemaker(graph: ResourceGraph, client: Any) -> Lookups:
    """The lookups made now, against SageMaker, as the program would make them."""
    from botocore.exceptions import BotoCoreError, ClientError

    versions = {}
    for args in lookups_in(graph):
        try:
            versions[args] = serving_version(client, args[0], args[1:])
        except (BotoCoreError, ClientError, RuntimeError) as exc:
            found = from_versions(graph, versions)
            return Lookups(found.known, found.unavailable, found.notes, str(exc))
    return from_versions(graph, versions)


def from_emulator(graph: ResourceGraph, provider: Any, state: Any) -> Lookups:
    """The lookups made now in the local emulator's registry; a version with none approved
    is kept as the state recorded it applied."""
    from botocore.exceptions import BotoCoreError

    # The local provider and the emulator's client load only when a local environment is
    # planned: a sagemaker plan never needs them.
    from mlinfra.engines.providers.local import EmulatorStopped, ProviderError

    known: dict[CallKey, Any] = {}
    unavailable: dict[CallKey, str] = {}
    unread = None
    for key in dict.fromkeys(k for r in graph.resources for k in call_keys(r.properties)):
        try:
            known[key] = provider.call(*key)
        except EmulatorStopped as exc:  # it stopped answering: leave the value unknown
            unread = str(exc)
        except ProviderError as exc:
            unavailable[key] = str(exc)
        except BotoCoreError as exc:  # the emulator stopped answering: leave it unknown
            unread = str(exc)
    notes: list[str] = []
    applied = applied_values(graph, state)
    for key in [k for k in unavailable if k in applied]:
        known[key] = applied[key]
        why = unavailable.pop(key)
        if key[0] == VERSION:
            notes.append(f"{why}: keeps serving version {applied[key]}, the one applied last")
    return Lookups(known, unavailable, tuple(notes), unread)


def applied_values(graph: ResourceGraph, state: Any) -> dict[CallKey, Any]:
    """The value each Call of `graph` had when its resources were last applied, read where
    the state recorded them (the properties applied, with each Call's value in its place)."""
    found: dict[CallKey, Any] = {}
    for resource in graph.resources:
        recorded = state.get(resource.address)
        if recorded is not None:
            _match(canonical(resource.properties), recorded.properties, found)
    return found


def _match(wanted: Any, recorded: Any, found: dict[CallKey, Any]) -> None:
    if isinstance(wanted, dict) and wanted.keys() == {"call", "args"}:
        if not (isinstance(recorded, dict) and recorded.keys() == {"call", "args"}):
            found.setdefault((wanted["call"], _frozen(wanted["args"])), recorded)
        return
    if isinstance(wanted, dict) and isinstance(recorded, dict):
        for key, value in wanted.items():
            if key in recorded:
                _match(value, recorded[key], found)
    elif isinstance(wanted, list) and isinstance(recorded, list) and len(wanted) == len(recorded):
        for value, applied in zip(wanted, recorded, strict=True):
            _match(value, applied, found)


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
