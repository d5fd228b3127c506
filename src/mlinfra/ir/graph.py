"""The IR: a `ResourceGraph` of physical resources, the contract every consumer reads.

The renderer, planner, engines, auditor and grapher all read the same graph, so what `plan`
shows is what `apply` does and what `audit` judges is what gets deployed. Each resource has
a stable address (`endpoint.churn-api/config`), a type, properties, dependencies and the
source range of the spec text that caused it.

Property values are plain data (str, int, float, bool, None, tuples, read-only maps) plus
these markers that consumers interpret:
- `Ref(address, attribute)`: an output of another resource in the graph (its ARN, name...);
- `Args(type, fields)`: a typed nested input (for the SageMaker target, a `pulumi_aws`
  `...Args` class, so the real SDK rejects a wrong field name);
- `Call(function, args)`: a value computed when the program runs (e.g. the latest approved
  model package), by a named function of mlinfra's runtime helpers, never by user code;
- `Concat(parts)` and `Json(value)`: text built from literals and Refs when the program runs
  (an S3 URI under a created bucket; a policy or pipeline definition document);
- `FileAsset(path, sha256)`: a local file the program uploads.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.frozen import SCALAR_TYPES, freeze  # noqa: F401  (freeze: re-exported for lowering)
from mlinfra.ir.addresses import Address, AddressError
from mlinfra.naming import stable_hash


@dataclass(frozen=True)
class Ref:
    """An output of another resource: `Ref("kms.key", "arn")`."""

    address: str
    attribute: str


@dataclass(frozen=True)
class Args:
    """A typed nested input, e.g. a pulumi_aws `...Args` class by its dotted name."""

    type: str
    fields: MappingProxyType


@dataclass(frozen=True)
class Call:
    """A value the program computes when it runs, by a named runtime helper."""

    function: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Concat:
    """Text joined from literal parts and Refs when the program runs: `s3://{bucket}/key`."""

    parts: tuple[Any, ...]


@dataclass(frozen=True)
class FileAsset:
    """A local file uploaded by the program (a pipeline script, a model artifact).

    `path` is relative to the spec's folder; renderers make it relative to where they write.
    `sha256` is the file's content hash, so a changed file is a changed resource. With
    `packed_as` (SageMaker script mode's `sourcedir.tar.gz`), the program uploads the file
    packed into a reproducible archive of that name rather than the file itself. With
    `content`, the file is mlinfra's own (the monitor job's code): renderers write those bytes
    into the project, beside the program, and `path` is the file's name there.
    """

    path: str
    sha256: str
    packed_as: str | None = None
    content: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Json:
    """A value passed to the resource as a JSON document (policies, pipeline definitions).

    Refs inside it are resolved when the program runs, then the whole is serialised.
    """

    value: Any


def refs_in(value: Any) -> Iterator[Ref]:
    """Every `Ref` inside a property value, in a stable order."""
    found: list[Ref] = []
    _collect(value, found, [])
    return iter(found)


def calls_in(value: Any) -> list[Call]:
    """Every `Call` inside a property value (nested ones too), in the order met."""
    found: list[Call] = []
    _collect(value, [], found)
    return found


def _collect(value: Any, refs: list[Ref], calls: list[Call]) -> None:
    """The Refs and the Calls inside a property value, in the order met, in one walk."""
    # Every resource's properties are walked once, so the exact types lowering makes are
    # recognised by `type()` first, scalars without a call; subclasses by `isinstance`.
    kind = type(value)
    if kind is MappingProxyType or kind is dict:
        values = value.values()
    elif kind is tuple or kind is list:
        values = value
    elif kind is Ref or isinstance(value, Ref):
        refs.append(value)
        return
    elif isinstance(value, MappingProxyType | dict):
        values = value.values()
    elif isinstance(value, tuple | list):
        values = value
    elif isinstance(value, Args):
        values = (value.fields,)
    elif isinstance(value, Json):
        values = (value.value,)
    elif isinstance(value, Call):
        calls.append(value)
        values = (value.args,)
    elif isinstance(value, Concat):
        values = (value.parts,)
    else:
        return
    for item in values:
        if type(item) not in SCALAR_TYPES:
            _collect(item, refs, calls)


@dataclass(frozen=True)
class Resource:
    """One physical resource to create, as the compiler decided it."""

    address: str  # `endpoint.churn-api/config`; the component's own is `endpoint.churn-api`
    type: str  # the provider's type, e.g. `aws.sagemaker.EndpointConfiguration`
    properties: MappingProxyType
    source: SourceRange | None
    depends_on: tuple[str, ...] = ()  # explicit ordering beyond the Refs in properties
    # Replace the resource (create the new one first) rather than update it in place.
    replace_on_change: bool = False
    # Holds data (buckets, feature groups, registries, keys) in a `protect: true` environment:
    # the engine must refuse to delete it.
    protect: bool = False

    @functools.cached_property
    def addr(self) -> Address:
        """The address, typed."""
        return Address.parse(self.address)

    @functools.cached_property
    def component(self) -> str:
        """The address of the spec component this resource was lowered from."""
        return str(self.addr.component)

    def dependencies(self) -> tuple[str, ...]:
        return self._walked[0]

    def calls(self) -> tuple[Call, ...]:
        """The Calls in its properties (nested ones too), in the order met."""
        return self._walked[1]

    @functools.cached_property
    def _walked(self) -> tuple[tuple[str, ...], tuple[Call, ...]]:
        # Walks every property; graph building, ordering, rendering and waiting all ask, so
        # once, for the Refs (dependencies) and the Calls together.
        refs: list[Ref] = []
        calls: list[Call] = []
        _collect(self.properties, refs, calls)
        found = dict.fromkeys(ref.address for ref in refs)
        found.update(dict.fromkeys(self.depends_on))
        found.pop(self.address, None)
        return tuple(found), tuple(calls)


@dataclass(frozen=True)
class ResourceGraph:
    """Every resource of one environment, in dependency order (dependencies first)."""

    project: str
    env: str
    target: str
    region: str
    resources: tuple[Resource, ...]
    outputs: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def get(self, address: str) -> Resource | None:
        return next((r for r in self.resources if r.address == address), None)

    def addresses(self) -> list[str]:
        return [r.address for r in self.resources]

    def of_type(self, type_name: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_name]


class GraphError(ValueError):
    """The lowering produced an inconsistent graph: a bug in mlinfra, not user input."""


def build_graph(
    project: str, env: str, target: str, region: str, resources: list[Resource], outputs=None
) -> ResourceGraph:
    """Check addresses are unique and references resolve, then order dependencies first.

    The order is deterministic: a stable topological sort that keeps the lowering's order
    among resources that do not depend on each other.
    """
    by_address: dict[str, Resource] = {}
    for resource in resources:
        try:
            resource.addr  # noqa: B018  (parsed here, so a malformed address stops lowering)
        except AddressError as error:
            raise GraphError(str(error)) from None
        if resource.address in by_address:
            raise GraphError(f"two resources at {resource.address}")
        by_address[resource.address] = resource
    for resource in resources:
        for dep in resource.dependencies():
            if dep not in by_address:
                raise GraphError(f"{resource.address} refers to missing {dep}")

    ordered: list[Resource] = []
    state: dict[str, int] = {}

    def visit(resource: Resource) -> None:
        mark = state.get(resource.address)
        if mark == 2:
            return
        if mark == 1:
            raise GraphError(f"dependency cycle through {resource.address}")
        state[resource.address] = 1
        for dep in resource.dependencies():
            visit(by_address[dep])
        state[resource.address] = 2
        ordered.append(resource)

    for resource in resources:
        visit(resource)
    return ResourceGraph(
        project, env, target, region, tuple(ordered), MappingProxyType(dict(outputs or {}))
    )


def canonical(value: Any) -> Any:
    """Plain JSON data for a property value, each marker spelled out, for hashing."""
    if isinstance(value, Ref):
        return f"ref:{value.address}.{value.attribute}"
    if isinstance(value, Args):
        return {"args": value.type, "fields": canonical(value.fields)}
    if isinstance(value, Call):
        return {"call": value.function, "args": canonical(value.args)}
    if isinstance(value, Concat):
        return {"concat": canonical(value.parts)}
    if isinstance(value, Json):
        return {"json": canonical(value.value)}
    if isinstance(value, FileAsset):
        found = {"file": value.path, "sha256": value.sha256}
        if value.content is not None:
            found["bundled"] = True  # the bytes themselves: named by their hash
        return {**found, "packed_as": value.packed_as} if value.packed_as else found
    if isinstance(value, MappingProxyType | dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [canonical(v) for v in value]
    return value


def content_hash(properties: Any) -> str:
    """An 8-hex hash of property values: equal for equal content, whatever the dict order."""
    text = json.dumps(canonical(properties), sort_keys=True, separators=(",", ":"))
    return stable_hash(text)
