"""Versioned JSON documents (state files, saved plans): checked against their schema on read."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

# How deep a document's lists and maps may nest: mlinfra's own reach about 20 (a pipeline's
# request); a deeper one is corrupt, and would exhaust the recursion of everything reading it.
MAX_DEPTH = 100


@functools.cache
def validator(schema: str):
    """The validator of `mlinfra/schemas/<schema>`."""
    from jsonschema import Draft202012Validator

    text = resources.files("mlinfra").joinpath(f"schemas/{schema}").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def first_error(data: Any, schema: str) -> str | None:
    """The most telling way `data` breaks the schema, with where; None when it does not."""
    from jsonschema.exceptions import best_match

    error = best_match(validator(schema).iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the document"
    return f"at {where}: {error.message}"


def parse(
    text: str,
    where: str,
    *,
    what: str,
    schema: str,
    supported: int,
    error: type[Exception],
    remedy: str,
    newer_remedy: str,
) -> dict:
    """The checked data of a `what` document (state, plan) read from `where`, or `error`
    with a message that names it and says what went wrong and what to do."""
    if not text.strip():
        raise error(f"{where}: the {what} file is empty (truncated?); {remedy}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{where}: the {what} file is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}; corrupt or truncated?); {remedy}"
        ) from None
    except RecursionError:
        data = None  # nested past what the parser can follow: refused just below
    if data is None or depth(data) > MAX_DEPTH:
        raise error(
            f"{where}: the {what} file nests lists and maps more than {MAX_DEPTH} deep, which "
            f"mlinfra never writes (corrupt?); {remedy}"
        )
    version = newer_version(data, supported)
    if version is not None:
        raise error(
            f"{where}: the {what} has format version {version}, newer than this mlinfra reads "
            f"({supported}); {newer_remedy}"
        )
    problem = first_error(data, schema)
    if problem is not None:
        raise error(f"{where}: not a valid mlinfra {what}: {problem}; {remedy}")
    return data


def depth(data: Any) -> int:
    """How deep lists and maps nest in `data` (a scalar is 0), counted without recursion."""
    deepest = 0
    stack = [(data, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                break
            stack.extend(
                (item, level) for item in (value.values() if isinstance(value, dict) else value)
            )
    return deepest


def newer_version(data: Any, supported: int) -> int | None:
    """The document's `format_version` when it is newer than `supported`."""
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > supported:
        return version
    return None
