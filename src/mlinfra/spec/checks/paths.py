"""Local paths the spec names stay inside the spec's folder.

A spec is data that may come from anyone who can open a branch, and mlinfra acts on the files
it names: the SageMaker target uploads `artifact:`, scripts and input data to S3, the local
emulator reads them. A path that leaves the spec's folder (absolute elsewhere, `../`, or a
symlink in the project that resolves out) would make `artifact: /proc/self/environ` a route to
publish the machine's secrets from a preview of an untrusted branch, so it is an error where
it is written, whatever the target.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from collections.abc import Mapping as MappingOf
from contextvars import ContextVar
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.model import ProcessingStep, TrainingStep

# Where a path is written (found only when there is a problem to report: looking up the range
# of every path of a large spec in every environment cost a quarter of the checks), and the
# path as written.
Place = tuple[Callable[[], SourceRange], str]


def local_files(ctx: CheckContext) -> Iterator[Place]:
    """Every file the spec names that mlinfra reads: (where, path as written); S3 left out."""
    spec = ctx.spec
    places: list[Place] = []
    for store in spec.feature_stores.values():
        if store.source is not None:
            places.append((partial(store.range_of, "source"), store.source))
    for model in spec.models.values():
        if model.artifact is not None:
            places.append((partial(model.range_of, "artifact"), model.artifact))
    for pipeline in spec.pipelines.values():
        for step in pipeline.steps.values():
            if isinstance(step, ProcessingStep):
                places.append((partial(step.range_of, "script"), step.script))
            elif isinstance(step, TrainingStep):
                places.append((partial(step.range_of, "entry_point"), step.entry_point))
    for monitor in spec.monitors.values():
        if monitor.baseline is not None:
            places.append((partial(monitor.range_of, "baseline"), monitor.baseline))
    yield from ((where, value) for where, value in places if not _remote(value))


def local_paths(ctx: CheckContext) -> Iterator[Place]:
    """`local_files`, the local data steps read, and a local state folder."""
    yield from local_files(ctx)
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            for i, text in enumerate(step.reads()):
                if _local_input(text, pipeline.steps):
                    yield partial(step.range_of, "inputs", i), text
    for monitor in ctx.spec.monitors.values():
        # A folder labels arrive in while the endpoint serves: it need not exist yet.
        if monitor.quality is not None and not _remote(monitor.quality.ground_truth):
            yield partial(monitor.range_of, "ground_truth"), monitor.quality.ground_truth
    for job in ctx.spec.batch_jobs.values():
        # What a batch job scores and where it writes its scores.
        if not _remote(job.input) and not job.input.startswith("feature_store."):
            yield partial(job.range_of, "input"), job.input
        if job.output is not None and not _remote(job.output):
            yield partial(job.range_of, "output"), job.output
    if not _remote(ctx.spec.state):
        yield partial(ctx.at, "state"), ctx.spec.state


def check_paths_inside_project(ctx: CheckContext) -> Iterator[Diagnostic]:
    for where, value in local_paths(ctx):
        problem = outside(ctx.spec_dir, value)
        if problem is not None:
            yield error(
                "path-outside-project",
                f"{value!r} {problem}, outside the spec's folder",
                where(),
                detail="mlinfra reads, uploads and serves only files of the project: a path "
                "out of it could publish any file of this machine",
                suggestion="copy the file into the project and name it relative to the spec, "
                "or use an s3:// location",
            )


# What the file system answered during one validation (`files_remembered`): every environment
# names the same few files (a script per pipeline step, a baseline per monitor), and asking
# again for each of a thousand components in four environments was half of the checks' time.
# Scoped to one validation, so that a file made between two validations is seen.
_remembered: ContextVar[dict | None] = ContextVar("remembered_files", default=None)


@contextlib.contextmanager
def files_remembered() -> Iterator[None]:
    """Within this block, each question about a file is asked of the file system once."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _remember(key: tuple, ask: Callable[[], Any]) -> Any:
    memo = _remembered.get()
    if memo is None:
        return ask()
    if key not in memo:
        memo[key] = ask()
    return memo[key]


def exists(folder: Path, relative: str) -> bool:
    """Whether `relative` exists in `folder`; a name the file system refuses (too long) does
    not."""
    return _remember(("exists", folder, relative), lambda: _exists(folder / Path(relative)))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system (ENAMETOOLONG): no such file
        return False


def outside(spec_dir: Path | None, value: str) -> str | None:
    """How `value` leaves `spec_dir` ("is absolute", "climbs out with ..", "resolves to
    ..."), or None when it stays inside. Without a folder (a spec given as text), only what
    the text itself shows can be judged."""
    return _remember(("outside", spec_dir, value), lambda: _outside(spec_dir, value))


def _outside(spec_dir: Path | None, value: str) -> str | None:
    pure = PurePosixPath(value.removeprefix("file:"))
    if pure.is_absolute() or Path(value).is_absolute():
        if spec_dir is None or not _inside(Path(value), spec_dir):
            return "is an absolute path"
    depth = 0
    for part in pure.parts:
        depth += -1 if part == ".." else 0 if part in (".", "/") else 1
        if depth < 0:
            return "climbs out with '..'"
    if spec_dir is None:
        return None
    try:
        resolved = (spec_dir / value).resolve()
    except (OSError, RuntimeError, ValueError):
        return None  # unreadable or a link loop: the missing-file check speaks of it
    if not resolved.is_relative_to(spec_dir.resolve()):
        return f"is a link that resolves to {resolved}"
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def _remote(value: Any) -> bool:
    return not isinstance(value, str) or "://" in value


def _local_input(text: str, steps: MappingOf[str, Any]) -> bool:
    # As the lowering reads `inputs:`: S3, a feature store, an earlier step's output, or else
    # a local path.
    head, dot, rest = text.partition(".")
    if _remote(text) or (head == "feature_store" and dot):
        return False
    return not (head in steps and dot and rest)


CHECKS = (check_paths_inside_project,)
