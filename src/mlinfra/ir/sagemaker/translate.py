"""The one translator from SageMaker API requests to `pulumi_aws` arguments, driven by tables.

Components are lowered once, to the request of the SageMaker API call that creates them
(`mlinfra.ir.requests`): the local target sends those requests as they are. The SageMaker
target gives them to `pulumi_aws`, whose resources spell the same fields in snake case,
sometimes under another name (`EndpointConfigName` is an endpoint configuration's `name`,
its `KmsKeyId` is `kms_key_arn`), with each nested structure a typed `...Args` class.

`translate` walks a request through the table of its resource type (`ir.sagemaker.fields`):
each field becomes the argument the table names, nested structures become `Args` of the
table's class, and tags (a list of `{Key, Value}` in the API) become pulumi_aws's map. The
arguments come out in the table's order, which is the order the rendered programs write
them, whatever the order the request was built in. A field the table does not know is a
bug in mlinfra (it would be lost on AWS), so it raises rather than being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, GraphError


@dataclass(frozen=True)
class Struct:
    """A request structure and the pulumi_aws input it becomes.

    `args` is the `...Args` class of a nested structure (None for a resource's own arguments);
    `fields` maps each API field to what it becomes, in the order pulumi_aws programs write
    them: a name (the value is copied), a `Nested` structure, or `TAGS`.
    """

    args: str | None
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Nested:
    """A field holding a structure (or a list of them) that becomes `...Args` values.

    With `single`, the API's list holds one structure where pulumi_aws takes that one
    structure itself (a data-quality job's `MonitoringOutputs`)."""

    name: str
    struct: Struct
    single: bool = False


@dataclass(frozen=True)
class Tags:
    """The `Tags` field: the API's `[{Key, Value}]` list, pulumi_aws's `tags` map."""

    name: str = "tags"


TAGS = Tags()


@dataclass(frozen=True)
class Table:
    """A pulumi_aws resource type, the SageMaker API operation whose request it takes, and
    that request's fields."""

    type: str
    operation: str
    struct: Struct = field(repr=False)


def nested(name: str, args: str, fields: Mapping[str, Any], single: bool = False) -> Nested:
    return Nested(name, Struct(args, MappingProxyType(dict(fields))), single)


def resource(type_: str, operation: str, fields: Mapping[str, Any]) -> Table:
    return Table(type_, operation, Struct(None, MappingProxyType(dict(fields))))


def translate(table: Table, request: Mapping[str, Any]) -> dict[str, Any]:
    """The pulumi_aws arguments of `request`, a request of `table.operation`."""
    return _fields(table.struct, request, table.type)


def _fields(struct: Struct, request: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = [key for key in request if key not in struct.fields]
    if unknown:
        raise GraphError(f"{where}: no pulumi_aws argument for {', '.join(map(repr, unknown))}")
    found: dict[str, Any] = {}
    for key, target in struct.fields.items():
        if key not in request:
            continue
        value = request[key]
        if isinstance(target, str):
            found[target] = value
        elif isinstance(target, Tags):
            found[target.name] = _tags(value, where)
        else:
            found[target.name] = _nested(target, value, f"{where}.{key}")
    return found


def _nested(target: Nested, value: Any, where: str) -> Any:
    if target.single:
        if not isinstance(value, list | tuple) or len(value) != 1:
            raise GraphError(f"{where}: pulumi_aws takes exactly one structure here")
        return _nested(Nested(target.name, target.struct), value[0], f"{where}[0]")
    if isinstance(value, list | tuple):
        return [_nested(target, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, Mapping):
        raise GraphError(f"{where}: a structure is expected, not {type(value).__name__}")
    return Args(target.struct.args, _fields(target.struct, value, where))


def _tags(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):  # already a map (the environment's own)
        return value
    try:
        return MappingProxyType({tag["Key"]: tag["Value"] for tag in value})
    except (KeyError, TypeError):
        raise GraphError(f"{where}: tags must be a list of {{Key, Value}}") from None


def untranslate(table: Table, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The request `arguments` were translated from: `translate` read backwards, so readers
    of the IR see a SageMaker resource in the API's spelling whichever target made it."""
    return _request(table.struct, arguments)


def _request(struct: Struct, arguments: Mapping[str, Any]) -> dict[str, Any]:
    keys = {_argument(target): (key, target) for key, target in struct.fields.items()}
    found: dict[str, Any] = {}
    for name, value in arguments.items():
        if name not in keys:  # not made by the translator: kept as it is
            found[name] = value
            continue
        key, target = keys[name]
        if isinstance(target, str):
            found[key] = value
        elif isinstance(target, Tags):
            found[key] = (
                [{"Key": k, "Value": v} for k, v in value.items()]
                if isinstance(value, Mapping)
                else value
            )
        elif target.single:
            found[key] = [_structure(target.struct, value)]
        elif isinstance(value, list | tuple):
            found[key] = [_structure(target.struct, item) for item in value]
        else:
            found[key] = _structure(target.struct, value)
    return found


def _structure(struct: Struct, value: Any) -> Any:
    if isinstance(value, Args):
        return _request(struct, value.fields)
    if isinstance(value, Mapping):
        return _request(struct, value)
    return value


def _argument(target: Any) -> str:
    return target if isinstance(target, str) else target.name
