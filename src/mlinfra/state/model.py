"""The state of one environment: what mlinfra created, as plain, versioned data.

A `State` maps each resource address to a `ResourceState`: the IR's `canonical()` form of
the properties it was created from (what `plan` diffs against), the resolved inputs sent to
its provider, the outputs the provider returned, the addresses it depends on, and the spec
line that caused it. `serial` counts writes and `lineage` names the state's history, so a
saved plan can tell whether the state moved since it was made.

Values are immutable: a changed state is a new `State` (`with_resource`, `without`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from mlinfra.state.documents import parse

FORMAT_VERSION = 1
SCHEMA = "state.schema.json"
CREATED = "created"
# A change was started and not confirmed (the apply stopped in between): the next plan
# replaces it, since it may or may not exist as recorded.
PENDING = "pending"
STATUSES = (CREATED, PENDING)


class StateError(Exception):
    """A state cannot be read or written; the message names it and says what to do."""


@dataclass(frozen=True)
class ResourceState:
    """One created resource, as recorded."""

    type: str
    properties: Any  # the IR's canonical() form, Calls replaced by the values applied
    inputs: Any = None  # resolved values sent to the provider
    outputs: Any = None  # what the provider returned
    dependencies: tuple[str, ...] = ()
    source: str | None = None  # `file:line:col` of the spec text responsible
    status: str = CREATED
    protect: bool = False  # holds data in a `protect: true` environment

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "properties": self.properties,
            "inputs": self.inputs if self.inputs is not None else {},
            "outputs": self.outputs if self.outputs is not None else {},
            "dependencies": list(self.dependencies),
            "source": self.source,
            "status": self.status,
            "protect": self.protect,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            type=data["type"],
            properties=data["properties"],
            inputs=data.get("inputs", {}),
            outputs=data.get("outputs", {}),
            dependencies=tuple(data.get("dependencies", ())),
            source=data.get("source"),
            status=data.get("status", CREATED),
            protect=bool(data.get("protect", False)),
        )


@dataclass(frozen=True)
class PreviewInfo:
    """What makes an environment a branch preview: its branch, base, and lifetime.

    Times are ISO 8601 in UTC (`2026-11-22T18:30:00Z`); `expires_at` is None when the spec
    sets no `previews.ttl`. A preview of a sagemaker environment is applied by the Pulumi
    engine, in a stack of its own: `backend` says where that stack lives.
    """

    branch: str
    base: str
    created_at: str
    updated_at: str
    expires_at: str | None = None
    engine: str = "embedded"  # or "pulumi"
    backend: str | None = None  # the Pulumi backend URL used (None: the default one)

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "base": self.base,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
            # Optional keys, written only for Pulumi previews: state format 1 still holds.
            **(
                {"engine": self.engine, "backend": self.backend}
                if self.engine != "embedded"
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PreviewInfo:
        return cls(
            branch=data["branch"],
            base=data["base"],
            created_at=data["created_at"],
            updated_at=data.get("updated_at", data["created_at"]),
            expires_at=data.get("expires_at"),
            engine=data.get("engine", "embedded"),
            backend=data.get("backend"),
        )


@dataclass(frozen=True)
class State:
    """Every resource of one environment, in the order they were recorded."""

    project: str
    environment: str
    serial: int = 0
    lineage: str = ""  # a uuid, given by the first write; "" while nothing was written
    resources: Mapping[str, ResourceState] = field(default_factory=lambda: MappingProxyType({}))
    format_version: int = FORMAT_VERSION
    # Only a branch preview's state has it; an optional key, so format version 1 still holds.
    preview: PreviewInfo | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.resources, MappingProxyType):
            object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))

    @classmethod
    def empty(cls, project: str, environment: str) -> State:
        return cls(project, environment)

    @property
    def is_empty(self) -> bool:
        return not self.resources

    def get(self, address: str) -> ResourceState | None:
        return self.resources.get(address)

    def __iter__(self) -> Iterator[str]:
        return iter(self.resources)

    def with_resource(self, address: str, resource: ResourceState) -> State:
        found = dict(self.resources)
        found[address] = resource
        return replace(self, resources=MappingProxyType(found))

    def without(self, address: str) -> State:
        found = dict(self.resources)
        found.pop(address, None)
        return replace(self, resources=MappingProxyType(found))

    def to_json(self) -> dict[str, Any]:
        found = {
            "format_version": self.format_version,
            "project": self.project,
            "environment": self.environment,
            "serial": self.serial,
            "lineage": self.lineage,
            "resources": {a: r.to_json() for a, r in self.resources.items()},
        }
        if self.preview is not None:
            found["preview"] = self.preview.to_json()
        return found

    def dumps(self) -> str:
        # Resources keep their recorded order: deletes run in its reverse.
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        return cls(
            project=data["project"],
            environment=data["environment"],
            serial=data["serial"],
            lineage=data["lineage"],
            resources=MappingProxyType(
                {a: ResourceState.from_json(r) for a, r in data["resources"].items()}
            ),
            format_version=data["format_version"],
            preview=PreviewInfo.from_json(data["preview"]) if data.get("preview") else None,
        )


def loads(text: str, where: str) -> State:
    """Parse and check a state document; `where` names it in errors (a path or an S3 URI)."""
    data = parse(
        text,
        where,
        what="state",
        schema=SCHEMA,
        supported=FORMAT_VERSION,
        error=StateError,
        remedy=f"restore it from {where}.backup (the previous version) or from version "
        "control; mlinfra will not overwrite it",
        newer_remedy="upgrade mlinfra to use it (it is left as it is)",
    )
    return State.from_json(data)
