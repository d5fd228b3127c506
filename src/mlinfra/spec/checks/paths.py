"""Local paths the spec names stay inside the spec's folder.

A spec is data that may come from anyone who can open a branch, and mlinfra acts on the files
it names: the SageMaker target uploads `artifact:`, scripts and input data to S3, the local
emulator reads them. A path that leaves the spec's folder (absolute elsewhere, `../`, or a
symlink in the project that resolves out) would make `artifact: /proc/self/environ` a route to
publish the machine's secrets from a preview of an untrusted branch, so it is an error where
it is written, whatever the target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from mlinfra.diagnostics import Diagnostic, error
from mlinfra.spec.checks.context import CheckContext

Place = tuple[tuple[str | int, ...], str]


def local_files(ctx: CheckContext) -> Iterator[Place]:
    """Every file the spec names that mlinfra reads: (where, path as written); S3 left out."""
    places: list[Place] = []
    for name, store in ctx.components("feature_stores"):
        if "source" in store:
            places.append((("feature_stores", name, "source"), store["source"]))
    for name, model in ctx.components("models"):
        if "artifact" in model:
            places.append((("models", name, "artifact"), model["artifact"]))
    for name, pipeline in ctx.components("pipelines"):
        for step, body in pipeline["steps"].items():
            for field in ("script", "entry_point"):
                if field in body:
                    places.append((("pipelines", name, "steps", step, field), body[field]))
    for name, monitor in ctx.components("monitors"):
        places.append((("monitors", name, "baseline"), monitor["baseline"]))
    yield from ((where, value) for where, value in places if not _remote(value))


def local_paths(ctx: CheckContext) -> Iterator[Place]:
    """`local_files`, the local data steps read, and a local state folder."""
    yield from local_files(ctx)
    for name, pipeline in ctx.components("pipelines"):
        steps = pipeline["steps"]
        for step, body in steps.items():
            for i, text in enumerate(body.get("inputs", [])):
                if _local_input(text, steps):
                    yield ("pipelines", name, "steps", step, "inputs", i), text
    state = ctx.data.get("state")
    if isinstance(state, str) and not _remote(state):
        yield ("state",), state


def check_paths_inside_project(ctx: CheckContext) -> Iterator[Diagnostic]:
    for where, value in local_paths(ctx):
        problem = outside(ctx.spec_dir, value)
        if problem is not None:
            yield error(
                "path-outside-project",
                f"{value!r} {problem}, outside the spec's folder",
                ctx.at(*where),
                detail="mlinfra reads, uploads and serves only files of the project: a path "
                "out of it could publish any file of this machine",
                suggestion="copy the file into the project and name it relative to the spec, "
                "or use an s3:// location",
            )


def outside(spec_dir: Path | None, value: str) -> str | None:
    """How `value` leaves `spec_dir` ("is absolute", "climbs out with ..", "resolves to
    ..."), or None when it stays inside. Without a folder (a spec given as text), only what
    the text itself shows can be judged."""
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


def _local_input(text: str, steps: dict[str, Any]) -> bool:
    # As the lowering reads `inputs:`: S3, a feature store, an earlier step's output, or else
    # a local path.
    head, dot, rest = text.partition(".")
    if _remote(text) or (head == "feature_store" and dot):
        return False
    return not (head in steps and dot and rest)


CHECKS = (check_paths_inside_project,)
