"""Reading IR property values the way every rule needs: nested inputs, documents, lists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlinfra.ir.graph import Args, Json


def fields(value: Any) -> Mapping[str, Any]:
    """The fields of a typed nested input or a plain map; nothing for anything else."""
    if isinstance(value, Args):
        return value.fields
    return value if isinstance(value, Mapping) else {}


def json_document(value: Any) -> Any:
    """A JSON document property as data: a `Json` marker's value, or JSON text parsed (a
    document written as text by hand); anything else as it is."""
    if isinstance(value, Json):
        return value.value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def as_tuple(value: Any) -> tuple[Any, ...]:
    """A policy element that may be one value or a list of them, as a tuple."""
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)
