"""Deep-frozen plain data: read-only maps and tuples, so no later stage can mutate a value.

Frozen dataclasses (the IR's markers) are frozen field by field, so a map inside an `Args`
is read-only too.
"""

from __future__ import annotations

import dataclasses
import functools
from types import MappingProxyType
from typing import Any

_SCALARS = (str, int, float, bool, type(None))


def freeze(value: Any) -> Any:
    if isinstance(value, _SCALARS):  # most values: answered first, since this runs per value
        return value
    if isinstance(value, dict | MappingProxyType):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if hasattr(type(value), "__dataclass_fields__"):  # an IR marker (a dataclass instance)
        changes = {name: freeze(getattr(value, name)) for name in _field_names(type(value))}
        return dataclasses.replace(value, **changes)
    return value


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def thaw(value: Any) -> Any:
    """A plain, mutable copy of frozen data (for JSON output)."""
    if isinstance(value, MappingProxyType | dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
