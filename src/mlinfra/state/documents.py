"""Versioned JSON documents (state files, saved plans): checked against their schema on read."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


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


def newer_version(data: Any, supported: int) -> int | None:
    """The document's `format_version` when it is newer than `supported`."""
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > supported:
        return version
    return None
