"""IR property values -> the plain data a provider takes, once what they wait on is known.

A `Ref` becomes the output of the resource it names, a `Call` the value its function
computes when applying, a `Concat` the joined text; frozen maps and tuples become dicts and
lists. a `Json` document the JSON text of its resolved value, with sorted keys (as rendered programs
write it). `Args` and `FileAsset` belong to the SageMaker target's programs and never appear
in a local graph.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mlinfra.ir.graph import Call, Concat, Json, Ref


class UnresolvedValue(ValueError):
    """A value a local provider cannot take: a bug in the lowering."""


def resolve(
    value: Any,
    output: Callable[[Ref], Any],
    call: Callable[[str, tuple[Any, ...]], Any],
) -> Any:
    if isinstance(value, Ref):
        return output(value)
    if isinstance(value, Call):
        return call(value.function, tuple(resolve(a, output, call) for a in value.args))
    if isinstance(value, Json):
        return json.dumps(resolve(value.value, output, call), sort_keys=True)
    if isinstance(value, Concat):
        return "".join(str(resolve(part, output, call)) for part in value.parts)
    if isinstance(value, Mapping):
        return {str(k): resolve(v, output, call) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [resolve(v, output, call) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UnresolvedValue(f"a local resource cannot take {type(value).__name__} values")
