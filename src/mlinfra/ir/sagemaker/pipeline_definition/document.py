"""The definition document's own shape: its format version, step names, and walking it
(every step, those inside conditions too; every `Get` a value reads)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from mlinfra.frozen import SCALAR_TYPES

VERSION = "2020-12-01"
STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")


def get_paths(value: Any) -> Iterator[str]:
    """Every `{"Get": path}` inside a value, in order."""
    found: list[str] = []
    _collect_gets(value, found)
    return iter(found)


def _collect_gets(value: Any, found: list[str]) -> None:
    # Walks every pipeline definition; scalars (most values) are skipped without a call, and
    # the exact types of frozen data are tried before the slower `isinstance(_, Mapping)`.
    kind = type(value)
    if kind is MappingProxyType or kind is dict or isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str):
                found.append(item)
            elif type(item) not in SCALAR_TYPES:
                _collect_gets(item, found)
    elif kind is tuple or kind is list or isinstance(value, list | tuple):
        for item in value:
            if type(item) not in SCALAR_TYPES:
                _collect_gets(item, found)


def all_steps(steps: Any) -> Iterator[dict]:
    """Every step of a step list, those inside conditions' branches included."""
    for step in steps if isinstance(steps, list | tuple) else ():
        yield step
        if isinstance(step, Mapping) and step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            yield from all_steps(arguments.get("IfSteps", []))
            yield from all_steps(arguments.get("ElseSteps", []))
