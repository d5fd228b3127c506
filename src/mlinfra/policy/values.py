"""Reading IR property values the way rules and compliance diffs need: nested inputs,
documents, lists; and showing and comparing them as a reader would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, canonical


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


def show(value: Any) -> str:
    """A property value as a reader would write it: Refs as `{kms.key.arn}`."""
    if isinstance(value, Ref):
        return f"{{{value.address}.{value.attribute}}}"
    if isinstance(value, Concat):
        return "".join(show(p) for p in value.parts)
    if isinstance(value, Call):
        return f"{{{value.function}({', '.join(show(a) for a in value.args)})}}"
    if isinstance(value, Json):
        return show(value.value)
    if isinstance(value, Args):
        return show(value.fields)
    if isinstance(value, FileAsset):
        return value.path
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        return ", ".join(show(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same(a: Any, b: Any) -> bool:
    """Equal as values: frozen or not, markers compared as `canonical` spells them."""
    return _key(a) == _key(b)


def _key(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, default=str)
