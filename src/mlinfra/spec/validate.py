"""Validation end to end: file -> node tree -> schema (and its defaults) -> per-environment
typed specs and their checks -> EnvSpecs.

`validate_file` never raises for bad input: whatever the bytes, the answer is a `Validation`
whose diagnostics say what is wrong and where.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from mlinfra.allocation import without_collector
from mlinfra.diagnostics import (
    Diagnostic,
    Position,
    SourceRange,
    error,
    has_errors,
    merge_environments,
)
from mlinfra.ir.sagemaker.problems import lowering_diagnostics
from mlinfra.spec import schema
from mlinfra.spec.build import build_env_spec
from mlinfra.spec.checks import CheckContext, run_checks
from mlinfra.spec.checks.paths import files_remembered
from mlinfra.spec.model import EnvSpec
from mlinfra.spec.resolve import (
    COMPONENT_SECTIONS,
    Resolved,
    environment_names,
    overridden_only,
    resolve,
    resolve_preview,
)
from mlinfra.syntax.loader import MAX_FILE_BYTES, parse_bytes, parse_text
from mlinfra.syntax.nodes import Document, Mapping


@dataclass(frozen=True)
class Validation:
    """What validating a spec found: the document, each environment's spec, diagnostics."""

    document: Document | None
    environments: dict[str, EnvSpec] = field(default_factory=dict)
    preview: EnvSpec | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def _file_error(path: Path, summary: str, suggestion: str | None = None) -> Validation:
    where = SourceRange(str(path), Position(1, 1), Position(1, 1))
    return Validation(None, diagnostics=[error("file", summary, where, suggestion=suggestion)])


# What a path that is not a regular file is, as `stat` tells it.
_NOT_FILES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def validate_file(path: str | Path, environments: Collection[str] | None = None) -> Validation:
    """Validate the spec at `path`: the whole document, and each environment and the preview.

    `environments` (optional) limits the per-environment checks to these, for a command that
    uses only them (render, plan, audit); the document is checked whole all the same. When one
    of them is not an environment of the spec, every environment is checked, so the error
    that follows names them all.
    """
    path = Path(path)
    try:
        # Non-blocking, so that opening a named pipe nobody writes to returns at once
        # instead of hanging; what was opened is then checked to be a regular file.
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return _file_error(path, f"{path} does not exist", "pass the spec with -f FILE")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        return _file_error(path, f"{path} cannot be read: {getattr(exc, 'strerror', exc)}")
    try:
        mode = os.fstat(handle).st_mode
        for test, kind in _NOT_FILES:
            if test(mode):
                return _file_error(
                    path, f"{path} is {kind}, not a file", "pass the spec file itself"
                )
        data = _read(handle, MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _file_error(path, f"{path} cannot be read: {exc.strerror}")
    finally:
        os.close(handle)
    document, diagnostics = parse_bytes(data, str(path))
    return _validate(document, diagnostics, path.resolve().parent, environments)


def _read(handle: int, limit: int) -> bytes:
    """Up to `limit` bytes of an open regular file."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(handle, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def validate_text(
    text: str, filename: str = "mlinfra.yaml", spec_dir: Path | None = None
) -> Validation:
    document, diagnostics = parse_text(text, filename)
    return _validate(document, diagnostics, spec_dir)


@without_collector
def _validate(
    document: Document | None,
    found: list[Diagnostic],
    spec_dir: Path | None,
    only: Collection[str] | None = None,
) -> Validation:
    if document is None or has_errors(found):
        return Validation(document, diagnostics=found)
    values, problems = schema.validate(document.root, document.filename)
    found = found + problems
    if has_errors(found) or not isinstance(document.root, Mapping):
        return Validation(document, diagnostics=merge_environments(found))

    root = document.root
    names = environment_names(root)
    views = [resolve(root, env) for env in names]
    preview_view = resolve_preview(root)
    if preview_view is not None:
        views.append(preview_view)
    # A problem found in every view is the document's, shown without environments; with only
    # some views checked, each keeps the environment it was found in.
    everywhere = tuple(view.name for view in views)
    if only is not None and set(only) <= set(names):
        views = [view for view in views if view.name in only and not view.is_preview]

    specs: dict[str, EnvSpec] = {}
    preview: EnvSpec | None = None
    with files_remembered():  # every environment names the same files
        for view in views:
            env_spec, env_found = check_environment(root, view, spec_dir, values)
            found.extend(d.in_environment(view.name) for d in env_found)
            if env_spec is None:
                continue
            if view.is_preview:
                preview = env_spec
            else:
                specs[view.name] = env_spec
    return Validation(document, specs, preview, merge_environments(found, everywhere))


def check_environment(
    root: Mapping, view: Resolved, spec_dir: Path | None, values: dict | None = None
) -> tuple[EnvSpec | None, list[Diagnostic]]:
    """The typed spec of one environment (None when its overrides broke it) and what its
    checks found. `values` are the document's with the schema's defaults filled in, as
    `schema.validate` gives them (validated again when not given)."""
    if values is None:
        values, _ = schema.validate(root, view.tree.range.filename)
    # What the overrides changed is validated (and filled) again; every other component is
    # the document's own, validated and filled once for all environments.
    changed, merged_problems = schema.validate(
        overridden_only(root, view), view.tree.range.filename
    )
    if has_errors(merged_problems):
        return None, merged_problems
    resolved = dict(values)
    for section in COMPONENT_SECTIONS:
        if section in changed:
            resolved[section] = {**values[section], **changed[section]}
    env_spec = build_env_spec(resolved, view.tree, view.name, view.settings_from, view.is_preview)
    ctx = CheckContext(view, root, spec_dir, env_spec)
    return env_spec, run_checks(ctx) + lowering_diagnostics(env_spec, spec_dir)
