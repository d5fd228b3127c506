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
# The exact scalar types: `type(value) in SCALAR_TYPES` is the quick test for the values
# that code walking frozen data can skip (a subclass is not in it, and takes the long way).
SCALAR_TYPES = frozenset(_SCALARS)


def freeze(value: Any) -> Any:
    # This runs once per value of every resource, so the exact types lowering makes are
    # recognised by `type()`, and scalars are returned without a call; subclasses take the
    # `isinstance` way below.
    kind = type(value)
    if kind in SCALAR_TYPES:
        return value
    if kind is dict or kind is MappingProxyType:
        # A read-only view of a fresh copy: whoever holds the original dict cannot change it.
        return MappingProxyType(
            {k: v if type(v) in SCALAR_TYPES else freeze(v) for k, v in value.items()}
        )
    if kind is tuple or kind is list:
        return tuple([v if type(v) in SCALAR_TYPES else freeze(v) for v in value])
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict | MappingProxyType):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if hasattr(kind, "__dataclass_fields__"):  # an IR marker (a dataclass instance)
        names, immutable, positional = _fields(kind)
        fields = [getattr(value, name) for name in names]
        frozen = [freeze(field) for field in fields]
        if immutable and all(new is old for new, old in zip(frozen, fields, strict=True)):
            return value  # a frozen dataclass of frozen values (a Ref, say): nothing to copy
        if positional:  # what dataclasses.replace does, without its checks per call
            return kind(*frozen)
        return dataclasses.replace(value, **dict(zip(names, frozen, strict=True)))
    return value


@functools.cache
def _fields(kind: type) -> tuple[tuple[str, ...], bool, bool]:
    """A dataclass's field names, whether its instances are frozen, and whether its
    constructor takes every field, positionally and in order."""
    fields = dataclasses.fields(kind)
    positional = len(fields) == len(kind.__dataclass_fields__) and all(  # no InitVar
        f.init and not f.kw_only for f in fields
    )
    return tuple(f.name for f in fields), kind.__dataclass_params__.frozen, positional


def thaw(value: Any) -> Any:
    """A plain, mutable copy of frozen data (for JSON output)."""
    if isinstance(value, MappingProxyType | dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
