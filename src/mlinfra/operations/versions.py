"""The model versions an apply deploys, in the user's words: for each model with a registry,
the newest approved version, and whether what serves it moves to that version this time
(`version 2 is approved: endpoint churn-api moves to it from version 1`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlinfra.operations.emulator import registry_groups
from mlinfra.plan.values import VERSION, Lookups, applied_values


@dataclass(frozen=True)
class VersionServed:
    """Model `model`'s version to serve now, and the one its last apply deployed (None: none
    yet); `endpoints` are those that serve the model."""

    model: str
    version: str
    before: str | None
    endpoints: tuple[str, ...]

    @property
    def moves(self) -> bool:
        return self.before is not None and self.before != self.version

    def describe(self) -> str:
        where = ", ".join(f"endpoint {e}" for e in self.endpoints) or "what serves it"
        if self.before is None:
            return (
                f"model {self.model}: version {self.version} is the newest approved: "
                f"{where} is created with it"
            )
        if self.moves:
            return (
                f"model {self.model}: version {self.version} is approved: {where} moves to it "
                f"from version {self.before}"
            )
        return f"model {self.model}: {where} keeps serving version {self.version}"


def versions_served(spec: Any, graph: Any, found: Lookups, state: Any) -> tuple[VersionServed, ...]:
    """For each of `spec`'s models whose latest approved version `found` knows, that version
    against the one `state` recorded as applied."""
    models = registry_groups(spec)
    applied = applied_values(graph, state)
    served = []
    for key, version in found.known.items():
        function, args = key
        model = models.get(args[0]) if function == VERSION and args else None
        if model is None:
            continue
        endpoints = tuple(e.name for e in spec.endpoints.values() if e.model == model.name)
        before = applied.get(key)
        served.append(VersionServed(model.name, str(version), before and str(before), endpoints))
    return tuple(served)
